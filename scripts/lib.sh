# SPDX-License-Identifier: GPL-2.0-or-later
# Shared by scripts/demo and scripts/test: install what is missing, build.
# Sourced, not run. Everything here is idempotent and quick when done already.

VPS_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Debian packages the project needs to build, test and run. Why each is here: README.md.
VPS_PACKAGES=(
	build-essential meson ninja-build pkg-config clang-format
	libcmocka-dev python3-pytest libjansson-dev libseccomp-dev
	qemu-system-x86 qemu-utils seabios
	busybox-static e2fsprogs cpio kmod zstd xz-utils acpica-tools
	libcap-dev debootstrap
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
