# SPDX-License-Identifier: GPL-2.0-or-later
# Helpers shared by the benchmarks that drive vpsd (bench/api,
# bench/oversell): the release build under the build lock, a private vpsd
# in a directory of its own, and its API over the unix socket with curl.
# Sourced after scripts/lib.sh; sets `top`.

# bench_build TARGET...: the release build (build/), under the lock every
# builder of this tree takes, so that two benchmarks or a test run never
# run ninja in the same directory at once
bench_build() {
	[ -f "$top/build/build.ninja" ] ||
		flock /tmp/vps-build.lock meson setup "$top/build" "$top" --buildtype=release >&2
	flock /tmp/vps-build.lock ninja -C "$top/build" "$@" >&2
}

# bench_vpsd_start DIR [vpsd options...]: a private vpsd with DIR/data,
# DIR/run, its socket DIR/run/vpsd.sock, its log DIR/vpsd.log; waits until
# it answers. Sets vpsd_pid and vpsd_sock.
bench_vpsd_start() {
	local dir=$1 i
	shift
	vpsd_sock=$dir/run/vpsd.sock
	"$top/build/src/host/vpsd" --data "$dir/data" --run "$dir/run" "$@" >>"$dir/vpsd.log" 2>&1 &
	vpsd_pid=$!
	for i in $(seq 200); do
		[ -S "$vpsd_sock" ] && curl -sf --unix-socket "$vpsd_sock" -o /dev/null \
			http://vpsd/api/v1/vps && return 0
		kill -0 "$vpsd_pid" 2>/dev/null || { tail -5 "$dir/vpsd.log" >&2; return 1; }
		sleep 0.05
	done
	echo "vpsd did not answer: $(tail -3 "$dir/vpsd.log")" >&2
	return 1
}

bench_vpsd_stop() {
	[ -n "${vpsd_pid:-}" ] || return 0
	kill -TERM "$vpsd_pid" 2>/dev/null || true
	wait "$vpsd_pid" 2>/dev/null || true
	vpsd_pid=
}

# api METHOD PATH [BODY]: the body of the answer on stdout; fails (with the
# answer on stderr) unless the status is 2xx
api() {
	local out status body=()
	[ $# -lt 3 ] || body=(-H 'Content-Type: application/json' --data-binary "$3")
	out=$(curl -s --unix-socket "$vpsd_sock" -X "$1" -w '\n%{http_code}' "${body[@]}" \
		"http://vpsd/api/v1$2") || return 1
	status=${out##*$'\n'}
	out=${out%$'\n'*}
	case $status in 2??) printf '%s\n' "$out" ;; *)
		echo "$1 $2: $status $out" >&2
		return 1 ;;
	esac
}

# destroy every VPS of this vpsd (force-stopping the running ones)
bench_vpsd_destroy_all() {
	local n
	for n in $(api GET /vps | python3 -c 'import json,sys; print(" ".join(v["name"] for v in json.load(sys.stdin)))'); do
		api POST "/vps/$n/stop" '{"force": true, "timeout": 1}' >/dev/null 2>&1 || true
		api DELETE "/vps/$n" >/dev/null || echo "destroy $n failed" >&2
	done
}

# the figures of a list of numbers, one a line on stdin: "median min max"
bench_stats() {
	python3 -c '
import statistics, sys
v = [float(x) for x in sys.stdin.read().split()]
print(statistics.median(v), min(v), max(v))'
}
