# SPDX-License-Identifier: GPL-2.0-or-later
"""The OS templates of the `ct` kind (src/ct/templates/mktemplate,
docs/ct-templates.md): each is built (or found in the cache), unpacked into
a bundle and run with the real vps-ct. busybox is built in a private cache
per session, so its cold path runs every time; debian-12 uses the shared
cache ($VPS_TEMPLATE_CACHE or /var/cache/vps/templates): the first run on a
host debootstraps (about 3 minutes here), later ones take a second.

Run as root: VPS_BUILD=build-test python3 -m pytest tests/integration/test_ct_templates.py"""

import os
import subprocess
import time

import pytest

from framework.ct import BUILD, TOP, VPS_CT, Bundle, wait_for

MKTEMPLATE = TOP / "src" / "ct" / "templates" / "mktemplate"


def mktemplate(name, *args, timeout=60):
    return subprocess.run([str(MKTEMPLATE), name, *args], capture_output=True,
                          text=True, timeout=timeout)


def template_bundle(path, tarball):
    """A bundle whose rootfs is TARBALL unpacked, with BASE's config."""
    empty = path / "empty"
    empty.mkdir()
    b = Bundle(path, empty)
    subprocess.run(["tar", "-xf", str(tarball), "-C", str(b.rootfs)], check=True)
    return b


@pytest.fixture(scope="session")
def ct_root():
    if os.geteuid() != 0:
        pytest.skip("templates and vps-ct need root (chroot, namespaces, mounts)")
    if not VPS_CT.exists():
        pytest.fail(f"{VPS_CT} is not built: ninja -C {BUILD}")


@pytest.fixture(scope="session")
def busybox_cache(ct_root, tmp_path_factory):
    return tmp_path_factory.mktemp("templates")


@pytest.fixture(scope="session")
def busybox_tar(busybox_cache):
    r = mktemplate("busybox", "--cache", str(busybox_cache))
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


@pytest.fixture(scope="session")
def debian_tar(ct_root, timings):
    t0 = time.monotonic()
    r = mktemplate("debian-12", timeout=1800)
    if r.returncode != 0 and "no Debian mirror" in r.stderr:
        pytest.skip(r.stderr.strip())
    assert r.returncode == 0, r.stderr[-3000:]
    timings.append(("debian-12 template (cold: debootstrap; warm: cache)",
                    time.monotonic() - t0))
    return r.stdout.strip()


@pytest.fixture
def cleanup():
    bundles = []
    yield bundles.append
    for b in bundles:
        if (b.root / b.id).exists():
            b.ct("delete", "--force", b.id)


# ---- the tool ----

def test_busybox_cached(busybox_cache, busybox_tar):
    assert busybox_tar.startswith(str(busybox_cache) + "/busybox-")
    assert busybox_tar.endswith((".tar.zst", ".tar.gz"))
    t0 = time.monotonic()
    r = mktemplate("busybox", "--cache", str(busybox_cache))
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == busybox_tar, "second call built a new tarball"
    assert took < 2, f"cached call took {took:.2f} s"
    # $VPS_TEMPLATE_CACHE is the same as --cache
    r = subprocess.run([str(MKTEMPLATE), "busybox"], capture_output=True, text=True,
                       env=dict(os.environ, VPS_TEMPLATE_CACHE=str(busybox_cache)))
    assert r.stdout.strip() == busybox_tar, r.stderr


def test_unknown_template_is_refused():
    r = mktemplate("centos-7", "--cache", "/nonexistent")
    assert r.returncode != 0 and "unknown template `centos-7`" in r.stderr
    assert r.stdout == ""


def test_busybox_contents(busybox_tar):
    r = subprocess.run(["tar", "-tvf", busybox_tar], capture_output=True,
                       text=True, check=True)
    entries = {ln.split()[5]: ln for ln in r.stdout.splitlines()}
    for f in ("./bin/busybox", "./etc/inittab", "./etc/passwd", "./etc/group",
              "./etc/shadow", "./etc/hostname", "./etc/hosts",
              "./etc/resolv.conf", "./root/", "./dev/", "./bin/sh"):
        assert f in entries, f"{f} missing"
    assert entries["./tmp/"].startswith("drwxrwxrwt")
    assert entries["./sbin/init"].endswith("-> ../bin/busybox")
    assert not [e for e in entries if e.startswith("./dev/") and e != "./dev/"]
    shadow = subprocess.run(["tar", "-xOf", busybox_tar, "./etc/shadow"],
                            capture_output=True, text=True, check=True).stdout
    assert shadow.startswith("root:!:"), "root is not locked"
    inittab = subprocess.run(["tar", "-xOf", busybox_tar, "./etc/inittab"],
                             capture_output=True, text=True, check=True).stdout
    lines = [ln for ln in inittab.splitlines() if ln and not ln.startswith("#")]
    assert any(ln.startswith("::sysinit:") for ln in lines)
    assert any(ln.startswith("::shutdown:") for ln in lines)
    # a login on the console, and no shell there without one
    assert [ln for ln in lines if ln.startswith("console::respawn:/sbin/getty ")]
    assert not [ln for ln in lines if ln.endswith("/bin/sh")]


# ---- busybox in vps-ct ----

def test_busybox_run(tmp_path, busybox_tar, cleanup):
    b = template_bundle(tmp_path, busybox_tar)
    cleanup(b)
    b.config["process"]["args"] = ["/bin/busybox", "sh", "-c",
                                   "cat /etc/hostname; id -u"]
    assert b.run().split() == ["busybox", "0"]


def test_busybox_init_poweroff(tmp_path, busybox_tar, cleanup):
    b = template_bundle(tmp_path, busybox_tar)
    cleanup(b)
    b.config["process"]["args"] = ["/sbin/init"]
    b.write()
    with open(b.path / "out", "w") as out:
        r = subprocess.run([str(VPS_CT), "--root", str(b.root), "run", "-d",
                            "-b", str(b.path), b.id],
                           stdout=out, stderr=out, timeout=30)
    assert r.returncode == 0, b.output()
    assert b.state()["status"] == "running"

    def ct_exec(*cmd):
        return b.ct("exec", b.id, *cmd).stdout.strip()

    # sysinit ran (it writes /run/boot last), the service is up, init is PID 1
    assert wait_for(lambda: ct_exec("/bin/cat", "/run/boot") == "rcS: up", 10), \
        b.output()
    assert ct_exec("/bin/cat", "/proc/1/comm") == "init"
    # sysinit mounted what the runtime did not (/run) and said nothing
    assert " /run tmpfs " in ct_exec("/bin/cat", "/proc/mounts")
    assert b.output() == "", b.output()
    assert ct_exec("/bin/hostname") == "busybox"
    assert wait_for(lambda: "syslogd" in ct_exec("/bin/ps", "-o", "comm"), 10)

    b.ct("kill", b.id, "USR2", check=True)
    # busybox init: shutdown lines, TERM + KILL to the rest, reboot(POWER_OFF)
    assert wait_for(lambda: b.state()["status"] == "stopped", 20), \
        f"init did not power off: {b.state()}\n{b.output()}"
    assert "Requesting system poweroff" in b.output()
    b.ct("delete", b.id, check=True)


# ---- debian-12 ----

def test_debian_contents(debian_tar):
    # the second call is the cached one whatever the first was
    t0 = time.monotonic()
    r = mktemplate("debian-12")
    assert r.returncode == 0 and r.stdout.strip() == debian_tar, r.stderr
    assert time.monotonic() - t0 < 2
    r = subprocess.run(["tar", "-tvf", debian_tar], capture_output=True,
                       text=True, check=True)
    entries = {}
    for ln in r.stdout.splitlines():
        f = ln.split()
        entries[f[5]] = f[7] if len(f) > 7 and f[6] == "->" else None
    # Debian 12 is merged-/usr: /sbin -> usr/sbin, so /sbin/init is usr/sbin/init
    assert entries.get("./sbin") == "usr/sbin"
    assert entries.get("./usr/sbin/init", "").endswith("/lib/systemd/systemd")
    assert "./usr/lib/systemd/systemd" in entries
    assert "./usr/bin/ps" in entries and "./usr/sbin/sshd" in entries
    assert "./usr/sbin/ip" in entries or "./usr/bin/ip" in entries
    # no getty but the console's, no udev; machine-id empty; no shared SSH host keys
    for unit in ("getty@.service", "serial-getty@.service",
                 "systemd-udevd.service", "systemd-modules-load.service"):
        assert entries.get(f"./etc/systemd/system/{unit}") == "/dev/null", unit
    assert "./etc/systemd/system/console-getty.service" not in entries
    assert entries.get("./etc/systemd/system/getty.target.wants/"
                       "console-getty.service") == "/lib/systemd/system/console-getty.service"
    assert not [e for e in entries if e.startswith("./etc/ssh/ssh_host_")]
    assert not [e for e in entries if e.startswith("./dev/") and e != "./dev/"]
    mid = subprocess.run(["tar", "-xOf", debian_tar, "./etc/machine-id"],
                         capture_output=True, check=True).stdout
    assert mid == b""


def test_debian_run(tmp_path, debian_tar, cleanup):
    b = template_bundle(tmp_path, debian_tar)
    cleanup(b)
    b.config["process"]["args"] = ["/bin/sh", "-c",
                                   "cat /etc/debian_version; readlink -f /sbin/init; "
                                   "ps -o comm= -p $$"]
    b.config["process"]["env"] = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
    out = b.run().split()
    assert out[0].startswith("12."), out
    assert out[1] == "/usr/lib/systemd/systemd", out
    assert out[2] in ("sh", "dash", "ps"), out
