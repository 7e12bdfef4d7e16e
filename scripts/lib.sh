# SPDX-License-Identifier: GPL-2.0-or-later
# Shared by scripts/demo and scripts/test: install what is missing, build.
# Sourced, not run. Everything here is idempotent and quick when done already.

VPS_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Debian packages the project needs to build, test and run. Why each is here: README.md.
VPS_PACKAGES=(
	build-essential meson ninja-build pkg-config clang-format clang libclang-rt-14-dev
	libcmocka-dev python3-pytest python3-jsonschema python3-websocket python3-prometheus-client
	libjansson-dev libseccomp-dev libfuse3-dev
	qemu-system-x86 qemu-utils seabios ovmf isolinux syslinux-common debian-installer-12-netboot-amd64
	busybox-static e2fsprogs xfsprogs btrfs-progs cpio kmod zstd xz-utils acpica-tools
	libcap-dev debootstrap lxcfs libcrypt-dev xorriso libarchive-dev umoci grub-pc-bin
	libsqlite3-dev libmicrohttpd-dev libcurl4-gnutls-dev libgnutls28-dev libsodium-dev
	liboath-dev oathtool
	libpq-dev postgresql-15 openssl criu
	nftables iperf3 iputils-ping gdb liburing-dev sshfs openssh-sftp-server
	restic borgbackup
	debhelper
	chromium nodejs
)

# Install the packages that are not installed yet; apt-get update only when needed.
vps_ensure_packages() {
	local missing=() p
	for p in "${VPS_PACKAGES[@]}" "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null || return 1
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null || return 1
}

# vps_build DIR [meson options...]: configure once, then ninja.
vps_build() {
	local dir=$1
	shift
	if [ ! -f "$VPS_TOP/$dir/build.ninja" ]; then
		meson setup "$VPS_TOP/$dir" "$VPS_TOP" "$@" >/dev/null || return 1
	fi
	ninja -C "$VPS_TOP/$dir" >/dev/null || ninja -C "$VPS_TOP/$dir"
}

# lxcfs (docs/ct-sysinfo.md, "/proc from lxcfs"): the containers' /proc/meminfo,
# cpuinfo, uptime and friends. Debian's lxcfs.service starts it where systemd
# runs; where it does not (CI, a container, after a reboot without systemd),
# start it here, detached, and wait until it answers. lxcfs 5 stays in the
# foreground whatever its flags (-d is debug output, not daemon).
VPS_LXCFS=/var/lib/lxcfs
vps_ensure_lxcfs() {
	local dir=$VPS_LXCFS log=/var/log/vps-lxcfs.log i pid=
	head -c1 "$dir/proc/meminfo" >/dev/null 2>&1 && return 0
	command -v lxcfs >/dev/null || { echo "lxcfs: not installed"; return 1; }
	[ -c /dev/fuse ] || { echo "lxcfs: no /dev/fuse"; return 1; }
	# a dead lxcfs leaves its mount: "Transport endpoint is not connected"
	grep -q " $dir fuse.lxcfs " /proc/self/mounts && umount -l "$dir"
	mkdir -p "$dir"
	for i in $(seq 100); do
		# (again) when it exited: an lxcfs still exiting holds /run/lxcfs.pid.
		# loadavg and the CPU view from cpu.cfs_quota_us are off unless asked for.
		if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
			setsid lxcfs --enable-loadavg --enable-cfs "$dir" </dev/null >>"$log" 2>&1 &
			pid=$!
		fi
		sleep 0.1
		head -c1 "$dir/proc/meminfo" >/dev/null 2>&1 && return 0
	done
	kill "$pid" 2>/dev/null
	echo "lxcfs: did not come up at $dir; the end of $log:"
	tail -n 5 "$log"
	return 1
}
