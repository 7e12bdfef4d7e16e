# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
# Shared by the artefact scripts in tests/guest (mkkernel, mkinitramfs,
# mkrootfs, mkl1): the cache layout, content hashing, locking, and the one
# module-dependency resolver. Sourced, not run.
#
# Every artefact lives under $VPS_TEST_CACHE (default /var/cache/vps-test),
# named by a hash of everything that went into it, so a re-run with the same
# inputs only prints the path. Builds happen in a temporary directory next to
# the result and are renamed into place, so an interrupted build leaves no
# half-made artefact behind.

VT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VT_CACHE=${VPS_TEST_CACHE:-/var/cache/vps-test}

vt_die() {
	echo "$(basename "$0"): $*" >&2
	exit 1
}

vt_log() {
	[ -n "${VPS_TEST_QUIET:-}" ] || echo "$(basename "$0"): $*" >&2
}

# vt_lock NAME: hold an exclusive lock for the rest of the script, so two
# test runs building the same artefact wait for each other.
vt_lock() {
	mkdir -p "$VT_CACHE"
	exec {vt_lock_fd}>"$VT_CACHE/.lock-$1"
	flock "$vt_lock_fd"
}

# vt_hash [WORD|/FILE]...: one sha256 over the words given and the contents
# of those that are absolute paths of files; the scripts themselves are always
# part of it.
vt_hash() {
	{
		sha256sum "$VT_DIR/lib.sh" "$0" | cut -d' ' -f1
		local a
		for a in "$@"; do
			if [[ $a == /* && -f $a ]]; then
				sha256sum "$a" | cut -d' ' -f1
			else
				printf '%s\n' "$a"
			fi
		done
	} | sha256sum | cut -d' ' -f1
}

# vt_kernel_dir: the unpacked kernel from mkkernel (cached, so quick).
vt_kernel_dir() {
	VPS_TEST_QUIET=1 "$VT_DIR/mkkernel"
}

# vt_resolve_modules KDIR NAME...: print the .ko paths (relative to the
# modules directory) that NAME... need, dependencies first, each once.
# Names may use - or _; a module built into the kernel is skipped; an
# unknown one is an error.
vt_resolve_modules() {
	local kdir=$1
	shift
	local mdir
	mdir=$(echo "$kdir"/lib/modules/*)
	[ -f "$mdir/modules.dep" ] || vt_die "no modules.dep in \`$mdir\`"
	/usr/bin/python3 - "$mdir" "$@" <<'PY'
import os, re, sys

mdir, names = sys.argv[1], sys.argv[2:]
canon = lambda n: n.replace("-", "_")
deps, byname = {}, {}
with open(os.path.join(mdir, "modules.dep")) as f:
    for line in f:
        path, _, rest = line.partition(":")
        deps[path] = rest.split()
        base = re.sub(r"\.ko(\.(xz|zst|gz))?$", "", os.path.basename(path))
        byname[canon(base)] = path
builtin = set()
try:
    with open(os.path.join(mdir, "modules.builtin")) as f:
        for line in f:
            builtin.add(canon(re.sub(r"\.ko$", "", os.path.basename(line.strip()))))
except FileNotFoundError:
    pass

order, seen = [], set()

def visit(path, stack):
    if path in seen:
        return
    if path in stack:
        sys.exit(f"module dependency loop at {path}")
    for d in deps[path]:
        visit(d, stack + [path])
    seen.add(path)
    order.append(path)

for n in names:
    c = canon(n)
    if c in byname:
        visit(byname[c], [])
    elif c not in builtin:
        sys.exit(f"module {n}: not in modules.dep nor modules.builtin")
print("\n".join(order))
PY
}

# vt_install_modules KDIR DEST NAME...: copy NAME... and their dependencies
# into DEST/lib/modules/VERSION, decompressed unless the kernel decompresses
# itself, and write DEST/modules.order (one path a line, load order) for the
# test init, which loads them with finit_module.
vt_install_modules() {
	local kdir=$1 dest=$2
	shift 2
	local mdir ver decompress=1 rel out
	mdir=$(echo "$kdir"/lib/modules/*)
	ver=$(basename "$mdir")
	grep -qx 'CONFIG_MODULE_DECOMPRESS=y' "$kdir/config" && decompress=0
	mkdir -p "$dest/lib/modules/$ver"
	: >"$dest/modules.order"
	rel=$(vt_resolve_modules "$kdir" "$@") || exit 1
	for rel in $rel; do
		out="$dest/lib/modules/$ver/$rel"
		mkdir -p "$(dirname "$out")"
		case "$rel" in
		*.ko.xz) if [ $decompress = 1 ]; then out=${out%.xz}; xz -dc "$mdir/$rel" >"$out"; else cp "$mdir/$rel" "$out"; fi ;;
		*.ko.zst) if [ $decompress = 1 ]; then out=${out%.zst}; zstd -qdc "$mdir/$rel" >"$out"; else cp "$mdir/$rel" "$out"; fi ;;
		*.ko.gz) if [ $decompress = 1 ]; then out=${out%.gz}; gzip -dc "$mdir/$rel" >"$out"; else cp "$mdir/$rel" "$out"; fi ;;
		*) cp "$mdir/$rel" "$out" ;;
		esac
		echo "${out#"$dest"}" >>"$dest/modules.order"
	done
}

# vt_busybox DEST: a static busybox at DEST/bin/busybox with its applets
# linked in DEST/bin, as the guests' shell and tools.
vt_busybox() {
	local dest=$1 bb
	bb=$(command -v busybox) || vt_die "busybox not found (Debian package busybox-static)"
	! command -v file >/dev/null || ! file -L "$bb" | grep -q 'dynamically linked' ||
		vt_die "\`$bb\` is not static (Debian package busybox-static)"
	mkdir -p "$dest/bin" "$dest/sbin"
	cp "$bb" "$dest/bin/busybox"
	local a
	for a in $("$bb" --list); do
		[ -e "$dest/bin/$a" ] || ln -s busybox "$dest/bin/$a"
	done
}

# vt_cpio DIR OUT: DIR as a gzip-compressed newc cpio archive, files sorted and
# owned by root so the same tree gives the same bytes.
vt_cpio() {
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort |
		cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -n -6 >"$2"
}

# vt_init_binary: the test init, from $VPS_INIT or the build directory.
vt_init_binary() {
	local p=${VPS_INIT:-${VPS_BUILD:-$VT_DIR/../../build-test}/tests/guest/vps-init}
	[ -x "$p" ] || vt_die "test init \`$p\` not built (ninja -C \$VPS_BUILD, or set VPS_INIT)"
	echo "$p"
}

# vt_prune GLOB [KEEP]: delete all but the KEEP (default 6) newest files
# matching GLOB, so rebuilding the init does not grow the cache without end.
vt_prune() {
	local keep=${2:-6}
	# shellcheck disable=SC2086,SC2012 # GLOB is meant to expand; names are hashes
	ls -1t $1 2>/dev/null | tail -n +"$((keep + 1))" | xargs -r rm -f --
}
