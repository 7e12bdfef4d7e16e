# SPDX-License-Identifier: GPL-2.0-or-later
"""vps-ctm with "storage": "layered" (src/ctm/layer.c, docs/ctm.md
"Layered storage"): the template unpacked once into a shared directory, the
container's root an overlayfs of an idmapped read-only clone of it under an
upper layer on the container's own disk. Checked here: the life of such a
container, that writes land on its disk and not in the shared template,
that its quota holds, that two containers share one lower (same inodes, so
one page cache), ownership inside, set-uid binaries from the lower, the
template refused when it changed or its ids do not fit, two creates racing
for one template, and that stop and destroy leave no mount.

Each test keeps its templates in a directory of its own (`template_dir`),
so /var/lib/vps/templates is not touched.

Run as root: /usr/bin/python3 -m pytest -q -p no:cacheprovider test_ctm_layered.py"""

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from framework.ct import INIT, VPS_CT, wait_for
from framework.ctm import EXIT_CONFIG, EXIT_KILLED, VPS_CTM, Ctm, template

MIB = 1 << 20


@pytest.fixture
def store(tmp_path):
    """The template directory of this test."""
    d = tmp_path / "templates"
    yield d
    shutil.rmtree(d, ignore_errors=True)


def layered(ctm, store, **kw):
    return ctm(storage="layered", template_dir=str(store), **kw)


def key_of(tarball):
    name = Path(tarball).name
    for ext in (".tar.zst", ".tar.gz", ".tar"):
        if name.endswith(ext):
            return name[: -len(ext)]
    return name


def mounts_under(path):
    """Mount points at or under PATH in this mount namespace: {target: fields}."""
    out = {}
    p = str(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == p or fields[4].startswith(p + "/"):
                out[fields[4]] = fields
    return out


def init_maps(pid, path="/bin/busybox"):
    """(device, inode) pairs /proc/PID/maps gives for PATH."""
    with open(f"/proc/{pid}/maps") as f:
        return {(ln.split()[3], int(ln.split()[4])) for ln in f if ln.rstrip().endswith(path)}


def make_template(tmp_path, extra):
    """The busybox template repacked with EXTRA(root) applied, under a
    fresh name (so a fresh key)."""
    root = tmp_path / f"tpl-{uuid.uuid4().hex[:6]}"
    root.mkdir()
    subprocess.run(["tar", "--numeric-owner", "--xattrs", "--acls", "-xpf", template(), "-C",
                    str(root)], check=True)
    extra(root)
    out = tmp_path / f"busybox-test-{uuid.uuid4().hex[:8]}.tar"
    subprocess.run(["tar", "--numeric-owner", "--xattrs", "--acls", "-cf", str(out), "-C",
                    str(root), "."], check=True)
    shutil.rmtree(root)
    return out


# ---- life ----

def test_lifecycle(ctm, store):
    ct = layered(ctm, store, hostname="layer-one", root_password="pw",
                 ssh_keys=["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAItest test@host"])
    ct.create()
    shared = store / key_of(template()) / "rootfs"
    assert os.readlink(ct.dir / "template") == str(shared)
    assert (shared / "bin" / "busybox").stat().st_uid == 0  # the tarball's own ids
    assert oct(store.stat().st_mode & 0o777) == "0o700"
    assert not mounts_under(ct.dir), "create left a mount"

    st = ct.start()
    assert st["state"] == "running" and st["init"] == "busybox"
    m = mounts_under(ct.dir)
    # and DIR/proc: the monitor's /proc/meminfo and /proc/swaps (docs/ct-sysinfo.md)
    assert set(m) == {str(ct.dir / "disk"), str(ct.dir / "lower"), str(ct.rootfs),
                      str(ct.dir / "proc")}, m
    lower = m[str(ct.dir / "lower")]
    assert "idmapped" in lower[5] and lower[5].startswith("ro"), lower
    f = m[str(ct.rootfs)]
    assert f[f.index("-") + 1] == "overlay", f

    assert ct.exec("cat", "/run/boot").strip() == "rcS: up"
    assert ct.exec("hostname").strip() == "layer-one"
    # ownership: root inside, uid_base outside, the template untouched
    assert ct.sh("stat -c '%u:%g' / /bin/busybox /etc/passwd").split() == ["0:0"] * 3
    base = ct.config["uid_base"]
    assert (ct.dir / "lower" / "bin" / "busybox").stat().st_uid == base
    # identity files went to the upper layer, with root's ownership inside
    upper = ct.dir / "disk" / "upper"
    assert (upper / "etc" / "hostname").read_text().strip() == "layer-one"
    assert (upper / "etc" / "shadow").read_text().startswith("root:$6$")
    assert (upper / "root" / ".ssh" / "authorized_keys").stat().st_uid == base
    assert ct.sh("stat -c '%u %a' /root/.ssh/authorized_keys").split() == ["0", "600"]
    assert "layer-one" not in (shared / "etc" / "hostname").read_text()

    # writes land on the container's disk, never in the shared template
    ct.sh("echo written > /hello; echo 'op:x:0:0::/root:/bin/sh' >> /etc/passwd; "
          "mkdir -p /srv/data && echo x > /srv/data/f")
    assert (upper / "hello").read_text() == "written\n"
    assert (upper / "hello").stat().st_uid == base
    assert (upper / "etc" / "passwd").read_text().endswith("op:x:0:0::/root:/bin/sh\n")
    assert (upper / "srv" / "data" / "f").exists()
    assert not (shared / "hello").exists() and not (shared / "srv").exists()
    assert "op:x" not in (shared / "etc" / "passwd").read_text()
    # a file deleted inside stays in the template (a whiteout in the upper)
    ct.exec("rm", "/etc/group")
    assert (shared / "etc" / "group").exists()
    assert ct.exec_r("cat", "/etc/group").returncode != 0

    # df inside shows the container's disk, not the host's
    total_kib = int(ct.sh("df -k / | tail -1").split()[1])
    assert 40 * 1024 < total_kib <= 64 * 1024, total_kib

    # a reboot inside mounts nothing twice
    ct.exec_r("reboot")
    ct.wait_state("running", timeout=30, boots=2)
    assert len(mounts_under(ct.dir)) == 4
    assert ct.exec("cat", "/hello").strip() == "written"

    assert ct.ctl({"cmd": "stop"})["ok"]
    assert ct.wait(timeout=30) == EXIT_KILLED, ct.output()
    assert not mounts_under(ct.dir)
    # the kernel frees an autoclear loop device after its last close, from a work queue: a
    # moment after the monitor is gone, not always before
    assert wait_for(lambda: not ct.loop_devices()), ct.loop_devices()
    # data survives a stop; the next start sees it
    ct.start()
    assert ct.exec("cat", "/hello").strip() == "written"
    ct.stop()
    ct.destroy()
    assert not ct.dir.exists() and not mounts_under(ct.dir)
    assert (shared / "bin" / "busybox").exists(), "destroy removed the shared template"


def test_quota(ctm, store):
    ct = layered(ctm, store, disk="64M")
    ct.create()
    ct.start()
    shared = store / key_of(template())
    before = subprocess.run(["du", "-s", "--block-size=1", str(shared)], capture_output=True,
                            text=True).stdout.split()[0]
    r = ct.exec_r("dd", "if=/dev/zero", "of=/fill", "bs=1M", timeout=120)
    assert r.returncode != 0 and "No space left on device" in r.stderr, r
    st = ct.disk_img.stat()
    assert st.st_size == 64 * MIB and st.st_blocks * 512 <= 64 * MIB
    assert ct.ctl({"cmd": "stats"})["disk_allocated"] <= 64 * MIB
    after = subprocess.run(["du", "-s", "--block-size=1", str(shared)], capture_output=True,
                           text=True).stdout.split()[0]
    assert before == after
    # copy-up of a template file fails the same way when the disk is full
    r = ct.exec_r("sh", "-c", "echo x >> /bin/busybox")
    assert r.returncode != 0, r
    ct.exec("rm", "/fill")
    assert ct.exec("echo", "ok").strip() == "ok"


def test_shared_lower(ctm, store):
    """Two containers, two uid ranges, one template on disk and in memory:
    their lowers are the same inodes, and their inits map the same file."""
    a, b = layered(ctm, store), layered(ctm, store)
    a.create()
    source = store / key_of(template()) / "source"
    stamp = source.stat()
    b.create()
    assert source.stat().st_ino == stamp.st_ino, "the second create unpacked again"
    assert [p.name for p in store.iterdir() if not p.name.startswith(".")] == \
        [key_of(template())]
    a.start()
    b.start()
    real = (store / key_of(template()) / "rootfs" / "bin" / "busybox").stat()
    sa = (a.dir / "lower" / "bin" / "busybox").stat()
    sb = (b.dir / "lower" / "bin" / "busybox").stat()
    assert (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino) == (real.st_dev, real.st_ino)
    assert (sa.st_uid, sb.st_uid) == (a.config["uid_base"], b.config["uid_base"])
    # the inits map the template's inode (the overlay hands out the real
    # file; maps shows each overlay's own device number beside it)
    ia, ib = init_maps(a.state()["pid"]), init_maps(b.state()["pid"])
    assert {ino for _, ino in ia} == {ino for _, ino in ib} == {real.st_ino}, (ia, ib)
    # the containers' writes are their own
    a.sh("echo a > /who")
    assert b.exec_r("cat", "/who").returncode != 0
    assert a.sh("cat /who").strip() == "a"


def test_setuid_from_lower(ctm, store, tmp_path):
    """A set-uid root binary of the template runs as root inside: the
    idmapped lower keeps the bit and maps its owner to the container's root."""
    def add_suid(root):
        dst = root / "bin" / "vps-ct-init"
        shutil.copyfile(INIT, dst)
        os.chown(dst, 0, 0)
        dst.chmod(0o4755)

    tpl = make_template(tmp_path, add_suid)
    ct = layered(ctm, store)
    ct.config["template"] = str(tpl)
    ct.write_config()
    ct.create()
    ct.start()
    assert ct.sh("stat -c '%a %u' /bin/vps-ct-init").split() == ["4755", "0"]
    r = ct.exec_r("su", "-s", "/bin/sh", "nobody", "-c", "cat /etc/shadow")
    assert r.returncode != 0 and "root:" not in r.stdout, r
    out = ct.exec("su", "-s", "/bin/sh", "nobody", "-c", "/bin/vps-ct-init cat /etc/shadow")
    assert out.startswith("root:"), out


def test_ids_outside_range_refused(ctm, store, tmp_path):
    def add_far_owner(root):
        f = root / "etc" / "far"
        f.write_text("x\n")
        os.chown(f, 70000, 70000)

    tpl = make_template(tmp_path, add_far_owner)
    ct = layered(ctm, store)
    ct.config["template"] = str(tpl)
    ct.write_config()
    r = ct.create(check=False)
    assert r.returncode != 0 and "70000" in r.stderr and "uid_size" in r.stderr, r.stderr
    assert not ct.dir.exists() and not mounts_under(ct.dir)
    # with a range that holds it, the same template is fine
    ct.config["uid_size"] = 131072
    ct.write_config()
    ct.create()
    ct.start()
    assert ct.sh("stat -c %u /etc/far").strip() == "70000"


def test_changed_template_refused(ctm, store, tmp_path):
    tpl = tmp_path / "busybox-mine.tar.zst"
    shutil.copyfile(template(), tpl)
    a = layered(ctm, store)
    a.config["template"] = str(tpl)
    a.write_config()
    a.create()
    with open(tpl, "ab") as f:  # the same name, other bytes
        f.write(b"\0" * 512)
    b = layered(ctm, store)
    b.config["template"] = str(tpl)
    b.write_config()
    r = b.create(check=False)
    assert r.returncode != 0 and "new name" in r.stderr, r.stderr
    assert not b.dir.exists()


def test_concurrent_creates(ctm, store):
    """Creates racing for a template not yet unpacked: one unpacks, the
    others wait on the lock and use it."""
    cts = [layered(ctm, store) for _ in range(4)]
    procs = [subprocess.Popen([str(VPS_CTM), "create", str(c.path)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for c in cts]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    names = sorted(p.name for p in store.iterdir())
    assert names == [f".{key_of(template())}.lock", key_of(template())], names
    links = {os.readlink(c.dir / "template") for c in cts}
    assert len(links) == 1


def test_monitor_killed_destroy_cleans(ctm, store):
    """A monitor killed outright leaves its mounts; destroy takes the
    overlay, the lower and the disk away in that order, and the monitor's
    dead /proc/meminfo mount."""
    ct = layered(ctm, store)
    ct.create()
    ct.start()
    ct.proc.kill()
    ct.proc.wait(timeout=10)
    ct._reaped()
    assert len(mounts_under(ct.dir)) == 4 and str(ct.dir / "proc") in mounts_under(ct.dir)
    subprocess.run([str(VPS_CT), "--root", str(ct.run_dir / "ct"),
                    "delete", "--force", ct.name], capture_output=True, timeout=60)
    ct.destroy()
    assert not mounts_under(ct.dir) and not ct.dir.exists()
    assert wait_for(lambda: not ct.loop_devices()), ct.loop_devices()  # freed just after


def test_bad_storage(tmp_path):
    ct = Ctm(tmp_path, template(), storage="zfs")
    try:
        r = ct.create(check=False)
        assert r.returncode == EXIT_CONFIG and "`storage`" in r.stderr, r
        assert not ct.dir.exists()
    finally:
        ct.cleanup()


def test_export_reads_the_layered_root(ctm, store, tmp_path):
    """`vps-ctm export` (src/ctm/export.c) of a layered container: the
    overlay is mounted for the read and gone after it, the stream holds the
    template's files and the container's own writes under the container's
    ids (0, not uid_base) and vps-tmpl-import takes it; a running container
    is refused."""
    import io
    import tarfile
    from framework.ct import BUILD
    ct = layered(ctm, store)
    ct.create()
    ct.start()
    ct.sh("echo layered > /root/mine; chown 1000:1000 /root/mine")
    out = tmp_path / "out.tar.zst"
    imp = str(BUILD / "src" / "tmpl" / "vps-tmpl-import")
    r = ct.ctm("export", "--", imp, "-", str(out))
    assert r.returncode != 0 and "it is running" in r.stderr, r
    ct.stop()
    assert not ct.mounted()
    r = ct.ctm("export", "--", imp, "-", str(out))
    assert r.returncode == 0, r
    assert '"init": "busybox"' in r.stdout, r
    assert not ct.mounted() and not mounts_under(ct.dir), "export left a mount"
    plain = subprocess.run(["zstd", "-q", "-d", "-c", str(out)], capture_output=True,
                           check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(plain)) as tf:
        m = {i.name.lstrip("./"): i for i in tf.getmembers()}
        assert tf.extractfile(m["root/mine"]).read() == b"layered\n"
        assert (m["root/mine"].uid, m["root/mine"].gid) == (1000, 1000)
        assert m["bin/busybox"].uid == 0 and m["bin/busybox"].isreg()
    ct.destroy()
