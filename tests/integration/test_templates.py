# SPDX-License-Identifier: GPL-2.0-or-later
"""The template store (src/host/tmpl.c, docs/templates.md) through vpsd's
real API and the CLI: the templates the host builds appear in the store,
imports of real archives made here (tar, tar.gz, tar.xz, tar.zst, and
raw and qcow2 disks) become versions, a container made from an import boots
and keeps working when a new version comes, reinstall takes the newest.

Every hostile upload a customer's or a careless provider's archive could be
is tried: `..`, a path through the archive's own symlink, a hard link out,
a device node, a set-uid file owned by a host id, a size bomb, a truncated
and a garbage file, a qcow2 naming a backing file. Each is refused (400,
a message naming the entry) or tamed, and the host is shown unchanged:
nothing outside the store, no version, no upload left behind.

Run as root: /usr/bin/python3 -m pytest -q -p no:cacheprovider test_templates.py"""

import io
import json
import os
import stat
import subprocess
import tarfile
import uuid
from pathlib import Path

import pytest

from framework import artefacts
from framework.ct import BUILD
from framework.openapi import tcp, unix
from framework.vpsd import VPSD, Vpsd, free_port

pytestmark = pytest.mark.skipif(not VPSD.exists(), reason=f"{VPSD} not built")

MKTEMPLATE = artefacts.TOP / "src" / "ct" / "templates" / "mktemplate"
IMPORT = BUILD / "src" / "tmpl" / "vps-tmpl-import"
VPS = BUILD / "src" / "cli" / "vps"
CAP = 64 << 20  # the unpacked-size cap this vpsd runs with (VPS_TEMPLATE_MAX_BYTES)


@pytest.fixture(scope="module")
def vpsd():
    d = Vpsd()
    d.port = free_port()
    d.start(extra=("--tcp", f"127.0.0.1:{d.port}"), env={"VPS_TEMPLATE_MAX_BYTES": str(CAP)})
    yield d
    d.cleanup()


@pytest.fixture(scope="module")
def busybox_tar(tmp_path_factory):
    """The busybox template, as a plain tar (made by mktemplate, unpacked by zstd)."""
    out = subprocess.run([str(MKTEMPLATE), "busybox"], capture_output=True, text=True,
                         check=True).stdout.strip()
    tar = tmp_path_factory.mktemp("bb") / "busybox.tar"
    subprocess.run(["zstd", "-q", "-d", "-f", out, "-o", str(tar)], check=True)
    return tar


def with_marker(src, dst, marker, mode="w"):
    """SRC's entries plus /etc/marker holding MARKER, written to DST (MODE: tarfile's)."""
    with tarfile.open(src) as t, tarfile.open(dst, mode) as o:
        for m in t.getmembers():
            o.addfile(m, t.extractfile(m) if m.isreg() else None)
        data = marker.encode()
        i = tarfile.TarInfo("./etc/marker")
        i.size = len(data)
        o.addfile(i, io.BytesIO(data))
    return dst


def add_zeros(t, name, size):
    """A file of SIZE zero bytes into tarfile T, streamed (never held in memory)."""
    i = tarfile.TarInfo(name)
    i.size = size

    class Zeros(io.RawIOBase):
        left = i.size

        def readable(self):
            return True

        def readinto(self, b):
            n = min(len(b), self.left)
            b[:n] = bytes(n)
            self.left -= n
            return n
    t.addfile(i, io.BufferedReader(Zeros()))


def member(name, data=b"x", **kw):
    i = tarfile.TarInfo(name)
    i.size = len(data)
    for k, v in kw.items():
        setattr(i, k, v)
    return i, io.BytesIO(data)


def link(name, target, kind=tarfile.SYMTYPE):
    i = tarfile.TarInfo(name)
    i.type = kind
    i.linkname = target
    return i, None


def archive(path, entries, mode="w"):
    with tarfile.open(path, mode) as t:
        for i, f in entries:
            t.addfile(i, f)
    return path


def snapshot(d):
    """What an import may change: the store's and the uploads' trees."""
    out = set()
    for top in (d.data / "templates", d.data / "uploads"):
        if top.exists():
            out |= {str(p) for p in top.rglob("*")}
    return out


def put(d, name, path, kind="ct", fmt=None):
    q = f"?kind={kind}" + (f"&format={fmt}" if fmt else "")
    return d.request("PUT", f"/api/v1/templates/{name}{q}", Path(path).read_bytes())


def test_the_checker_is_confined(tmp_path):
    """vps-tmpl-import, started by root as vpsd starts it, is uid 65534 and
    cannot open even a world-readable file by the time it would read the
    upload (the seccomp filter, not file modes, says no)."""
    src = archive(tmp_path / "a.tar", [member("x")])
    r = subprocess.run([str(IMPORT), str(src), str(tmp_path / "out"), "--probe-open",
                        "/etc/hostname"], capture_output=True, text=True, timeout=60)
    assert os.access("/etc/hostname", os.R_OK) and os.stat("/etc/hostname").st_mode & 0o004
    assert r.returncode == 0 and r.stdout == "uid 65534 gid 65534 open Operation not permitted\n", r


def test_builtins_in_the_store(vpsd):
    """The host's own templates are listed before they are built (version 0),
    with the kinds they serve; show answers them, an unknown name is 404."""
    rows = vpsd.api("GET", "/templates")
    got = {(r["name"], r["kind"]) for r in rows}
    for want in [("busybox", "ct"), ("debian-11", "ct"), ("debian-12", "ct"),
                 ("debian-12", "vm"), ("debian-13", "vm")]:
        assert want in got, rows
    bb = vpsd.api("GET", "/templates/busybox")
    assert bb["init"] == "busybox" and bb["kinds"] == ["ct"], bb
    code, j = vpsd.request("GET", "/api/v1/templates/nope")
    assert code == 404, j


def test_build_makes_a_version_once(vpsd):
    """build: version 1 with its sha256 and size; the same inputs again leave
    it at 1 (unchanged); the tarball in the store is what sha256 says."""
    v = vpsd.api("POST", "/templates/busybox/build")
    assert v["version"] >= 1 and v["kinds"] == ["ct"] and v["os"] == "busybox", v
    f = vpsd.data / "templates" / "busybox" / str(v["version"]) / v["file"]
    out = subprocess.run(["sha256sum", str(f)], capture_output=True, text=True, check=True)
    assert out.stdout.split()[0] == v["sha256"] and f.stat().st_size == v["size"], v
    again = vpsd.api("POST", "/templates/busybox/build")
    assert again["version"] == v["version"] and again["unchanged"] is True, again
    code, j = vpsd.request("POST", "/api/v1/templates/alpine-3/build")
    assert code == 404 and "others are imported" in j["error"]["message"], j


@pytest.mark.parametrize("mode,suffix", [("w", "tar"), ("w:gz", "tar.gz"), ("w:xz", "tar.xz"),
                                         ("zstd", "tar.zst")])
def test_import_formats(vpsd, busybox_tar, tmp_path, mode, suffix):
    name = "imp-" + suffix.replace(".", "")
    src = tmp_path / f"bb.{suffix}"
    if mode == "zstd":
        plain = with_marker(busybox_tar, tmp_path / "bb.tar", "z")
        subprocess.run(["zstd", "-q", "-f", str(plain), "-o", str(src)], check=True)
    else:
        with_marker(busybox_tar, src, suffix, mode)
    v = vpsd.api("PUT", f"/templates/{name}?kind=ct", src.read_bytes(), expect=201)
    assert v["version"] == 1 and v["kinds"] == ["ct"] and v["init"] == "busybox", v
    assert v["source"] == "imported rootfs tarball" and len(v["sha256"]) == 64, v
    # the store's tarball is our own writing: ./ paths, numeric owners in range
    f = vpsd.data / "templates" / name / "1" / v["file"]
    listing = subprocess.run(["tar", "--numeric-owner", "-tvf", str(f)], capture_output=True,
                             text=True, check=True).stdout
    assert "./etc/marker" in listing and "./bin/busybox" in listing, listing[:500]
    vpsd.api("DELETE", f"/templates/{name}")
    assert not (vpsd.data / "templates" / name).exists()


HOSTILE = {
    # name: (entries, the words the refusal must hold)
    "dotdot": ([member("../../../../tmp/vps-pwned-dotdot")], "`..` component"),
    "symlink-out": ([link("etc", "/tmp"), member("etc/vps-pwned-symlink")],
                    "goes through the symlink `etc`"),
    "hardlink-out": ([link("shadow", "/etc/shadow", tarfile.LNKTYPE)],
                     "no regular file earlier in the archive"),
    "setuid-host-id": ([member("bin/su", b"#!/bin/sh\n", uid=100000, mode=0o4755)],
                       "outside the container's ids"),
    "setgid-host-gid": ([member("bin/sg", b"x", gid=70000, mode=0o2755)],
                        "outside the container's ids"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_archive_refused(vpsd, tmp_path, case):
    entries, words = HOSTILE[case]
    src = archive(tmp_path / "evil.tar", entries)
    before = snapshot(vpsd)
    code, j = put(vpsd, "evil", src)
    assert code == 400 and words in j["error"]["message"], (code, j)
    assert not Path("/tmp/vps-pwned-dotdot").exists()
    assert not Path("/tmp/vps-pwned-symlink").exists()
    assert snapshot(vpsd) == before
    assert vpsd.request("GET", "/api/v1/templates/evil")[0] == 404


def test_size_bomb_refused(vpsd, tmp_path):
    """128 MiB of zeros in a gzip of a few hundred KiB: refused at the cap
    (64 MiB here), nothing kept."""
    src = tmp_path / "bomb.tar.gz"
    with tarfile.open(src, "w:gz") as t:
        add_zeros(t, "zeros", 128 << 20)
    assert src.stat().st_size < 1 << 20
    before = snapshot(vpsd)
    code, j = put(vpsd, "bomb", src)
    assert code == 400 and "a size bomb or too big" in j["error"]["message"], j
    assert snapshot(vpsd) == before


def test_truncated_and_garbage_refused(vpsd, busybox_tar, tmp_path):
    whole = with_marker(busybox_tar, tmp_path / "w.tar.gz", "t", "w:gz").read_bytes()
    (tmp_path / "half.tar.gz").write_bytes(whole[:len(whole) // 2])
    (tmp_path / "junk").write_bytes(os.urandom(100000))
    (tmp_path / "empty").write_bytes(b"")
    before = snapshot(vpsd)
    for f, words in (("half.tar.gz", "truncated"), ("junk", "not a tar archive"),
                     ("empty", "")):
        code, j = put(vpsd, "broken", tmp_path / f)
        assert code == 400 and words in j["error"]["message"], (f, j)
    assert snapshot(vpsd) == before


def test_tamed_absolute_paths_and_devices(vpsd, tmp_path):
    """An absolute path lands inside the template; a device node is dropped:
    both counted in the version's `import`."""
    dev = tarfile.TarInfo("dev/sda")
    dev.type, dev.devmajor, dev.devminor = tarfile.BLKTYPE, 8, 0
    src = archive(tmp_path / "t.tar", [member("/tmp/vps-pwned-abs", b"abs"), (dev, None),
                                       link("sbin/init", "/bin/busybox")])
    v = vpsd.api("PUT", "/templates/tamed?kind=ct", src.read_bytes(), expect=201)
    assert v["import"]["absolute"] == 1 and v["import"]["devices"] == 1, v
    assert v["init"] == "busybox", v
    assert not Path("/tmp/vps-pwned-abs").exists()
    f = vpsd.data / "templates" / "tamed" / "1" / v["file"]
    listing = subprocess.run(["tar", "-tvf", str(f)], capture_output=True, text=True,
                             check=True).stdout
    assert "./tmp/vps-pwned-abs" in listing and "sda" not in listing, listing
    vpsd.api("DELETE", "/templates/tamed")


def test_customer_sees_but_cannot_change(vpsd, busybox_tar, tmp_path):
    """Over TCP as a customer: list and show answer; import, build and rm are
    403 and change nothing."""
    admin = unix(vpsd)
    admin.api("POST", "/users", {"name": "tcust", "password": "tcust tcust", "role": "customer"},
              expect=201)
    cust = tcp(vpsd)
    cust.login("tcust", "tcust tcust")
    assert any(r["name"] == "busybox" for r in cust.api("GET", "/templates"))
    cust.api("GET", "/templates/busybox")
    before = snapshot(vpsd)
    src = with_marker(busybox_tar, tmp_path / "c.tar", "cust")
    cust.api("PUT", "/templates/mine?kind=ct", src.read_bytes(), expect=403)
    cust.api("POST", "/templates/busybox/build", expect=403)
    cust.api("DELETE", "/templates/busybox", expect=403)
    assert snapshot(vpsd) == before


def test_cli_template_commands(vpsd, busybox_tar, tmp_path):
    env = dict(os.environ, VPS_SOCKET=str(vpsd.sock))

    def vps(*a):
        return subprocess.run([str(VPS), *a], capture_output=True, text=True, env=env,
                              timeout=600)
    src = with_marker(busybox_tar, tmp_path / "c.tar.xz", "cli", "w:xz")
    r = vps("template", "import", "cli-bb", str(src))
    assert r.returncode == 0 and r.stdout == "imported template cli-bb version 1\n", r
    r = vps("template", "list")
    rows = [line.split() for line in r.stdout.splitlines()]
    assert rows[0][:3] == ["NAME", "KIND", "VERSION"], r.stdout
    assert ["cli-bb", "ct", "1"] in [row[:3] for row in rows], r.stdout
    r = vps("template", "show", "cli-bb", "--format", "json")
    assert json.loads(r.stdout)["history"][0]["version"] == 1, r
    r = vps("template", "import", "cli-bb", "/nonexistent.tar")
    assert r.returncode == 1 and "/nonexistent.tar" in r.stderr, r
    evil = archive(tmp_path / "e.tar", [member("../x")])
    r = vps("template", "import", "cli-bb", str(evil))
    assert r.returncode == 1 and "`..` component" in r.stderr, r
    r = vps("template", "rm", "cli-bb")
    assert r.returncode == 0 and r.stdout == "removed template cli-bb\n", r
    r = vps("template", "rm", "cli-bb")
    assert r.returncode == 1 and "no template" in r.stderr, r


def test_vm_disk_imports(vpsd, tmp_path):
    """A qcow2 naming a backing file is refused before anything reads the
    backing file; raw given as qcow2 is refused (the format is never probed);
    a qcow2 made by qemu-img becomes a raw disk of a vm template."""
    back = tmp_path / "secret.raw"
    back.write_bytes(b"host secret" + bytes(1 << 20))
    bad = tmp_path / "bad.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(back), "-F", "raw",
                    str(bad)], check=True)
    before = snapshot(vpsd)
    code, j = put(vpsd, "vmimg", bad, "vm", "qcow2")
    assert code == 400 and "backing file" in j["error"]["message"], j
    raw = tmp_path / "disk.raw"
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "root", str(raw), "64M"], check=True)
    code, j = put(vpsd, "vmimg", raw, "vm", "qcow2")
    assert code == 400 and "not a qcow2 image" in j["error"]["message"], j
    assert snapshot(vpsd) == before
    # a good one: an ext4 root made here, as qcow2; it becomes a raw rootfs.img
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "marker").write_text("vm-import\n")
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(tmp_path / "root"), str(raw), "64M"],
                   check=True)
    good = tmp_path / "good.qcow2"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(good)],
                   check=True)
    v = vpsd.api("PUT", "/templates/vmimg?kind=vm&format=qcow2", good.read_bytes(), expect=201,
                 timeout=1800)
    assert v["kinds"] == ["vm"] and v["source"] == "imported qcow2 disk image", v
    d = vpsd.data / "templates" / "vmimg" / "1" / "vm"
    assert (d / "rootfs.img").read_bytes() == raw.read_bytes()
    assert (d / "vmlinuz").stat().st_size > 1 << 20 and (d / "initrd.img").exists()
    st = (d / "rootfs.img").stat()
    assert st.st_uid == 0 and st.st_mode & 0o777 == 0o600, st
    assert not list((vpsd.data / "uploads").iterdir())
    vpsd.api("DELETE", "/templates/vmimg")


def test_imported_template_boots_and_versions(vpsd, busybox_tar, tmp_path):
    """A container made from an imported tarball boots (busybox init as PID
    1, exec answers); a second import is version 2 and the running VPS made
    from version 1 keeps it across a restart; reinstall takes version 2;
    removing the template leaves the VPS working."""
    v1 = with_marker(busybox_tar, tmp_path / "v1.tar.gz", "one", "w:gz")
    assert vpsd.api("PUT", "/templates/bbimp?kind=ct", v1.read_bytes(), expect=201)["version"] == 1
    vpsd.api("POST", "/vps", {"name": "timp1", "kind": "ct", "template": "bbimp", "ram": "128M",
                              "disk": "64M", "start": True}, expect=201)

    def marker():
        r = vpsd.api("POST", "/vps/timp1/exec", {"args": ["sh", "-c", "cat /etc/marker; echo; "
                                                           "readlink /proc/1/exe"]})
        assert r["status"] == 0, r
        return r["stdout"].split()

    assert marker() == ["one", "/bin/busybox"]
    v2 = with_marker(busybox_tar, tmp_path / "v2.tar.zst.tar", "two")
    new = vpsd.api("PUT", "/templates/bbimp?kind=ct", v2.read_bytes(), expect=201)
    assert new["version"] == 2 and new["sha256"] != vpsd.api(
        "GET", "/templates/bbimp")["history"][0]["sha256"], new
    assert [h["version"] for h in vpsd.api("GET", "/templates/bbimp")["history"]] == [1, 2]
    vpsd.api("POST", "/vps/timp1/restart")
    assert marker()[0] == "one"
    v = vpsd.api("POST", "/vps/timp1/reinstall", {"root_password": "again"})
    assert v["state"] == "running", v
    assert marker()[0] == "two"
    vpsd.api("DELETE", "/templates/bbimp")
    vpsd.api("POST", "/vps/timp1/restart")
    assert marker()[0] == "two"
    code, j = vpsd.request("POST", "/api/v1/vps", {"name": "timp2", "kind": "ct",
                                                   "template": "bbimp", "ram": "128M",
                                                   "disk": "64M"})
    assert code == 400 and "no ct template `bbimp`" in j["error"]["message"], j
    vpsd.api("DELETE", "/vps/timp1")


@pytest.mark.parametrize("release,version", [("debian-11", "11"), ("debian-13", "13")])
def test_debian_release_boots(vpsd, release, version):
    """debian-11 and debian-13, built from the mirror apt uses (bullseye and
    trixie beside the host's bookworm), enter the store at the first create;
    the container's systemd reaches `running` and sshd is there."""
    name = "tdeb" + version
    vpsd.api("POST", "/vps", {"name": name, "kind": "ct", "template": release, "ram": "512M",
                              "disk": "2G", "start": True}, expect=201, timeout=1800)
    t = vpsd.api("GET", f"/templates/{release}")
    assert t["version"] >= 1 and t["os"] == "debian" and t["release"] == version, t
    assert "ct" in t["kinds"] and "vm" in t["kinds"], t
    r = vpsd.api("POST", f"/vps/{name}/exec",
                 {"args": ["sh", "-c",
                           # systemd's bus appears a moment after the start returns
                           "for i in $(seq 120); do s=$(timeout 120 systemctl "
                           "is-system-running --wait 2>/dev/null); case $s in running|degraded"
                           "|maintenance) break;; esac; sleep 1; done; echo $s; "
                           "cat /etc/debian_version; test -x /usr/sbin/sshd && echo sshd; "
                           "systemctl --failed --no-legend"]},
                 timeout=300)
    out = r["stdout"].split()
    assert out[0] == "running" and out[1].startswith(version) and out[2] == "sshd", r
    vpsd.api("DELETE", f"/vps/{name}")


def test_template_from_a_stopped_vm(vpsd):
    """`vps template create NAME --from VM`: a stopped VM's disk becomes a
    version (the same bytes, through the import's checks); a VPS that does
    not exist is 404."""
    vpsd.api("POST", "/vps", {"name": "tfrom1", "kind": "vm", "template": "debian-12",
                              "ram": "256M", "disk": "1G"}, expect=201, timeout=1800)
    env = dict(os.environ, VPS_SOCKET=str(vpsd.sock))
    r = subprocess.run([str(VPS), "template", "create", "golden", "--from", "tfrom1"],
                       capture_output=True, text=True, env=env, timeout=1800)
    assert r.returncode == 0 and r.stdout == "made template golden version 1\n", r
    t = vpsd.api("GET", "/templates/golden")
    assert t["kinds"] == ["vm"] and t["source"] == "made from VPS tfrom1 (its disk, stopped)", t
    img = vpsd.data / "templates" / "golden" / "1" / "vm" / "rootfs.img"
    disk = vpsd.data / "vps" / "tfrom1" / "disk.img"
    sums = subprocess.run(["sha256sum", str(img), str(disk)], capture_output=True, text=True,
                          check=True).stdout.split()
    assert sums[0] == sums[2] == t["sha256"], sums
    code, j = vpsd.request("POST", "/api/v1/templates/x/from/nosuchvps")
    assert code == 404, j
    assert vpsd.request("GET", "/api/v1/templates/x")[0] == 404
    vpsd.api("DELETE", "/vps/tfrom1")
    vpsd.api("DELETE", "/templates/golden")


def ct_init_root(vpsd, name):
    """The running container's root as the host sees it: /proc/PID/root of a
    process of the container's root (its uid_base, from ct.json) that sees
    the container's /etc/hostname."""
    base = json.loads((vpsd.data / "vps" / name / "ct.json").read_text())["uid_base"]
    for p in Path("/proc").iterdir():
        try:
            if (p.name.isdigit() and p.stat().st_uid == base and
                    (p / "root" / "etc" / "hostname").read_text().strip() == name):
                return base, p / "root"
        except OSError:
            pass
    raise AssertionError(f"no process of {name}'s root (uid {base})")


def host_state():
    """What a template made from a container must never touch on the host."""
    out = {}
    for f in ("/etc/shadow", "/etc/passwd", "/dev/null"):
        st = os.lstat(f)
        out[f] = (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns,
                  Path(f).read_bytes() if f.startswith("/etc") else b"")
    return out


def test_template_from_a_stopped_container(vpsd):
    """`vps template create NAME --from CT`: a file written in container A
    is in container B made from A's template. A's root is hostile: a symlink
    to the host's /etc/shadow, a device node (the whiteout a container may
    make; the one it may not make is refused by the kernel), a set-uid file
    of the container's root, a set-uid file and a device node the host's
    root planted with host ids, then a sparse giant. The template holds the
    link as a link, no device, the container's set-uid file under template
    id 0 and the host's under 65534 without its set-uid bit; B's copy of the
    set-uid file is owned by B's range, never by the host's root; the
    sparse giant is refused at the cap with nothing left behind; the host's
    files are unchanged; a customer is refused."""
    host_before = host_state()
    vpsd.api("POST", "/vps", {"name": "tfca", "kind": "ct", "template": "busybox",
                              "ram": "128M", "disk": "64M", "start": True}, expect=201)
    r = vpsd.api("POST", "/vps/tfca/exec", {"args": ["sh", "-c", """
        echo from-a > /root/file
        ln -s /etc/shadow /root/shadow-link
        ln -s / /root/root-link
        cp /bin/busybox /root/suid && chmod 4755 /root/suid
        mknod /root/null c 1 3 2>/dev/null && echo mknod-null-made
        mknod /root/wh c 0 0 2>/dev/null && echo whiteout-made
        mkfifo /root/fifo
        ln /root/file /root/file-hard
        true"""]})
    assert r["status"] == 0 and "mknod-null-made" not in r["stdout"], r
    base, root = ct_init_root(vpsd, "tfca")
    true_bin = Path("/bin/true").read_bytes()
    (root / "root" / "host-suid").write_bytes(true_bin)
    os.chown(root / "root" / "host-suid", 0, 0)
    os.chmod(root / "root" / "host-suid", 0o4755)
    os.mknod(root / "root" / "host-dev", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    code, j = vpsd.request("POST", "/api/v1/templates/tfc/from/tfca")
    assert code == 409 and "stop it first" in j["error"]["message"], j
    vpsd.api("POST", "/vps/tfca/stop")
    env = dict(os.environ, VPS_SOCKET=str(vpsd.sock))
    r = subprocess.run([str(VPS), "template", "create", "tfc", "--from", "tfca"],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0 and r.stdout == "made template tfc version 1\n", r
    t = vpsd.api("GET", "/templates/tfc")
    assert t["kinds"] == ["ct"] and t["init"] == "busybox", t
    assert t["source"] == "made from VPS tfca (its root filesystem, stopped)", t
    assert t["import"]["devices"] >= 1, t  # host-dev (and the whiteout, if the kernel allowed it)
    tarball = vpsd.data / "templates" / "tfc" / "1" / t["file"]
    plain = subprocess.run(["zstd", "-q", "-d", "-c", str(tarball)], capture_output=True,
                           check=True).stdout
    shadow = Path("/etc/shadow").read_bytes()
    with tarfile.open(fileobj=io.BytesIO(plain)) as tf:
        m = {i.name.lstrip("./"): i for i in tf.getmembers()}
        # one of the two names is the file, the other a hard link to it (readdir's order)
        a, b = sorted((m["root/file"], m["root/file-hard"]), key=lambda i: i.islnk())
        assert a.isreg() and tf.extractfile(a).read() == b"from-a\n", a
        assert b.islnk() and b.linkname.lstrip("./") == a.name.lstrip("./"), b
        assert m["root/shadow-link"].issym() and m["root/shadow-link"].linkname == "/etc/shadow"
        assert m["root/root-link"].issym() and m["root/root-link"].linkname == "/"
        assert m["root/fifo"].isfifo()
        assert m["root/suid"].uid == 0 and m["root/suid"].mode & 0o4000, m["root/suid"]
        assert m["root/host-suid"].uid == 65534 and not m["root/host-suid"].mode & 0o6000
        assert not any(i.ischr() or i.isblk() for i in m.values())
        assert all(0 <= i.uid <= 65535 and 0 <= i.gid <= 65535 for i in m.values())
        for i in m.values():  # nothing of the host's shadow came in through the link
            assert not (i.isreg() and shadow in tf.extractfile(i).read()), i.name
    vpsd.api("POST", "/vps", {"name": "tfcb", "kind": "ct", "template": "tfc", "ram": "128M",
                              "disk": "64M", "start": True}, expect=201)
    r = vpsd.api("POST", "/vps/tfcb/exec", {"args": ["sh", "-c",
                                                     "cat /root/file; stat -c %u /root/suid"]})
    assert r["status"] == 0 and r["stdout"].split() == ["from-a", "0"], r
    bbase, broot = ct_init_root(vpsd, "tfcb")
    st = os.stat(broot / "root" / "suid")
    assert st.st_uid == bbase != 0 and st.st_mode & 0o4000, (st, bbase)
    assert not (broot / "root" / "host-dev").exists()
    assert os.lstat(broot / "root" / "host-suid").st_uid == bbase + 65534

    # the reader is the container's root, not the host's: a file of the host's
    # root that the container cannot read cannot be read into a template either
    vpsd.api("POST", "/vps/tfca/start")
    _, root = ct_init_root(vpsd, "tfca")
    secret = root / "root" / "host-secret"
    secret.write_text("HOST-SECRET\n")
    os.chmod(secret, 0o600)
    vpsd.api("POST", "/vps/tfca/stop")
    before = snapshot(vpsd)
    code, j = vpsd.request("POST", "/api/v1/templates/tfc/from/tfca")
    assert code == 400 and "host-secret`: open: Permission denied" in j["error"]["message"], j
    assert snapshot(vpsd) == before
    vpsd.api("POST", "/vps/tfca/start")
    _, root = ct_init_root(vpsd, "tfca")
    (root / "root" / "host-secret").unlink()

    # a sparse giant: refused at the unpacked cap, no version, nothing left behind
    r = vpsd.api("POST", "/vps/tfca/exec", {"args": ["truncate", "-s", str(1 << 40), "/root/big"]})
    assert r["status"] == 0, r
    vpsd.api("POST", "/vps/tfca/stop")
    before = snapshot(vpsd)
    code, j = vpsd.request("POST", "/api/v1/templates/tfc/from/tfca")
    assert code == 400 and "size bomb" in j["error"]["message"], j
    assert snapshot(vpsd) == before
    assert [h["version"] for h in vpsd.api("GET", "/templates/tfc")["history"]] == [1]
    assert not [p for p in Path("/proc/mounts").read_text().splitlines()
                if "/tfca/" in p], "A's root left mounted"

    # the permission model: templates are the provider's; a customer makes none
    admin = unix(vpsd)
    admin.api("POST", "/users", {"name": "tfcust", "password": "tfcust tfcust",
                                 "role": "customer"}, expect=201)
    cust = tcp(vpsd)
    cust.login("tfcust", "tfcust tfcust")
    cust.api("POST", "/templates/tfc/from/tfca", expect=403)
    cust.api("POST", "/templates/mine/from/tfcb", expect=403)
    assert snapshot(vpsd) == before
    assert host_state() == host_before
    for n in ("tfca", "tfcb"):
        vpsd.api("DELETE", f"/vps/{n}")
    vpsd.api("DELETE", "/templates/tfc")
