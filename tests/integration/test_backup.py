# SPDX-License-Identifier: GPL-2.0-or-later
"""Backups into restic repositories (issue 17, docs/backups.md), through
vpsd's API and the CLI, with a real restic repository made here: repositories
added and refused; two backups of a running container with a writer inside,
the second adding only changed chunks (the repository's growth measured); a
restore that brings deleted files back; a QEMU VM's backup restored in
place and as a second VM (--as); a container's backup restored --as a new
container beside the running original and after it was destroyed, each with
an identity of its own; kill -9 of vpsd mid-backup leaving nothing listed
and the container running, and mid-restore --as leaving no half VPS; and
attacks: another customer's backups (also once the VPS is destroyed, and
through a VPS of the same name), a restore --as past the quota, a customer
adding a repository, hostile names, paths and ids, and a repository whose
snapshot holds a link or a directory, which a restore must not write
anywhere. A container's backup is of its files (format=files): a second
of it unchanged adds almost nothing (restic's own count), owners, modes,
links, hard links, a fifo and a device node survive a restore in place
and --as into another uid range, hostile trees are refused and an
image-level backup of before still restores; a full repository says so;
a backup and a restore are cancelled as operations.

Run as root:
    VPS_BUILD=/work/main/build-test /usr/bin/python3 -m pytest -q test_backup.py"""

import hashlib
import json
import os
import shutil
import subprocess
import time

import pytest

from framework.ct import BUILD
from framework.openapi import start_vpsd
from framework.vpsd import VPSD, Vpsd, raise_spec_errors
from test_snapshot import customers
from test_vpsd_kill9 import Paused

pytestmark = [
    pytest.mark.skipif(not VPSD.exists(), reason=f"{VPSD} not built"),
    pytest.mark.skipif(shutil.which("restic") is None,
                       reason="restic is not installed (scripts/lib.sh installs it)"),
]

VPS = BUILD / "src" / "cli" / "vps"


@pytest.fixture
def vpsd():
    d = Vpsd().start()
    try:
        yield d
        if d.proc:
            d.destroy_all_and_stop()
    finally:
        d.cleanup()


def cli(d, *args):
    r = subprocess.run([str(VPS), *args], capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, VPS_SOCKET=str(d.checked().sock)))
    raise_spec_errors()
    return r


def ct(d, name, **kw):
    body = {"name": name, "kind": "ct", "template": "busybox", "ram": "128M", "disk": "64M"}
    body.update(kw)
    return d.api("POST", "/vps", body, expect=201)


def sh(d, name, script):
    r = d.api("POST", f"/vps/{name}/exec", {"args": ["sh", "-c", script]})
    return r["status"], r["stdout"]


def tree_bytes(path):
    """Bytes of the files under path (a restic repository's size)."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def restic(d, repo, *args):
    """restic on a repository vpsd made, with the password vpsd keeps."""
    url = json.loads((d.data / "repos" / repo / "repo.json").read_text())["url"]
    return subprocess.run(["restic", "--no-cache", "-r", url, "--password-file",
                           str(d.data / "repos" / repo / "password"), *args],
                          capture_output=True, text=True, timeout=300)


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- repositories -----------------------------------------------------------------------

def test_repos_add_list_refuse_rm(vpsd, tmp_path):
    assert vpsd.api("GET", "/repos") == []
    r = cli(vpsd, "repo", "add", "local", str(tmp_path / "repo"))
    assert r.returncode == 0, r.stderr
    repos = vpsd.api("GET", "/repos")
    assert [(x["name"], x["url"]) for x in repos] == [("local", str(tmp_path / "repo"))]
    # restic made it; the password is vpsd's, 0600, in its own directory, never shown
    assert (tmp_path / "repo" / "config").is_file()
    pw = vpsd.data / "repos" / "local" / "password"
    assert pw.stat().st_mode & 0o777 == 0o600 and len(pw.read_text().strip()) == 64
    assert (vpsd.data / "repos" / "local").stat().st_mode & 0o777 == 0o700
    assert pw.read_text().strip() not in json.dumps(repos)
    assert restic(vpsd, "local", "snapshots", "--json").stdout.strip() == "[]"
    r = cli(vpsd, "repo", "list", "--format", "json")
    assert [x["name"] for x in json.loads(r.stdout)] == ["local"], r

    afile = tmp_path / "file"
    afile.write_text("x")
    link = tmp_path / "link"
    link.symlink_to(tmp_path)
    pool = tmp_path / "pool"
    pool.mkdir()
    pool.chmod(0o711)
    vpsd.api("POST", "/pools", {"name": "p1", "path": str(pool)}, expect=201)
    bad = [
        ({"name": "rel", "url": "var/tmp/r"}, "expected an absolute path"),
        ({"name": "file", "url": str(afile)}, "not a directory"),
        ({"name": "gone", "url": str(tmp_path / "no" / "such")}, "No such file"),
        ({"name": "link", "url": str(link / "r")}, "give that"),
        ({"name": "dots", "url": f"{tmp_path}/../{tmp_path.name}/r"}, "give that"),
        ({"name": "data", "url": str(vpsd.data / "r")}, "vpsd's own"),
        ({"name": "vpsdir", "url": str(vpsd.data / "vps" / "r")}, "vpsd's own"),
        ({"name": "root", "url": "/"}, "no directory name"),
        ({"name": "above", "url": str(vpsd.base)}, "vpsd's own"),
        ({"name": "inpool", "url": str(pool / "r")}, "storage pool"),
        ({"name": "sftpopt", "url": "sftp:-oProxyCommand=touch%20/tmp/pwned:/r"}, "sftp:"),
        ({"name": "sftpopt2", "url": "sftp:user@-oProxyCommand=x:/r"}, "sftp:"),
        ({"name": "sftprel", "url": "sftp:host:r"}, "sftp:"),
        ({"name": "ftp", "url": "ftp://host/r"}, "expected an absolute path"),
        ({"name": "restopt", "url": "rest:http://-x/r"}, "rest:"),
        ({"name": "space", "url": "/tmp/a b"}, "`url`"),
        ({"name": "nl", "url": "/tmp/a\nb"}, "`url`"),
        ({"name": "Bad", "url": str(tmp_path / "r2")}, "`name`"),
        ({"name": "../x", "url": str(tmp_path / "r2")}, "`name`"),
        ({"name": "x" * 33, "url": str(tmp_path / "r2")}, "`name`"),
        ({"name": "extra", "url": str(tmp_path / "r2"), "password": "mine"}, "`password`"),
    ]
    for body, words in bad:
        code, j = vpsd.request("POST", "/api/v1/repos", body)
        assert code == 400 and words in j["error"]["message"], (body, code, j)
    code, j = vpsd.request("POST", "/api/v1/repos", {"name": "local", "url": str(tmp_path / "r3")})
    assert code == 409, j
    code, j = vpsd.request("POST", "/api/v1/repos", {"name": "again", "url": str(tmp_path / "repo")})
    assert code == 409, j
    # nothing was made for any of them
    assert sorted(os.listdir(vpsd.data / "repos")) == ["local"]
    assert not (tmp_path / "r2").exists() and not os.path.exists("/tmp/pwned")

    # one that holds a backup keeps its password: refused until it is empty
    ct(vpsd, "r1")
    made = vpsd.api("POST", "/vps/r1/backups", {}, expect=201)
    code, j = vpsd.request("DELETE", "/api/v1/repos/local")
    assert code == 409 and "holds 1 backups" in j["error"]["message"], j
    vpsd.api("DELETE", f"/vps/r1/backups/{made['id']}")
    r = cli(vpsd, "repo", "rm", "local")
    assert r.returncode == 0, r.stderr
    assert vpsd.api("GET", "/repos") == [] and not (vpsd.data / "repos" / "local").exists()
    assert (tmp_path / "repo" / "config").is_file()  # the repository itself is left alone
    code, _ = vpsd.request("DELETE", "/api/v1/repos/local")
    assert code == 404
    # with no repository a backup says what is missing
    code, j = vpsd.request("POST", "/api/v1/vps/r1/backups", {})
    assert code == 400 and "`repo`" in j["error"]["message"], j


# --- backup, incremental, restore -------------------------------------------------------

def test_backup_of_a_running_container_incremental_and_restore(vpsd, tmp_path):
    repo = tmp_path / "repo"
    vpsd.api("POST", "/repos", {"name": "local", "url": str(repo)}, expect=201)
    after_init = tree_bytes(repo)
    ct(vpsd, "b1", start=True)
    assert sh(vpsd, "b1", "dd if=/dev/urandom of=/root/big bs=1M count=16 2>/dev/null && "
              "echo precious > /root/data && sync") == (0, "")
    # a writer runs inside through both backups
    status, _ = sh(vpsd, "b1", "(i=0; while :; do i=$((i+1)); echo $i > /root/count; "
                   "echo line $i >> /root/log; sleep 0.05; done) >/dev/null 2>&1 </dev/null &")
    assert status == 0

    t0 = time.monotonic()
    r = cli(vpsd, "backup", "create", "b1")
    first_s = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    assert "backing up b1:" in r.stderr and "100%" in r.stderr, r.stderr  # the progress line
    first = tree_bytes(repo) - after_init
    assert first > 16 << 20, first  # the random data went in (restic compresses nothing in 0.14)
    assert vpsd.api("GET", "/vps/b1")["state"] == "running"

    # a small change: the second adds its chunks and little else
    assert sh(vpsd, "b1", "dd if=/dev/urandom of=/root/small bs=64k count=1 2>/dev/null"
              " && sync") == (0, "")
    t0 = time.monotonic()
    r = cli(vpsd, "backup", "create", "b1", "--repo", "local", "--format", "json")
    second_s = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    made = json.loads(r.stdout)
    second = tree_bytes(repo) - after_init - first
    print(f"repository growth: first {first} B in {first_s:.1f} s, "
          f"second {second} B in {second_s:.1f} s (restic said {made['added']} B)")
    # restic's chunks are 0.5 to 8 MiB: each region the writer, the new file and
    # the journal touched costs a chunk (docs/backups.md has the figures)
    assert second < first / 5, (first, second)
    assert 0 < made["added"] < 8 << 20, made
    assert made["format"] == "files", made  # a container's files, not its image
    assert made["size"] >= 16 << 20, made  # the files restic looked at

    backups = json.loads(cli(vpsd, "backup", "list", "b1", "--format", "json").stdout)
    assert len(backups) == 2 and backups[1]["id"] == made["id"], backups
    assert all(len(b["id"]) == 8 and b["repo"] == "local" and b["size"] >= 64 << 20
               for b in backups), backups
    r = cli(vpsd, "backup", "list", "b1")
    assert r.returncode == 0 and backups[0]["id"] in r.stdout, r
    # the staging copy is gone, no snapshot was listed for it
    assert not (vpsd.data / "vps" / "b1" / "snapshots" / ".backup").exists()
    assert vpsd.api("GET", "/vps/b1/snapshots") == []

    # the writer ran on through both
    _, c1 = sh(vpsd, "b1", "cat /root/count")
    time.sleep(0.5)
    _, c2 = sh(vpsd, "b1", "cat /root/count")
    assert int(c2) > int(c1), (c1, c2)

    # files deleted, then the first backup restored: they are back, the later one gone
    _, big_sum = sh(vpsd, "b1", "sha256sum /root/big")
    assert sh(vpsd, "b1", "rm /root/data /root/big && sync") == (0, "")
    img = vpsd.data / "vps" / "b1" / "ct" / "disk.img"
    alloc = os.getxattr(img, "user.vps.disk.alloc")
    r = cli(vpsd, "backup", "restore", "b1", backups[0]["id"])
    assert r.returncode == 0, r.stderr
    assert "restoring b1:" in r.stderr, r.stderr
    assert vpsd.api("GET", "/vps/b1")["state"] == "running"  # stopped, restored, started
    assert sh(vpsd, "b1", "cat /root/data") == (0, "precious\n")
    assert sh(vpsd, "b1", "sha256sum /root/big") == (0, big_sum)
    assert sh(vpsd, "b1", "test -e /root/small; echo $?") == (0, "1\n")
    assert os.getxattr(img, "user.vps.disk.alloc") == alloc  # thin stays thin
    # the restored image keeps its holes (a 64 MiB disk, far fewer blocks)
    assert img.stat().st_blocks * 512 < 48 << 20, img.stat()
    assert not (vpsd.data / "vps" / "b1" / "snapshots" / ".restore").exists()
    events = [e["kind"] for e in vpsd.api("GET", "/events?vps=b1")]
    assert "backup" in events and "restore" in events, events

    # a stopped VPS is restored too, and stays stopped
    vpsd.api("POST", "/vps/b1/stop")
    vpsd.api("POST", f"/vps/b1/backups/{backups[1]['id']}/restore", {})
    assert vpsd.api("GET", "/vps/b1")["state"] == "stopped"
    vpsd.api("POST", "/vps/b1/start")
    assert sh(vpsd, "b1", "test -e /root/small; echo $?") == (0, "0\n")

    # removal forgets it in restic and prunes
    r = cli(vpsd, "backup", "rm", "b1", backups[0]["id"])
    assert r.returncode == 0, r.stderr
    assert [b["id"] for b in vpsd.api("GET", "/vps/b1/backups")] == [backups[1]["id"]]
    assert len(json.loads(restic(vpsd, "local", "snapshots", "--json").stdout)) == 1


def test_a_full_repository_says_so_and_changes_nothing(vpsd, tmp_path):
    """A repository on a filesystem with no room left (a 4 MiB tmpfs): the
    backup fails with a message that says the repository is full, nothing
    is listed, the container runs on, and no staging copy stays."""
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(small)],
                   check=True)
    try:
        vpsd.api("POST", "/repos", {"name": "tiny", "url": str(small / "repo")}, expect=201)
        ct(vpsd, "z1", start=True)
        assert sh(vpsd, "z1", "dd if=/dev/urandom of=/root/big bs=1M count=8 2>/dev/null "
                  "&& sync") == (0, "")
        code, j = vpsd.request("POST", "/api/v1/vps/z1/backups", {})
        msg = j["error"]["message"]
        assert code == 409 and j["error"]["code"] == "no_room", (code, j)
        assert "repository `tiny` is full" in msg and "no space left" in msg, msg
        assert vpsd.api("GET", "/vps/z1/backups") == []
        assert vpsd.api("GET", "/vps/z1")["state"] == "running"
        assert not (vpsd.data / "vps" / "z1" / "snapshots" / ".backup").exists()
    finally:
        subprocess.run(["umount", "-l", str(small)])


def test_cancel_a_backup_and_a_restore(vpsd, tmp_path):
    """A backup as an operation, cancelled while restic reads (DELETE
    /operations/ID): the operation ends `cancelled`, no backup is listed,
    the container runs on, no staging copy stays; a restore cancelled the
    same way leaves the container's disk as it was. Then both go through."""
    vpsd.api("POST", "/repos", {"name": "local", "url": str(tmp_path / "repo")}, expect=201)
    ct(vpsd, "x1", disk="192M", start=True)
    assert sh(vpsd, "x1", "dd if=/dev/urandom of=/root/big bs=1M count=96 2>/dev/null "
              "&& echo mine > /root/m && sync") == (0, "")

    def cancelled(path):
        code, j = vpsd.request("POST", "/api/v1" + path, {})
        assert code == 202, j
        op, sent = j["operation"]["id"], False
        for _ in range(3000):
            o = vpsd.api("GET", f"/operations/{op}")
            if o["state"] != "running":
                break
            if not sent and o.get("progress", 0) > 0:
                assert vpsd.request("DELETE", f"/api/v1/operations/{op}")[0] == 202
                sent = True
            time.sleep(0.02)
        assert sent and o["state"] == "failed" and o["error"]["code"] == "cancelled", o

    cancelled("/vps/x1/backups?async=1")
    assert vpsd.api("GET", "/vps/x1/backups") == []
    assert json.loads(restic(vpsd, "local", "snapshots", "--json").stdout) == []
    assert vpsd.api("GET", "/vps/x1")["state"] == "running"
    assert not (vpsd.data / "vps" / "x1" / "snapshots" / ".backup").exists()
    made = vpsd.api("POST", "/vps/x1/backups", {}, expect=201)
    assert sh(vpsd, "x1", "echo later > /root/m && sync") == (0, "")
    cancelled(f"/vps/x1/backups/{made['id']}/restore?async=1")
    assert vpsd.api("GET", "/vps/x1")["state"] == "running"
    assert sh(vpsd, "x1", "cat /root/m") == (0, "later\n")
    assert not (vpsd.data / "vps" / "x1" / "snapshots" / ".restore").exists()
    vpsd.api("POST", f"/vps/x1/backups/{made['id']}/restore", {})
    assert sh(vpsd, "x1", "cat /root/m") == (0, "mine\n")


# --- kill -9 mid-backup -----------------------------------------------------------------

def test_kill9_mid_backup_leaves_nothing_listed(vpsd, tmp_path):
    vpsd.api("POST", "/repos", {"name": "local", "url": str(tmp_path / "repo")}, expect=201)
    ct(vpsd, "k1", start=True)
    p = Paused(vpsd, "backup-copied", "k1", "POST", "/api/v1/vps/k1/backups", {})
    staged = vpsd.data / "vps" / "k1" / "snapshots" / ".backup" / "files" / "root"
    assert f" {staged} " in open("/proc/self/mountinfo").read()  # the copy, mounted
    p.kill9()
    # the restarted vpsd unmounted what the killed one left mounted
    for _ in range(100):
        if f" {staged} " not in open("/proc/self/mountinfo").read():
            break
        time.sleep(0.1)
    assert f" {staged} " not in open("/proc/self/mountinfo").read()
    assert vpsd.api("GET", "/vps/k1/backups") == []
    assert json.loads(restic(vpsd, "local", "snapshots", "--json").stdout) == []
    # the container was thawed and runs on
    assert vpsd.api("GET", "/vps/k1")["state"] == "running"
    assert sh(vpsd, "k1", "echo alive")[1] == "alive\n"
    assert vpsd.api("GET", "/vps/k1/snapshots") == []
    # the next backup goes through, and takes what the crash left away
    made = vpsd.api("POST", "/vps/k1/backups", {}, expect=201)
    assert [b["id"] for b in vpsd.api("GET", "/vps/k1/backups")] == [made["id"]]
    assert not (vpsd.data / "vps" / "k1" / "snapshots" / ".backup").exists()


# --- attacks ----------------------------------------------------------------------------

def customers_and_repo(d, tmp_path):
    """test_snapshot.customers, and a repository `local` in tmp_path."""
    admin, alice, bob = customers(d)
    admin.api("POST", "/repos", {"name": "local", "url": str(tmp_path / "repo")}, expect=201)
    return admin, alice, bob


def test_customers_cannot_touch_anothers_backups_or_the_host(tmp_path):
    d = start_vpsd()
    try:
        admin, alice, bob = customers_and_repo(d, tmp_path)
        for c, n in [(alice, "a1"), (bob, "b1")]:
            c.api("POST", "/vps", {"name": n, "kind": "ct", "template": "busybox",
                                   "plan": "small"}, expect=201)
        mine = alice.api("POST", "/vps/a1/backups", {}, expect=201)
        disk = d.data / "vps" / "a1" / "ct" / "disk.img"
        bdisk = d.data / "vps" / "b1" / "ct" / "disk.img"
        before, bbefore = sha(disk), sha(bdisk)

        # bob sees no VPS a1: the 404 of one that does not exist, for every verb
        nobody = bob.request("GET", "/vps/nosuch/backups")
        for method, path, body in [
                ("GET", "/vps/a1/backups", None),
                ("POST", "/vps/a1/backups", {}),
                ("POST", f"/vps/a1/backups/{mine['id']}/restore", {}),
                ("POST", f"/vps/a1/backups/{mine['id']}/restore?async=1", {}),
                ("DELETE", f"/vps/a1/backups/{mine['id']}", None),
                ("GET", "/vps/a1/backup-schedule", None),
                ("PUT", "/vps/a1/backup-schedule", {"daily": "03:00"}),
                ("DELETE", "/vps/a1/backup-schedule", None)]:
            r = bob.request(method, path, body)
            assert r.status == 404 and r.json == json.loads(
                nobody.text.replace("nosuch", "a1")), (method, path, r.status, r.json)
        # nor is alice's backup bob's through his own VPS: the id is not one of b1's
        for method, path, body in [
                ("POST", f"/vps/b1/backups/{mine['id']}/restore", {}),
                ("POST", f"/vps/b1/backups/{mine['full_id']}/restore", {}),
                ("DELETE", f"/vps/b1/backups/{mine['id']}", None)]:
            r = bob.request(method, path, body)
            assert r.status == 404, (method, path, r.status, r.json)
        assert bob.api("GET", "/vps/b1/backups") == []
        # repositories are the provider's
        assert bob.request("GET", "/repos").status == 403
        assert bob.request("POST", "/repos", {"name": "mine", "url": "/tmp/bobs"}).status == 403
        assert bob.request("DELETE", "/repos/local").status == 403
        assert not os.path.exists("/tmp/bobs")
        # a customer names no repository that is not there, and no field of his own
        r = bob.request("POST", "/vps/b1/backups", {"repo": "../../etc"})
        assert r.status == 400, r.json
        r = bob.request("POST", "/vps/b1/backups", {"repo": "local", "path": "/etc"})
        assert r.status == 400, r.json
        r = bob.request("POST", "/vps/b1/backups/00000000/restore", {"_id": mine["id"]})
        assert r.status == 400, r.json

        # ids that are not ids
        for seg in ["..%2F..%2Fetc", "%2E%2E", "ZZZZZZZZ", "abc", "a" * 65, "latest",
                    "-h", mine["id"][:7]]:
            for method, path in [("DELETE", f"/vps/a1/backups/{seg}"),
                                 ("POST", f"/vps/a1/backups/{seg}/restore")]:
                r = alice.request(method, path, {} if method == "POST" else None,
                                  validate=False)
                assert r.status in (400, 404), (method, path, r.status)
        r = alice.request("POST", f"/vps/a1/backups/{mine['id']}/restore", {"as": "../x"})
        assert r.status == 400, r.json

        # a customer's schedule is an hour apart at the closest
        r = alice.request("PUT", "/vps/a1/backup-schedule", {"every": 60})
        assert r.status == 400 and "3600" in r.json["error"]["message"], r.json
        assert not (d.data / "vps" / "a1" / "backup-schedule.json").exists()
        assert not (d.data / "vps" / "b1" / "backup-schedule.json").exists()
        # the host unchanged: alice's one backup, both disks, the VPSes
        assert [b["id"] for b in alice.api("GET", "/vps/a1/backups")] == [mine["id"]]

        # a quota of backups (docs/auth.md): bob's one is his limit; a second is refused
        # with the numbers, now or as an operation, and he cannot raise it himself
        admin.api("PATCH", "/users/bob", {"quota": {"backups": 1}})
        bob.api("POST", "/vps/b1/backups", {}, expect=201)
        for path in ("/vps/b1/backups", "/vps/b1/backups?async=1"):
            r = bob.request("POST", path, {})
            assert r.status == 403 and r.code == "quota", (path, r.json)
            assert "quota of user `bob`: backups: 1 of 1 used, 1 asked" in r.message, r.message
        r = bob.request("PATCH", "/users/bob", {"quota": {"backups": 9}})
        assert r.status in (403, 404), r.json
        assert len(bob.api("GET", "/vps/b1/backups")) == 1
        r = admin.request("PATCH", "/users/bob", {"quota": {"backups": -1}})
        assert r.status == 400 and "quota.backups" in r.message, r.json
        alice.api("POST", "/vps/a1/backups", {}, expect=201)  # alice has no quota
        # plans are the provider's: a customer gives hers no schedule of seconds (nor any),
        # and moves no VPS onto another plan
        small = admin.api("GET", "/plans/small")
        for method, path, body in [
                ("POST", "/plans", dict(small, backup={"every": 5, "keep_last": 1})),
                ("POST", "/plans", {"name": "mine", "ram": "128M", "disk": "64M", "cpus": 1,
                                    "backup": {"every": 5}}),
                ("DELETE", "/plans/small", None),
                ("POST", "/vps/a1/plan", {"plan": "small"})]:
            r = alice.request(method, path, body)
            assert r.status == 403, (method, path, r.status, r.json)
        assert admin.api("GET", "/plans") == [small] and small["backup"] == {}
        assert not (d.data / "vps" / "a1" / "backup-plan.json").exists()
        assert sha(disk) == before and sha(bdisk) == bbefore
        assert sorted(v["name"] for v in admin.api("GET", "/vps")) == ["a1", "b1"]
        d.destroy_all_and_stop()
    finally:
        d.cleanup()


@pytest.mark.parametrize("what", ["link", "dir", "dotdot", "image", "files-link",
                                  "files-extra"])
def test_restore_never_writes_outside_the_vps(vpsd, tmp_path, what):
    """A repository's snapshot made to look like the VPS's backup (its tags
    and path), as someone holding the repository's password could: of disk
    images (the format before containers' files were backed up, no
    `format=files` tag) holding a link to a host file, a subdirectory, or a
    file named to climb out; or of files whose root/ is a link to a host
    directory, or with a disk image beside root/. Each restore is refused,
    the host file and the VPS's disk unchanged. And an image-level backup of
    the real disk, as one taken before, still restores."""
    vpsd.api("POST", "/repos", {"name": "local", "url": str(tmp_path / "repo")}, expect=201)
    ct(vpsd, "h1")
    real = vpsd.api("POST", "/vps/h1/backups", {}, expect=201)
    snap = [s for s in json.loads(restic(vpsd, "local", "snapshots", "--json").stdout)
            if s["id"] == real["full_id"]][0]
    assert "format=files" in snap["tags"] and real["format"] == "files", snap
    settings = restic(vpsd, "local", "dump", real["full_id"], "/vps.json").stdout
    disk = vpsd.data / "vps" / "h1" / "ct" / "disk.img"
    before = sha(disk)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "f").write_text("host file\n")

    # the same path restic read, filled with something hostile
    files = what.startswith("files")
    top = snap["paths"][0] if files else os.path.dirname(snap["paths"][0])
    staged = tmp_path / "staged"
    shutil.rmtree(top, ignore_errors=True)
    os.makedirs(top)
    try:
        if what == "link":
            os.symlink(victim / "f", os.path.join(top, "disk.img"))
        elif what == "dir":
            os.makedirs(os.path.join(top, "disk.img"))
            with open(os.path.join(top, "disk.img", "x"), "w") as f:
                f.write("x")
        elif what == "dotdot":
            os.makedirs(os.path.join(top, "sub"))
            with open(os.path.join(top, "sub", "..disk.img"), "w") as f:
                f.write("x")
        elif what == "image":
            shutil.copyfile(disk, os.path.join(top, "disk.img"))
        if files:
            os.makedirs(os.path.join(top, "root", "x"))
        if what == "files-link":
            os.rmdir(os.path.join(top, "root", "x"))
            os.rmdir(os.path.join(top, "root"))
            os.symlink(victim, os.path.join(top, "root"))
        elif what == "files-extra":
            with open(os.path.join(top, "disk.img"), "w") as f:
                f.write("x")
        with open(os.path.join(top, "vps.json"), "w") as f:
            f.write(settings)
        tags = sum([["--tag", t] for t in snap["tags"] if files or t != "format=files"], [])
        r = subprocess.run(["restic", "--no-cache", "-r", str(tmp_path / "repo"),
                            "--password-file", str(vpsd.data / "repos" / "local" / "password"),
                            "backup", "--host", snap["hostname"], *tags,
                            "." if files else top],
                           capture_output=True, text=True, timeout=300, cwd=top)
        assert r.returncode == 0, r.stderr
    finally:
        shutil.rmtree(top, ignore_errors=True)
    hostile = json.loads(restic(vpsd, "local", "snapshots", "--json", "latest").stdout)[0]
    listed = {b["id"]: b for b in vpsd.api("GET", "/vps/h1/backups")}
    assert hostile["short_id"] in listed  # it passes for one of h1's
    assert listed[hostile["short_id"]]["format"] == ("files" if files else "image")
    code, j = vpsd.request("POST", f"/api/v1/vps/h1/backups/{hostile['short_id']}/restore", {})
    if what == "image":
        assert code == 200, j  # an image-level backup restores as it always did
        assert sha(disk) == before
    else:
        words = "other than a container's files" if files else "other than disk files"
        assert code == 400 and words in j["error"]["message"], j
    assert sorted(os.listdir(victim)) == ["f"] and (victim / "f").read_text() == "host file\n"
    assert sha(disk) == before
    assert not staged.exists()
    assert not (vpsd.data / "vps" / "h1" / "snapshots" / ".restore").exists()
    # the real one still restores
    vpsd.api("POST", f"/vps/h1/backups/{real['id']}/restore", {})
    vpsd.api("POST", "/vps/h1/start")
    assert sh(vpsd, "h1", "echo alive")[1] == "alive\n"


# the files of a container as its root sees them: type, owner, mode, links, a device's numbers
LISTING = ("cd /root/t && for f in a hard sym fifo b ../null; do "
           "stat -c '%n %F %u:%g %a %h %t,%T' $f; done; readlink sym; cat a; md5sum b; "
           "stat -c %i a hard | uniq | wc -l")


def test_file_backup_keeps_owners_modes_links_and_devices(vpsd, tmp_path):
    """A container's backup is of its files (format=files): a second backup
    of it unchanged adds almost nothing (restic's own count of what it
    added), a changed file costs about its own size; restored in place
    after the files were removed, and --as a new container in another uid
    range, every file is as the container saw it: owner (its shifted ids
    exactly), mode with the set-uid bit, a symlink, a hard link, a fifo and
    a device node (made the way a template holds one: a container cannot
    make one in its user namespace)."""
    from test_clone import uid_base
    repo = tmp_path / "repo"
    vpsd.api("POST", "/repos", {"name": "local", "url": str(repo)}, expect=201)
    ct(vpsd, "f1")
    base = uid_base(vpsd, "f1")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-o", "loop", str(vpsd.data / "vps" / "f1" / "ct" / "disk.img"),
                    str(mnt)], check=True)
    try:
        os.mknod(mnt / "root" / "null", 0o620 | 0o020000, os.makedev(1, 3))
        os.chown(mnt / "root" / "null", base, base + 5)
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
    vpsd.api("POST", "/vps/f1/start")
    assert sh(vpsd, "f1", "mkdir /root/t && cd /root/t && echo one > a && chown 1234:5678 a "
              "&& chmod 4750 a && ln a hard && ln -s ../t/a sym && chown -h 42:43 sym "
              "&& mkfifo fifo && chown 7:8 fifo && chmod 600 fifo && echo b > b && sync")[0] == 0
    st, want = sh(vpsd, "f1", LISTING)
    assert st == 0 and "a regular file 1234:5678 4750 2" in want and "1,3" in want, want

    first = vpsd.api("POST", "/vps/f1/backups", {}, expect=201)
    assert first["format"] == "files", first
    grown = tree_bytes(repo)
    again = vpsd.api("POST", "/vps/f1/backups", {}, expect=201)
    unchanged = tree_bytes(repo) - grown
    assert sh(vpsd, "f1", "dd if=/dev/urandom of=/root/t/b bs=64k count=4 2>/dev/null "
              "&& sync")[0] == 0
    changed = vpsd.api("POST", "/vps/f1/backups", {}, expect=201)
    print(f"first added {first['added']} B; unchanged: {again['added']} B "
          f"(repository +{unchanged} B); 256 KiB changed: {changed['added']} B")
    # restic read nothing unchanged (metadata, the same path): only the snapshot's trees
    assert again["added"] < 64 << 10 and unchanged < 128 << 10, (again, unchanged)
    assert 256 << 10 <= changed["added"] < 512 << 10, changed
    st, want = sh(vpsd, "f1", LISTING)
    assert st == 0, want

    # removed, then restored in place (the running container stopped, restored, started)
    assert sh(vpsd, "f1", "rm -rf /root/t /root/null && sync")[0] == 0
    vpsd.api("POST", f"/vps/f1/backups/{changed['id']}/restore", {})
    assert vpsd.api("GET", "/vps/f1")["state"] == "running"
    assert sh(vpsd, "f1", LISTING) == (0, want)
    # --as into another uid range: the ids the container sees are the same
    vpsd.api("POST", f"/vps/f1/backups/{changed['id']}/restore", {"as": "f2"})
    assert uid_base(vpsd, "f2") != base
    vpsd.api("POST", "/vps/f2/start")
    assert sh(vpsd, "f2", LISTING) == (0, want)
    assert not (vpsd.data / "vps" / "f1" / "snapshots" / ".restore").exists()


# --- schedules and retention ------------------------------------------------------------

def test_schedule_fires_and_retention_prunes(vpsd, tmp_path):
    """A schedule of seconds (an administrator's; the same timer and code as a
    daily one) fires on its own, and keep-daily 7 leaves one backup of
    today, as restic's forget --prune keeps the newest of each day."""
    vpsd.api("POST", "/repos", {"name": "local", "url": str(tmp_path / "repo")}, expect=201)
    ct(vpsd, "s1", start=True)
    manual = vpsd.api("POST", "/vps/s1/backups", {}, expect=201)
    r = cli(vpsd, "backup", "schedule", "s1", "--every", "5", "--keep-daily", "7")
    assert r.returncode == 0 and "every 5 s" in r.stdout, (r.stdout, r.stderr)
    shown = json.loads(cli(vpsd, "backup", "schedule", "s1", "--format", "json").stdout)
    assert shown["every"] == 5 and shown["keep_daily"] == 7 and shown["repo"] == "local"
    assert shown["next"] <= time.time() + 5

    def scheduled():
        return [e for e in vpsd.api("GET", "/events?vps=s1") if e["kind"] == "backup"
                and e["message"] != manual["id"]]
    deadline = time.monotonic() + 120
    while len(scheduled()) < 2 or "backup-pruned" not in [
            e["kind"] for e in vpsd.api("GET", "/events?vps=s1")][-1:]:
        assert time.monotonic() < deadline, vpsd.api("GET", "/events?vps=s1")
        time.sleep(0.5)
    r = cli(vpsd, "backup", "schedule", "s1", "--off")
    assert r.returncode == 0, r.stderr
    time.sleep(1)  # a run that had started ends; none starts now
    runs = scheduled()
    # two or more ran, each pruned: one backup of today is left, the newest
    listed = vpsd.api("GET", "/vps/s1/backups")
    assert [b["id"] for b in listed] == [runs[-1]["message"]], (listed, runs)
    assert len(json.loads(restic(vpsd, "local", "snapshots", "--json").stdout)) == 1
    assert vpsd.api("GET", "/vps/s1")["state"] == "running"
    code, _ = vpsd.request("GET", "/api/v1/vps/s1/backup-schedule")
    assert code == 404

    # refused: two rules, neither, a bad time, hostile keep values, an unknown repository
    for body in [{"daily": "03:00", "every": 60}, {}, {"daily": "24:00"}, {"daily": "3:00"},
                 {"daily": "03:00", "keep_daily": -1}, {"daily": "03:00", "keep_last": 10**6},
                 {"daily": "03:00", "keep_daily": "7; rm -rf /"}, {"daily": "03:00", "repo": "x"},
                 {"every": 1}, {"daily": "03:00", "at": "now"}]:
        code, j = vpsd.request("PUT", "/api/v1/vps/s1/backup-schedule", body)
        assert code == 400, (body, code, j)
    # a daily time: today's or tomorrow's, spread within 15 minutes
    s = vpsd.api("PUT", "/vps/s1/backup-schedule", {"daily": "03:00", "keep_daily": 7})
    now = time.time()
    base = now - now % 86400 + 3 * 3600
    assert any(b <= s["next"] < b + 900 for b in (base, base + 86400)) and s["next"] > now, s


def test_plan_schedule_fires_prunes_and_a_vps_own_wins(vpsd, tmp_path):
    """A plan's schedule of seconds backs up each VPS on it that has none of
    its own, through the same timer and retention as a VPS's own (keep-daily
    7: one backup of today left); a VPS on that plan with its own schedule
    follows its own only; bad rules are refused by name, the plan unchanged."""
    vpsd.api("POST", "/repos", {"name": "local", "url": str(tmp_path / "repo")}, expect=201)
    r = cli(vpsd, "plan", "create", "nightly", "--ram", "128M", "--disk", "64M", "--cpus", "1")
    assert r.returncode == 0, r.stderr
    plan = vpsd.api("GET", "/plans/nightly")
    assert plan["backup"] == {}
    base = {"name": "nightly", "ram": "128M", "disk": "64M", "cpus": 1}
    for name in ("p1", "p2"):
        vpsd.api("POST", "/vps", {"name": name, "kind": "ct", "template": "busybox",
                                  "plan": "nightly", "start": True}, expect=201)
    # p2's own schedule (an hour apart) is set before the plan has one
    vpsd.api("PUT", "/vps/p2/backup-schedule", {"every": 3600, "keep_last": 1})

    # refused, each naming its field; the plan as it was
    for args, field in [(["--backup-daily", "25:00"], "backup.daily"),
                        (["--backup-daily", "3:00"], "backup.daily"),
                        (["--backup-every", "1"], "backup.every"),
                        (["--backup-every", "5", "--backup-keep-daily", "7; rm -rf /"],
                         "backup.keep_daily"),
                        (["--backup-every", "5", "--backup-keep-last", "-1"], "backup.keep_last"),
                        (["--backup-every", "5", "--backup-repo", "../etc"], "backup.repo"),
                        (["--backup-daily", "03:00", "--backup-every", "5"], "backup.daily")]:
        r = cli(vpsd, "plan", "create", "nightly", "--ram", "128M", "--disk", "64M",
                "--cpus", "1", *args)
        assert r.returncode != 0 and f"`{field}" in r.stderr, (args, r.stderr)
    r = cli(vpsd, "plan", "create", "nightly", "--ram", "128M", "--disk", "64M", "--cpus", "1",
            "--backup-keep-daily", "7")
    assert r.returncode == 2 and "--backup-daily or --backup-every" in r.stderr, r.stderr
    for bad in ["daily", ["03:00"], {"daily": "03:00", "at": "now"}, {"every": 10**9},
                {"every": 5, "keep_monthly": 1001}, {"every": 5.5}, {"daily": None}]:
        body = dict(base, backup=bad)
        code, j = vpsd.request("POST", "/api/v1/plans", body, validate=False)
        assert code == 400 and "`backup" in j["error"]["message"], (bad, code, j)
    assert vpsd.api("GET", "/plans/nightly") == plan

    r = cli(vpsd, "plan", "create", "nightly", "--ram", "128M", "--disk", "64M", "--cpus", "1",
            "--backup-every", "5", "--backup-keep-daily", "7")
    assert r.returncode == 0, r.stderr
    rule = {"repo": "local", "every": 5, "keep_last": 0, "keep_daily": 7, "keep_weekly": 0,
            "keep_monthly": 0}
    assert vpsd.api("GET", "/plans/nightly")["backup"] == rule
    # a plan change onto it takes the figures, not the schedule (a plan's, not the VPS's)
    vpsd.api("POST", "/vps/p1/plan", {"plan": "nightly"})
    shown = vpsd.api("GET", "/vps/p1/backup-schedule")
    assert shown["from"] == "plan" and shown["every"] == 5 and shown["keep_daily"] == 7
    assert time.time() - 1 <= shown["next"] <= time.time() + 6, shown
    assert vpsd.api("GET", "/vps/p2/backup-schedule")["every"] == 3600  # its own
    # a VPS with only its plan's has nothing of its own to remove
    code, j = vpsd.request("DELETE", "/api/v1/vps/p1/backup-schedule")
    assert code == 404 and "of its own" in j["error"]["message"], j

    def taken(name):
        return [e for e in vpsd.api(f"GET", f"/events?vps={name}") if e["kind"] == "backup"]
    deadline = time.monotonic() + 120
    while len(taken("p1")) < 2 or "backup-pruned" not in [
            e["kind"] for e in vpsd.api("GET", "/events?vps=p1")][-1:]:
        assert time.monotonic() < deadline, vpsd.api("GET", "/events?vps=p1")
        time.sleep(0.5)
    # the plan's schedule taken away: none starts now
    vpsd.api("POST", "/plans", dict(base, backup={}), expect=201)
    time.sleep(1)
    runs = taken("p1")
    listed = vpsd.api("GET", "/vps/p1/backups")
    assert [b["id"] for b in listed] == [runs[-1]["message"]], (listed, runs)
    assert [e["kind"] for e in vpsd.api("GET", "/events?vps=p1")].count("backup-pruned") >= 2
    # p2 followed its own schedule (an hour away) all along, never its plan's
    assert taken("p2") == [] and vpsd.api("GET", "/vps/p2/backups") == []
    assert not (vpsd.data / "vps" / "p2" / "backup-plan.json").exists()
    assert vpsd.api("GET", "/vps/p1")["state"] == "running"
    code, _ = vpsd.request("GET", "/api/v1/vps/p1/backup-schedule")
    assert code == 404
    time.sleep(6)  # a whole period: nothing more
    assert taken("p1") == runs
    # a plan's daily time is spread per VPS as a VPS's own is: within 15 minutes after it
    vpsd.api("POST", "/plans", dict(base, backup={"daily": "03:00", "keep_daily": 7}),
             expect=201)
    s = vpsd.api("GET", "/vps/p1/backup-schedule")
    now = time.time()
    day = now - now % 86400 + 3 * 3600
    assert s["from"] == "plan" and s["next"] > now, s
    assert any(b <= s["next"] < b + 900 for b in (day, day + 86400)), s


def test_kill9_mid_restore_leaves_the_vps_whole(vpsd, tmp_path):
    """vpsd killed once a restore has fetched the files, before the VPS is
    stopped: the VPS runs on its own disk, untouched; the restore asked
    again goes through and the leftovers are gone."""
    vpsd.api("POST", "/repos", {"name": "local", "url": str(tmp_path / "repo")}, expect=201)
    ct(vpsd, "k2", start=True)
    assert sh(vpsd, "k2", "echo one > /root/f && sync") == (0, "")
    made = vpsd.api("POST", "/vps/k2/backups", {}, expect=201)
    assert sh(vpsd, "k2", "echo two > /root/f && sync") == (0, "")
    p = Paused(vpsd, "restore-fetched", "k2", "POST",
               f"/api/v1/vps/k2/backups/{made['id']}/restore", {})
    p.kill9()
    assert vpsd.api("GET", "/vps/k2")["state"] == "running"
    assert sh(vpsd, "k2", "cat /root/f") == (0, "two\n")
    vpsd.api("POST", f"/vps/k2/backups/{made['id']}/restore", {})
    assert sh(vpsd, "k2", "cat /root/f") == (0, "one\n")
    assert not (vpsd.data / "vps" / "k2" / "snapshots" / ".restore").exists()


def test_vm_qemu_backup_restore(vpsd, tmp_path):
    """A QEMU VM's backup holds both disks (root and swap): a file put on its
    disk, backed up running (QEMU stopped through QMP for the copy only),
    the file removed, restored: it is back, and the VM runs again."""
    from test_snapshot import MKVMTEMPLATE, debugfs
    r = subprocess.run([str(MKVMTEMPLATE), "debian-12"], capture_output=True, text=True,
                       timeout=1800)
    assert r.returncode == 0, r.stderr
    vpsd.api("POST", "/repos", {"name": "local", "url": str(tmp_path / "repo")}, expect=201)
    vpsd.api("POST", "/vps", {"name": "v1", "kind": "vm", "engine": "qemu",
                              "template": "debian-12", "ram": "256M", "swap": "64M",
                              "disk": "1G", "root_password": "pw"}, expect=201)
    disk = vpsd.data / "vps" / "v1" / "disk.img"
    marker = tmp_path / "marker"
    marker.write_text("precious\n")
    r = debugfs(disk, f"write {marker} /root/marker")
    assert r.returncode == 0 and "error" not in r.stderr.lower(), r
    vpsd.api("POST", "/vps/v1/start")
    made = vpsd.api("POST", "/vps/v1/backups", {}, expect=201)
    v = vpsd.api("GET", "/vps/v1")
    assert v["state"] == "running" and v["monitor"]["state"] == "running", v
    files = [json.loads(x) for x in restic(vpsd, "local", "ls", "--json",
                                            made["full_id"]).stdout.splitlines()]
    assert sorted(x["name"] for x in files if x.get("type") == "file") == \
        ["disk.img", "swap.img", "vps.json"], files
    vpsd.api("POST", "/vps/v1/stop", {"force": True})
    r = debugfs(disk, "rm /root/marker")
    assert r.returncode == 0, r
    vpsd.api("POST", "/vps/v1/start")
    vpsd.api("POST", f"/vps/v1/backups/{made['id']}/restore", {})
    v = vpsd.api("GET", "/vps/v1")
    assert v["state"] == "running" and v["monitor"]["state"] == "running", v
    vpsd.api("POST", "/vps/v1/stop", {"force": True})
    assert "precious" in debugfs(disk, "cat /root/marker").stdout

    # --as: a second VM from the backup, made stopped, the first left alone
    r = debugfs(disk, "rm /root/marker")
    assert r.returncode == 0, r
    r = cli(vpsd, "backup", "restore", "v1", made["id"], "--as", "v2")
    assert r.returncode == 0 and "v2 restored" in r.stdout, (r.stdout, r.stderr)
    v2 = vpsd.api("GET", "/vps/v2")
    v1 = vpsd.api("GET", "/vps/v1")
    assert v2["state"] == "stopped" and v2["kind"] == "vm" and v2["owner"] == v1["owner"], v2
    assert (v2["ram"], v2["swap"], v2["disk"]) == (v1["ram"], v1["swap"], v1["disk"]), v2
    assert "precious" in debugfs(vpsd.data / "vps" / "v2" / "disk.img", "cat /root/marker").stdout
    assert "File not found" in debugfs(disk, "stat /root/marker").stderr  # v1 untouched
    # a name that is taken, or not a name: refused, nothing made
    for name, status in [("v2", 409), ("v1", 400), ("../x", 400), ("", 400)]:
        code, j = vpsd.request("POST", f"/api/v1/vps/v1/backups/{made['id']}/restore",
                               {"as": name})
        assert code == status, (name, code, j)
    assert sorted(x["name"] for x in vpsd.api("GET", "/vps")) == ["v1", "v2"]
    vpsd.api("POST", "/vps/v2/start")
    assert vpsd.api("GET", "/vps/v2")["state"] == "running"


# --- a container's backup into a new container (--as) -----------------------------------

def test_ct_restore_as_beside_the_original_and_after_it_is_destroyed(vpsd, tmp_path):
    """A container's backup restored --as a new container twice: while the
    original runs (both run, each with its own name, hostname, MAC, address,
    machine-id, SSH host keys and uid range, and reach each other), and
    after the original was destroyed (its data there, its files shifted to
    the new range, the new one running)."""
    from test_clone import BOOTED, IDENTITY, new_identity, skip_taken_devices, uid_base, wait_for
    net = f"rs{os.getpid() % 10000}"
    vpsd.api("POST", "/networks", {"name": net, "ipv4": "10.231.73.1/24"}, expect=201)
    vpsd.api("POST", "/repos", {"name": "local", "url": str(tmp_path / "repo")}, expect=201)
    skip_taken_devices(vpsd)
    src = ct(vpsd, "r1", template="debian-12", ram="256M", disk="1G", network=net, start=True)
    wait_for(vpsd, "r1", BOOTED)
    assert sh(vpsd, "r1", "echo precious > /root/marker && chown 1000:1000 /root/marker "
              "&& sync")[0] == 0
    before = sh(vpsd, "r1", IDENTITY)[1].split("\n")
    assert len(before[1]) == 32 and before[2], before
    r = cli(vpsd, "backup", "create", "r1", "--format", "json")
    assert r.returncode == 0, r.stderr
    made = json.loads(r.stdout)

    # beside the original, which runs on untouched
    r = cli(vpsd, "backup", "restore", "r1", made["id"], "--as", "r2")
    assert r.returncode == 0 and "r2 restored" in r.stdout, (r.stdout, r.stderr)
    assert "restoring r2:" in r.stderr and "100%" in r.stderr, r.stderr  # the progress line
    r2 = vpsd.api("GET", "/vps/r2")
    assert r2["state"] == "stopped" and r2["kind"] == "ct" and r2["hostname"] == "r2", r2
    assert r2["owner"] == src["owner"] and r2["network"] == net, r2
    assert (r2["ram"], r2["disk"], r2["template"]) == (src["ram"], src["disk"], "debian-12"), r2
    assert r2["mac"] != src["mac"] and r2["ipv4"] != src["ipv4"], (r2, src)
    assert uid_base(vpsd, "r2") != uid_base(vpsd, "r1")
    s = vpsd.api("GET", "/vps/r1")
    assert s["state"] == "running" and (s["mac"], s["ipv4"]) == (src["mac"], src["ipv4"]), s
    assert sh(vpsd, "r1", IDENTITY)[1].split("\n") == before
    assert not (vpsd.data / "vps" / "r1" / "snapshots" / ".restore").exists()
    vpsd.api("POST", "/vps/r2/start")
    after = new_identity(vpsd, r2, before)
    # both run, and reach each other: no address clash
    for a, b in (("r2", src["ipv4"]), ("r1", r2["ipv4"])):
        st, out = sh(vpsd, a, f"timeout 10 bash -c 'echo > /dev/tcp/{b.split('/')[0]}/22' "
                     "&& echo reached")
        assert (st, out) == (0, "reached\n"), (a, b, st, out)

    # the original destroyed: its backup still makes a new VPS, by the same command
    vpsd.api("POST", "/vps/r1/stop", {"force": True})
    vpsd.api("DELETE", "/vps/r1")
    assert vpsd.request("GET", "/api/v1/vps/r1/backups")[0] == 404
    r = cli(vpsd, "backup", "restore", "r1", made["id"], "--as", "r3")
    assert r.returncode == 0 and "r3 restored" in r.stdout, (r.stdout, r.stderr)
    assert "restoring r3:" in r.stderr and "100%" in r.stderr, r.stderr
    r3 = vpsd.api("GET", "/vps/r3")
    assert r3["state"] == "stopped" and r3["hostname"] == "r3" and r3["network"] == net, r3
    assert (r3["owner"], r3["ram"], r3["disk"]) == (src["owner"], src["ram"], src["disk"]), r3
    assert r3["mac"] not in (src["mac"], r2["mac"]), r3
    assert r3["ipv4"] != r2["ipv4"], r3
    assert uid_base(vpsd, "r3") != uid_base(vpsd, "r2")
    assert not (vpsd.data / "restore" / "r3").exists()  # the staging copy is gone
    vpsd.api("POST", "/vps/r3/start")
    third = new_identity(vpsd, r3, before, source_there=False)
    assert third[1] != after[1] and third[2] != after[2], (after, third)  # nor r2's
    st, out = sh(vpsd, "r3", f"timeout 10 bash -c 'echo > /dev/tcp/"
                 f"{r2['ipv4'].split('/')[0]}/22' && echo reached")
    assert (st, out) == (0, "reached\n"), out
    ev = [e["kind"] for e in vpsd.api("GET", "/events?vps=r3")]
    assert "restore" in ev, ev
    # a taken name, the source's own, not a name: refused, nothing made
    for name, status in [("r2", 409), ("r1", 400), ("../x", 400), ("", 400)]:
        code, j = vpsd.request("POST", f"/api/v1/backups/{made['id']}/restore",
                               {"vps": "r1", "as": name})
        assert code == status, (name, code, j)
    assert sorted(v["name"] for v in vpsd.api("GET", "/vps")
                  if not v["name"].startswith("skip")) == ["r2", "r3"]
    for n in ("r2", "r3"):
        vpsd.api("POST", f"/vps/{n}/stop", {"force": True})
        vpsd.api("DELETE", f"/vps/{n}")
    for v in vpsd.api("GET", "/vps"):
        vpsd.api("DELETE", f"/vps/{v['name']}")
    vpsd.api("DELETE", f"/networks/{net}")


def test_restore_as_is_the_owners_and_within_their_quota(tmp_path):
    """A customer cannot restore another's backup as a VPS of their own,
    the original there or destroyed, nor by naming it after their own VPS
    of the same name: 404, nothing made; nor pass their quota of VPSes; the
    owner can, and the VPS is theirs."""
    from test_openapi import wait_op
    d = start_vpsd()
    try:
        admin, alice, bob = customers_and_repo(d, tmp_path)
        alice.api("POST", "/vps", {"name": "a1", "kind": "ct", "template": "busybox",
                                   "plan": "small", "start": True}, expect=201)
        bob.api("POST", "/vps", {"name": "b1", "kind": "ct", "template": "busybox",
                                 "plan": "small"}, expect=201)
        r = alice.api("POST", "/vps/a1/exec", {"args": ["sh", "-c", "echo hers > /root/f"]})
        assert r["status"] == 0, r
        mine = alice.api("POST", "/vps/a1/backups", {}, expect=201)
        assert alice.api("GET", "/vps/a1/backups")[0]["owner"] == "alice"

        def names():
            return sorted(v["name"] for v in admin.api("GET", "/vps"))

        def bob_tries(vps="a1"):
            before = names()
            for id_ in (mine["id"], mine["full_id"]):
                for q in ("", "?async=1"):
                    r = bob.request("POST", f"/backups/{id_}/restore{q}",
                                    {"vps": vps, "as": "b9"})
                    if r.status == 202:  # as an operation: it fails with the same 404
                        r = wait_op(bob, r)
                        assert r["state"] == "failed" and \
                            r["error"]["code"] == "not_found", r
                    else:
                        assert r.status == 404, (id_, q, r.status, r.json)
            # the fields are the handler's, not his
            r = bob.request("POST", f"/backups/{mine['id']}/restore",
                            {"vps": vps, "as": "b9", "_owner": "alice"})
            assert r.status == 400, r.json
            assert names() == before  # nothing made

        bob_tries()  # a1 there, but not his
        # hostile or missing fields
        for body in [{"vps": "a1", "as": "../x"}, {"vps": "../a1", "as": "a9"},
                     {"as": "a9"}, {"vps": "a1"}, {"vps": "a1", "as": "a9", "x": 1},
                     {"vps": "a1", "as": "a1"}]:
            r = alice.request("POST", f"/backups/{mine['id']}/restore", body, validate=False)
            assert r.status == 400, (body, r.status, r.json)
        for seg in ["..%2F..%2Fetc", "latest", "-h", "ZZZZZZZZ", mine["id"][:7]]:
            r = alice.request("POST", f"/backups/{seg}/restore", {"vps": "a1", "as": "a9"},
                              validate=False)
            assert r.status in (400, 404), (seg, r.status)

        # alice destroys a1; her backup is still hers alone
        alice.api("POST", "/vps/a1/stop", {"force": True})
        alice.api("DELETE", "/vps/a1")
        bob_tries()
        # bob makes a VPS named a1 of his own: her backup is not his through it either
        bob.api("POST", "/vps", {"name": "a1", "kind": "ct", "template": "busybox",
                                 "plan": "small"}, expect=201)
        assert bob.api("GET", "/vps/a1/backups") == []
        for id_ in (mine["id"], mine["full_id"]):
            r = bob.request("POST", f"/backups/{id_}/restore", {"vps": "a1", "as": "b9"})
            assert r.status == 404, r.json
            r = bob.request("POST", f"/vps/a1/backups/{id_}/restore", {"as": "b9"})
            assert r.status == 404, r.json
        bob.api("DELETE", "/vps/a1")

        # alice past her quota of VPSes: refused with the numbers, nothing made
        alice.api("POST", "/vps", {"name": "a2", "kind": "ct", "template": "busybox",
                                   "plan": "small"}, expect=201)
        admin.api("PATCH", "/users/alice", {"quota": {"vps": 1}})
        r = alice.request("POST", f"/backups/{mine['id']}/restore", {"vps": "a1", "as": "a3"})
        assert r.status == 403 and r.code == "quota", r.json
        assert "quota of user `alice`: vps: 1 of 1 used, 1 asked" in r.message, r.message
        assert names() == ["a2", "b1"]
        assert not (d.data / "restore" / "a3").exists()
        # within it: hers, on her plan, with her data
        admin.api("PATCH", "/users/alice", {"quota": {"vps": 2}})
        accepted = alice.request("POST", f"/backups/{mine['id']}/restore?async=1",
                                 {"vps": "a1", "as": "a3"})
        assert accepted.status == 202, accepted.json
        op = wait_op(alice, accepted)
        assert op["state"] == "done" and op["result"]["as"] == "a3", op
        a3 = alice.api("GET", "/vps/a3")
        assert a3["owner"] == "alice" and a3["state"] == "stopped", a3
        assert bob.request("GET", "/vps/a3").status == 404
        alice.api("POST", "/vps/a3/start")
        r = alice.api("POST", "/vps/a3/exec", {"args": ["cat", "/root/f"]})
        assert (r["status"], r["stdout"]) == (0, "hers\n"), r
        # and bob's quota-free account still gets none of it
        bob_tries()
        d.destroy_all_and_stop()
    finally:
        d.cleanup()


def test_a_backup_without_an_owner_tag_is_the_administrators_alone(tmp_path):
    """A destroyed VPS's backup that does not say whose it is (taken before
    the owner tag was recorded; here the tag removed with restic): its
    customer cannot find it (404), an administrator restores it, as the
    owner its settings name."""
    d = start_vpsd()
    try:
        admin, alice, _ = customers_and_repo(d, tmp_path)
        alice.api("POST", "/vps", {"name": "a1", "kind": "ct", "template": "busybox",
                                   "plan": "small"}, expect=201)
        made = alice.api("POST", "/vps/a1/backups", {}, expect=201)
        alice.api("DELETE", "/vps/a1")
        r = restic(d, "local", "tag", "--remove", "owner=alice", made["full_id"])
        assert r.returncode == 0, r.stderr
        snaps = json.loads(restic(d, "local", "snapshots", "--json").stdout)
        assert len(snaps) == 1 and not any(t.startswith("owner=") for t in snaps[0]["tags"])
        untagged = snaps[0]["short_id"]  # restic's tag rewrites the snapshot
        r = alice.request("POST", f"/backups/{untagged}/restore", {"vps": "a1", "as": "a2"})
        assert r.status == 404, r.json
        assert admin.api("GET", "/vps") == []
        out = admin.api("POST", f"/backups/{untagged}/restore", {"vps": "a1", "as": "a2"})
        assert out["as"] == "a2", out
        assert alice.api("GET", "/vps/a2")["owner"] == "alice"
        d.destroy_all_and_stop()
    finally:
        d.cleanup()


def test_kill9_mid_restore_as_leaves_no_half_vps(vpsd, tmp_path):
    """vpsd killed while the new container is being made from a destroyed
    one's backup: after the restart no half VPS is listed (its create is
    undone), and the restore asked again makes it, with the data."""
    vpsd.api("POST", "/repos", {"name": "local", "url": str(tmp_path / "repo")}, expect=201)
    ct(vpsd, "k3", start=True)
    assert sh(vpsd, "k3", "echo kept > /root/f && sync") == (0, "")
    made = vpsd.api("POST", "/vps/k3/backups", {}, expect=201)
    vpsd.api("POST", "/vps/k3/stop", {"force": True})
    vpsd.api("DELETE", "/vps/k3")
    body = {"vps": "k3", "as": "k4"}
    p = Paused(vpsd, "ctm-create-mounted", "k4", "POST",
               f"/api/v1/backups/{made['id']}/restore", body)
    p.kill9()
    assert vpsd.api("GET", "/vps") == []
    assert not (vpsd.data / "vps" / "k4").exists()
    assert not (vpsd.data / "restore").exists()  # the staged disk swept at the start
    ev = vpsd.api("GET", "/events?vps=k4")
    assert any(e["kind"] == "create-undone" for e in ev), ev
    # asked again, it is made
    vpsd.api("POST", f"/backups/{made['id']}/restore", body)
    assert not (vpsd.data / "restore" / "k4").exists()
    vpsd.api("POST", "/vps/k4/start")
    assert sh(vpsd, "k4", "cat /root/f") == (0, "kept\n")
