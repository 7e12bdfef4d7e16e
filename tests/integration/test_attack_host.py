# SPDX-License-Identifier: GPL-2.0-or-later
"""Attacks on the host (issue 15), tried as a customer would: as root
inside their container, or as a local unprivileged user on the host. Each
test makes the attack, shows it refused, and shows the host unchanged
(docs/security.md, "Containers and host files"; docs/ctm-security.md).

- the store and the data directory: no local user reads them;
- a container's /etc/shadow made a FIFO, a link to a host file, a huge
  file: a password reset answers an error at once, the host file is as it
  was, and the VPS still stops and goes;
- events belong to a VPS, not to its name: a new VPS with an old name does
  not read the old one's history;
- every container has a pids limit, its plan's or the host's default, and
  a fork bomb stops at it;
- a container's monitor (vps-ctm) holds only the capabilities it needs,
  and answers the container's sysinfo() itself: no process of vps-ct's
  stays behind for it (vps-ct alone: test_ct_sysinfo.py);
- the seccomp profile refuses Docker's list and more, with EPERM;
- vps-ct closes what its caller left open before the container's process
  runs (a host directory fd would be a way out)."""

import http.client
import json
import os
import shutil
import socket
import subprocess
import time
import uuid

import pytest

from framework.ct import INIT, VPS_CT, Bundle
from framework.vpsd import Vpsd, free_port

from test_ct_sysinfo import monitors
from test_ctm_security import facts, running, status_field, t


def unique(prefix):
    # cgroups (/vps-ct/NAME) and veths are host-wide: other runs must not collide
    return prefix + uuid.uuid4().hex[:8]


@pytest.fixture
def vpsd():
    d = Vpsd()
    yield d
    d.cleanup()


def as_nobody(*cmd):
    """CMD as a local user with no privilege (uid/gid 65534, no groups)."""
    return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                           "--inh-caps=-all", "--", *cmd],
                          capture_output=True, text=True, timeout=30)


def make_ct(d, name, **kw):
    body = {"name": name, "kind": "ct", "template": "busybox", "ram": "128M",
            "disk": "64M", "cpus": 1, "root_password": "old", **kw}
    return d.api("POST", "/vps", body, expect=201)


def sh(d, name, cmd):
    """CMD as root inside the container (the customer's own shell)."""
    r = d.api("POST", f"/vps/{name}/exec", {"args": ["sh", "-c", cmd]})
    assert r["status"] == 0, r
    return r["stdout"]


def with_helper(d, name):
    """tests/ct's static helper as /sbin/vps-test in a running container."""
    rootfs = d.data / "vps" / name / "ct" / "rootfs"
    helper = rootfs / "sbin" / "vps-test"
    shutil.copy(INIT, helper)
    owner = os.stat(rootfs)
    os.chown(helper, owner.st_uid, owner.st_gid)


# ---- files: the store and the data directory ----

def test_store_is_not_readable_by_local_users(vpsd):
    d = vpsd
    d.start()
    # secrets in the store: a password hash, a session, a token
    d.api("POST", "/users", {"name": "carol", "password": "carolpass", "role": "customer"},
          expect=201)
    d.api("POST", "/tokens", {"name": "t", "expires_in": 3600, "user": "carol"}, expect=201)
    db = d.data / "vps.db"

    def closed():
        for f in (db, d.data / "vps.db-wal", d.data / "vps.db-shm"):
            assert f.exists(), f
            assert os.stat(f).st_mode & 0o077 == 0, (f, oct(os.stat(f).st_mode))
            r = as_nobody("cat", str(f))
            assert r.returncode != 0 and "Permission denied" in r.stderr, (f, r)
        mode = os.stat(d.data).st_mode
        # not listable by others, still traversable (containers reach their rootfs)
        assert mode & 0o044 == 0 and mode & 0o001, oct(mode)
        r = as_nobody("ls", str(d.data))
        assert r.returncode != 0 and "Permission denied" in r.stderr, r

    closed()
    umask = [line for line in open(f"/proc/{d.proc.pid}/status") if line.startswith("Umask:")]
    assert umask == ["Umask:\t0077\n"], umask
    # what an older vpsd left open is closed at start
    d.stop()
    os.chmod(d.data, 0o755)
    os.chmod(db, 0o644)
    d.start()
    closed()
    # a container still reaches its rootfs through the data directory
    name = unique("fs")
    make_ct(d, name)
    d.api("POST", f"/vps/{name}/start")
    assert sh(d, name, "echo alive").strip() == "alive"
    # and what is made inside is made with the usual umask, not vpsd's
    sh(d, name, "echo x > /root/made")
    assert os.stat(d.data / "vps" / name / "ct" / "rootfs" / "root" / "made").st_mode & 0o777 \
        == 0o644


# ---- /etc/shadow in a running container ----

def reset(d, name, timeout=20):
    """A password reset, timed: (status, body, seconds); status None when it
    did not answer within TIMEOUT."""
    t0 = time.monotonic()
    try:
        status, j = d.request("POST", f"/api/v1/vps/{name}/password",
                              {"password": "n3w-secret"}, timeout=timeout)
    except (TimeoutError, socket.timeout):
        return None, None, time.monotonic() - t0
    return status, j, time.monotonic() - t0


def test_password_reset_refuses_a_planted_shadow(vpsd):
    d = vpsd
    d.start()
    name = unique("pw")
    make_ct(d, name)
    d.api("POST", f"/vps/{name}/start")
    marker = d.base / "host-secret"
    marker.write_text("host file\n")
    before = marker.read_text()

    # a FIFO: the old code blocked in read() for good, and the VPS with it
    sh(d, name, "rm /etc/shadow && mkfifo /etc/shadow")
    status, j, took = reset(d, name)
    if status is None:
        # unblock the stuck reader (1 MiB fills its buffer) so the VPS can go
        sh(d, name, "head -c 1048576 /dev/zero > /etc/shadow")
    assert status == 400 and took < 10, (status, j, took)
    assert "not a regular file" in j["error"]["message"], j

    # a symlink to a host file, absolute and through /proc
    for target in (str(marker), f"/proc/{os.getpid()}/root{marker}"):
        sh(d, name, f"rm -f /etc/shadow && ln -s {target} /etc/shadow")
        status, j, took = reset(d, name)
        assert status == 400 and took < 10, (target, status, j, took)
    # /etc itself a link
    sh(d, name, "mkdir /e2 && cp -a /etc/. /e2/ && rm /e2/shadow && "
       "printf 'root:x:19000:0:99999:7:::\\n' > /e2/shadow && mv /etc /etc.real && "
       "ln -s /e2 /etc")
    status, j, took = reset(d, name)
    assert status == 400 and took < 10, (status, j, took)
    assert "root:x:" in sh(d, name, "cat /e2/shadow")
    sh(d, name, "rm /etc && mv /etc.real /etc")

    # a huge one (its root line first): refused, not truncated to 1 MiB
    sh(d, name, "rm -f /etc/shadow && printf 'root:x:19000:0:99999:7:::\\n' > /etc/shadow && "
       "head -c 2097152 /dev/zero | tr '\\0' '#' >> /etc/shadow")
    status, j, took = reset(d, name)
    assert status == 400 and took < 10 and "larger" in j["error"]["message"], (status, j)
    assert int(sh(d, name, "wc -c < /etc/shadow")) > 2 << 20

    # the host file is as it was
    assert marker.read_text() == before
    # a real file again: the reset works
    sh(d, name, "rm -f /etc/shadow && printf 'root:x:19000:0:99999:7:::\\n' > /etc/shadow")
    status, j, _ = reset(d, name)
    assert status == 200, j
    assert sh(d, name, "cat /etc/shadow").startswith("root:$6$")
    # and the VPS still stops and goes
    d.api("POST", f"/vps/{name}/stop", {"force": True})
    d.api("DELETE", f"/vps/{name}")


# ---- events belong to a VPS, not to a name ----

def test_events_of_a_reused_name_stay_with_the_old_vps(vpsd):
    d = vpsd
    port = free_port()
    d.start(extra=("--tcp", f"127.0.0.1:{port}"))
    for u in ("carol", "dave"):
        d.api("POST", "/users", {"name": u, "password": f"{u}pass1", "role": "customer"},
              expect=201)
    name = unique("ev")
    make_ct(d, name, owner="carol")
    d.api("POST", f"/vps/{name}/start")
    d.api("POST", f"/vps/{name}/stop", {"force": True})
    old = d.api("GET", f"/events?vps={name}")
    assert {e["kind"] for e in old} >= {"create", "running", "stopped"}, old
    d.api("DELETE", f"/vps/{name}")
    last = max(e["id"] for e in d.api("GET", "/events"))

    # dave's VPS of the same name: his history starts at his create
    make_ct(d, name, owner="dave")
    mine = d.api("GET", f"/events?vps={name}")
    assert [e["id"] for e in mine if e["id"] <= last] == [], mine
    assert [e["kind"] for e in mine] == ["create", "stopped"], mine
    # dave himself, with a token of his: of all events, only his VPS's
    token = d.api("POST", "/tokens", {"name": "t", "expires_in": 3600, "user": "dave"},
                  expect=201)["token"]
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("GET", "/api/v1/events", headers={"Authorization": f"Bearer {token}"})
    r = c.getresponse()
    seen = json.loads(r.read())
    c.close()
    assert r.status == 200, seen
    assert seen and all(e["id"] > last for e in seen), seen


# ---- processes ----


def pids_dir(name):
    """The container's pids cgroup: v1's controller directory, or v2's."""
    for p in (f"/sys/fs/cgroup/pids/vps-ct/{name}", f"/sys/fs/cgroup/vps-ct/{name}"):
        if os.path.isdir(p):
            return p
    raise AssertionError(f"no pids cgroup for {name}")

def test_every_container_has_a_pids_limit(vpsd):
    d = vpsd
    d.start(extra=("--pids-limit", "128"))
    name = unique("pid")
    make_ct(d, name)
    d.api("POST", f"/vps/{name}/start")
    pids = pids_dir(name)
    assert open(f"{pids}/pids.max").read().strip() == "128"
    with_helper(d, name)
    r = d.api("POST", f"/vps/{name}/exec", {"args": ["/sbin/vps-test", "forkbomb", "2"]})
    forked, err = r["stdout"].split()[1:3]
    assert err == "EAGAIN" and int(forked) <= 128, r
    # the host still forks, and the container answers after
    assert subprocess.run(["true"], timeout=10).returncode == 0
    assert int(open(f"{pids}/pids.events").read().split()[1]) > 0
    assert sh(d, name, "echo alive").strip() == "alive"


def test_container_gets_its_plans_pids_limit(vpsd):
    d = vpsd
    d.start(extra=("--pids-limit", "128"))
    d.api("POST", "/plans", {"name": "p64", "ram": "128M", "disk": "64M", "cpus": 1,
                             "pids": 64}, expect=201)
    d.api("POST", "/plans", {"name": "p0", "ram": "128M", "disk": "64M", "cpus": 1},
          expect=201)
    name = unique("pl")
    make_ct(d, name, plan="p64")
    assert d.api("GET", f"/vps/{name}")["pids"] == 64
    d.api("POST", f"/vps/{name}/start")
    pids = pids_dir(name)
    assert open(f"{pids}/pids.max").read().strip() == "64"
    with_helper(d, name)
    r = d.api("POST", f"/vps/{name}/exec", {"args": ["/sbin/vps-test", "forkbomb", "2"]})
    forked, err = r["stdout"].split()[1:3]
    assert err == "EAGAIN" and int(forked) <= 64, r
    # the provider changes it live; a plan without one gives the host's default
    r = d.api("PATCH", f"/vps/{name}", {"pids": 100})
    assert r["live"] is True and open(f"{pids}/pids.max").read().strip() == "100"
    d.api("POST", f"/vps/{name}/plan", {"plan": "p0"})
    assert d.api("GET", f"/vps/{name}")["pids"] == 0
    assert open(f"{pids}/pids.max").read().strip() == "128"
    # and it stays across a restart
    d.api("POST", f"/vps/{name}/restart")
    assert open(f"{pids}/pids.max").read().strip() == "128"


def test_ctm_default_pids_limit(ctm):
    c = ctm()
    del c.config["pids"]  # settings that name none
    c.write_config()
    c.create()
    c.start()
    assert (c.cgroup("pids") / "pids.max").read_text().strip() == "4096"


# ---- the container's monitors ----

CAP = {"chown": 0, "dac_override": 1, "fowner": 3, "fsetid": 4, "kill": 5, "setgid": 6,
       "setuid": 7, "setpcap": 8, "net_admin": 12, "sys_chroot": 18, "sys_ptrace": 19,
       "sys_admin": 21, "sys_resource": 24, "mknod": 27, "setfcap": 31}
# src/ctm/monitor.c CTM_CAPS
CTM_CAPS = ("chown", "dac_override", "fowner", "fsetid", "kill", "setgid", "setuid", "setpcap",
            "net_admin", "sys_chroot", "sys_ptrace", "sys_admin", "sys_resource", "mknod",
            "setfcap")


def caps(pid):
    return {k: int(status_field(pid, k)[0], 16)
            for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")}


def mask(names):
    """NAMES as a mask, less what this host does not give root (CAP_SYS_RESOURCE here)."""
    return sum(1 << CAP[n] for n in names) & caps(os.getpid())["CapBnd"]


def test_container_monitors_keep_only_what_they_need(ctm):
    c = running(ctm)
    got = caps(c.proc.pid)
    assert got == {"CapInh": 0, "CapPrm": mask(CTM_CAPS), "CapEff": mask(CTM_CAPS),
                   "CapBnd": mask(CTM_CAPS), "CapAmb": 0}, {k: hex(v) for k, v in got.items()}
    assert status_field(c.proc.pid, "NoNewPrivs") == ["0"]  # the container runs su, sudo


def test_sysinfo_is_answered_by_the_containers_monitor(ctm):
    """vps-ctm answers the container's sysinfo() (docs/ct-density.md): vps-ct
    sends it the listeners, of the init and of each exec'd process, and
    starts no monitor process (one fewer per container, about 170 KiB)."""
    c = running(ctm)
    sock = c.run_dir / "sysinfo.sock"
    spec = json.loads((c.dir / "bundle" / "config.json").read_text())
    assert spec["annotations"]["org.vps.sysinfo.socket"] == str(sock), spec["annotations"]
    assert sock.is_socket() and sock.stat().st_mode & 0o777 == 0o600
    # the init's answers (its filter's listener came with create) and an
    # exec'd process's (its own listener): busybox free calls sysinfo()
    assert c.sh("free | awk '/Mem:/ {print $2}'").strip() == str(128 << 10)
    assert c.exec("free").split("\n")[1].split()[1] == str(128 << 10)
    # no process of vps-ct's: not on the host, not in the helpers' leaf
    assert monitors(c.name) == []
    procs = c.cgroup("pids") / "vps-helpers" / "cgroup.procs"
    assert not procs.exists() or procs.read_text().split() == []
    # the container's own count moves while its init starts things: compare
    # against a reading that held still across the stats call, the same pids
    # before and after (a count alone held still once while one process ended
    # and another began: stats saw 1, both readings 2)
    procs_own = c.cgroup("pids") / "cgroup.procs"
    seen = []
    for _ in range(50):
        before = sorted(procs_own.read_text().split())
        got = c.ctl({"cmd": "stats"})["processes"]
        after = sorted(procs_own.read_text().split())
        if before == after:
            assert got == len(before), (got, before)
            break
        seen.append((before, got, after))
        time.sleep(0.1)
    else:
        raise AssertionError(f"the container's process count never held still: {seen}")


def cpu_seconds(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def test_sysinfo_loop_is_bounded(ctm):
    """The answers are vps-ctm's CPU, outside the container's cgroup: a
    sysinfo() loop inside gets at most 1,000 a second (monitor.c,
    SI_WINDOW_ANSWERS), answered with the container's figures, and the
    monitor spends a small part of a CPU on it, not one."""
    c = running(ctm)
    before = cpu_seconds(c.proc.pid)
    calls, total = map(int, t(c, "sysinfo-loop", "3").split())
    spent = cpu_seconds(c.proc.pid) - before
    assert total == 128 << 20, total
    assert 300 <= calls <= 3 * 1000 * 1.2, calls
    assert spent < 0.6, spent


# ---- seccomp ----

DENIED_CALLS = ("io_uring_setup", "io_uring_enter", "io_uring_register", "keyctl", "add_key",
                "request_key", "bpf", "perf_event_open", "userfaultfd", "quotactl",
                "lookup_dcookie", "sysfs", "ustat", "uselib", "socket_vsock",
                "personality_norandom", "personality_readexec",
                # LXC's list, as before
                "iopl", "ioperm", "open_by_handle_at", "kexec_load", "kexec_file_load",
                "init_module", "finit_module", "delete_module", "syslog")


def test_seccomp_is_at_least_dockers(ctm):
    c = running(ctm)
    f = facts(t(c, "syscalls"))
    wrong = {call: f.get(call) for call in DENIED_CALLS if f.get(call) != "EPERM"}
    assert not wrong, wrong
    # Docker refuses swapon and swapoff; we answer 0 without the kernel (vswap as sold)
    assert f["swapon"] == f["swapoff"] == "ok", f
    # what programs need still works: the personality query and PER_LINUX
    assert f["personality_query"] == "ok" and f["personality_linux"] == "ok", f


# ---- inherited descriptors ----

@pytest.fixture
def bundle(tmp_path, ct_rootfs):
    b = Bundle(tmp_path, ct_rootfs)
    yield b
    if (b.root / b.id).exists():
        b.ct("delete", "--force", b.id)


def test_vps_ct_closes_inherited_descriptors(bundle, tmp_path):
    secret = tmp_path / "host-dir"
    secret.mkdir()
    (secret / "secret").write_text("host secret\n")
    b = bundle
    b.config["process"]["args"] = ["/init", "cat", "/proc/self/fd/7/secret"]
    b.write()

    def run(*extra):
        # fd 3 a host file, fd 7 a host directory: a way out if the process keeps it
        return subprocess.run(
            ["bash", "-c", f'exec 3<{secret}/secret 7<{secret}; exec "$@"', "x",
             str(VPS_CT), "--root", str(b.root), "run", *extra, "-b", str(b.path), b.id],
            capture_output=True, text=True, timeout=60)

    r = run()
    assert "host secret" not in r.stdout, r
    # --preserve-fds N keeps 3..3+N-1 and nothing after
    b.config["process"]["args"] = ["/init", "cat", "/proc/self/fd/3"]
    b.write()
    r = run("--preserve-fds", "1")
    assert r.returncode == 0 and "host secret" in r.stdout, r
    b.config["process"]["args"] = ["/init", "ls", "/proc/self/fd"]
    b.write()
    r = run("--preserve-fds", "1")
    fds = set(r.stdout.split()) - {".", ".."}
    # 0-2, the preserved 3, and ls's own directory
    assert "7" not in fds and "3" in fds and len(fds) <= 5, r
