# SPDX-License-Identifier: GPL-2.0-or-later
"""vps-ct, the OCI runtime, end to end, in the manner of crun's tests: each
test builds a bundle around the busybox rootfs with the multi-call helper
/init (tests/ct/init.c), changes config.json the way it needs, runs the real
vps-ct on this host and checks what /init printed from inside. Every feature
has a test that fails when the feature is missing.

Run as root: VPS_BUILD=build-test python3 -m pytest tests/integration/test_ct_*.py"""

import glob
import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from framework.ct import VPS_CT, Bundle, cgroup_dirs, wait_for


@pytest.fixture
def bundle(tmp_path, ct_rootfs):
    b = Bundle(tmp_path, ct_rootfs)
    yield b
    if (b.root / b.id).exists():
        b.ct("delete", "--force", b.id)


# ---- process ----

def test_run_true(bundle):
    r = bundle.run("true", check=False)
    assert r.returncode == 0, r.stderr
    assert not (bundle.root / bundle.id).exists(), "run leaves its state behind"


def test_exit_status(bundle):
    assert bundle.run("exit", "7", check=False).returncode == 7


def test_args_env_cwd(bundle):
    bundle.config["process"]["env"].append("HELLO=world")
    assert "HELLO=world" in bundle.run("env").splitlines()
    bundle.config["process"]["cwd"] = "/tmp"
    assert bundle.run("cwd").strip() == "/tmp"
    assert bundle.run("echo", "a", "b c").strip() == "a b c"


def test_exec_failure_is_reported(bundle):
    bundle.config["process"]["args"] = ["/nonexistent"]
    bundle.write()
    r = bundle.ct("run", "-b", str(bundle.path), bundle.id)
    assert r.returncode != 0
    assert "exec `/nonexistent`: No such file or directory" in r.stderr
    assert not (bundle.root / bundle.id).exists()


def test_user(bundle):
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1001,
                                        "additionalGids": [5, 7]}
    assert bundle.run("id").strip() == "uid=1000 gid=1001 groups=5,7"


def test_rlimits(bundle):
    bundle.config["process"]["rlimits"] = [
        {"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456}]
    assert "RLIMIT_NOFILE 123 456" in bundle.run("limits")


def caps_of(text):
    return {ln.split(":")[0]: int(ln.split()[1], 16) for ln in text.splitlines()}


def test_capabilities(bundle):
    kill, net_raw, chown = 5, 13, 0
    bundle.config["process"]["capabilities"] = {
        "bounding": ["CAP_KILL", "CAP_NET_RAW", "CAP_CHOWN"],
        "effective": ["CAP_KILL", "CAP_CHOWN"],
        "permitted": ["CAP_KILL", "CAP_CHOWN"],
        "inheritable": ["CAP_KILL"],
        "ambient": ["CAP_KILL"]}
    c = caps_of(bundle.run("caps"))
    assert c["CapBnd"] == (1 << kill) | (1 << net_raw) | (1 << chown)
    # execve as uid 0 fills the permitted and effective sets from the
    # bounding set (capabilities(7)): only a non-root user shows them as given
    assert c["CapEff"] == c["CapBnd"]
    assert c["CapInh"] == 1 << kill
    assert c["CapAmb"] == 1 << kill
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    c = caps_of(bundle.run("caps"))
    assert c["CapEff"] == c["CapPrm"] == 1 << kill  # what ambient carries over


def test_ambient_caps_survive_uid_change(bundle):
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    bundle.config["process"]["capabilities"] = {
        k: ["CAP_KILL"] for k in ("bounding", "effective", "permitted",
                                  "inheritable", "ambient")}
    assert caps_of(bundle.run("caps"))["CapEff"] == 1 << 5


def test_no_new_privileges(bundle):
    assert bundle.run("nnp").strip() == "0"
    bundle.config["process"]["noNewPrivileges"] = True
    assert bundle.run("nnp").strip() == "1"


def test_oom_score_adj(bundle):
    bundle.config["process"]["oomScoreAdj"] = 432
    assert bundle.run("cat", "/proc/self/oom_score_adj").strip() == "432"


def test_seccomp(bundle):
    bundle.config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat", "no_such_syscall"],
                      "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}
    out = bundle.run("mkdir", "/tmp/x", check=False).stdout
    assert "Permission denied" in out
    assert "Seccomp:\t2" in bundle.run("seccomp")


def test_seccomp_args(bundle):
    # mkdir with mode 0755 is refused, other modes pass: the arg filter works
    bundle.config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                      "errnoRet": 1,
                      "args": [{"index": 1, "value": 0o755, "op": "SCMP_CMP_EQ"}]}]}
    bundle.config["linux"]["seccomp"]["syscalls"].append(
        dict(bundle.config["linux"]["seccomp"]["syscalls"][0],
             names=["mkdirat"], args=[{"index": 2, "value": 0o755,
                                        "op": "SCMP_CMP_EQ"}]))
    assert "Operation not permitted" in bundle.run("mkdir", "/tmp/y", check=False).stdout


# ---- namespaces ----

def test_namespaces(bundle):
    for ns in ("pid", "net", "ipc", "uts", "mnt", "cgroup"):
        host = os.readlink(f"/proc/self/ns/{ns}")
        assert bundle.run("ns", ns).strip() != host, f"{ns} namespace is the host's"
    assert bundle.run("pid").strip() == "1"
    assert bundle.run("cat", "/proc/self/cgroup").count(":/\n") >= 1


def test_namespace_absent_is_shared(bundle):
    bundle.config["linux"]["namespaces"] = [
        n for n in bundle.config["linux"]["namespaces"] if n["type"] != "network"]
    assert bundle.run("ns", "net").strip() == os.readlink("/proc/self/ns/net")


def test_hostname(bundle):
    assert bundle.run("hostname").strip() == "vps-test"


def test_user_namespace(bundle):
    bundle.config["linux"]["namespaces"].append({"type": "user"})
    bundle.config["linux"]["uidMappings"] = [
        {"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.config["linux"]["gidMappings"] = [
        {"containerID": 0, "hostID": 100000, "size": 65536}]
    os.chown(bundle.rootfs, 100000, 100000)
    # root in the container is uid 100000 outside: the bundle must be searchable
    for d in [bundle.path, *bundle.path.parents]:
        if d == Path("/tmp"):
            break
        os.chmod(d, os.stat(d).st_mode | 0o011)
    uid_map = bundle.run("cat", "/proc/self/uid_map").split()
    assert uid_map == ["0", "100000", "65536"]
    assert bundle.run("id").startswith("uid=0 gid=0")


# ---- filesystem ----

def mountinfo_line(text, mnt):
    for ln in text.splitlines():
        if ln.split()[4] == mnt:
            return ln
    return None


def test_mounts(bundle, tmp_path):
    src = tmp_path / "shared"
    src.mkdir()
    (src / "file").write_text("from host\n")
    bundle.config["mounts"] += [
        {"destination": "/data", "type": "bind", "source": str(src),
         "options": ["rbind", "ro"]},
        {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
         "options": ["size=1m", "noexec"]}]
    assert bundle.run("cat", "/data/file") == "from host\n"
    assert "Read-only file system" in bundle.run("write", "/data/x", "1", check=False).stdout
    line = mountinfo_line(bundle.run("mounts"), "/scratch")
    assert line and "noexec" in line and "tmpfs" in line


def test_bind_file(bundle, tmp_path):
    f = tmp_path / "one"
    f.write_text("single\n")
    bundle.config["mounts"].append({"destination": "/etc/one", "type": "bind",
                                    "source": str(f), "options": ["bind"]})
    assert bundle.run("cat", "/etc/one") == "single\n"


def test_root_readonly(bundle):
    assert bundle.run("write", "/x", "1").strip() == "ok"
    bundle.config["root"]["readonly"] = True
    assert "Read-only file system" in bundle.run("write", "/y", "1", check=False).stdout


def test_masked_paths(bundle):
    # kernels differ in what /proc has: mask one file that exists here
    f = next(p for p in ("/proc/kcore", "/proc/timer_list", "/proc/keys",
                         "/proc/sched_debug") if os.path.exists(p))
    assert bundle.run("cat", f) != "" or bundle.run("stat", f).startswith("f")
    bundle.config["linux"]["maskedPaths"] = [f, "/sys/firmware", "/nope"]
    assert bundle.run("cat", f) == ""
    assert bundle.run("stat", f).startswith("c 1:3")  # /dev/null bound over it
    assert bundle.run("ls", "/sys/firmware") == ""
    assert "tmpfs" in mountinfo_line(bundle.run("mounts"), "/sys/firmware")


def test_readonly_paths(bundle):
    bundle.config["linux"]["readonlyPaths"] = ["/proc/sys"]
    r = bundle.run("write", "/proc/sys/kernel/domainname", "x", check=False).stdout
    assert "Read-only file system" in r


def test_sysctl(bundle):
    bundle.config["linux"]["sysctl"] = {"kernel.domainname": "example.test"}
    assert bundle.run("cat", "/proc/sys/kernel/domainname").strip() == "example.test"


def test_devices(bundle):
    bundle.config["linux"]["devices"] = [
        {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
         "fileMode": 0o600, "uid": 0, "gid": 0},
        {"path": "/dev/sub/loopx", "type": "b", "major": 7, "minor": 200,
         "fileMode": 0o640}]
    assert bundle.run("stat", "/dev/fuse").startswith("c 10:229 600")
    assert bundle.run("stat", "/dev/sub/loopx").startswith("b 7:200 640")
    for dev, mm in (("null", "1:3"), ("zero", "1:5"), ("full", "1:7"),
                    ("random", "1:8"), ("urandom", "1:9"), ("tty", "5:0")):
        assert bundle.run("stat", f"/dev/{dev}").startswith(f"c {mm} 666"), dev
    assert bundle.run("readlink", "/dev/fd").strip() == "/proc/self/fd"
    assert bundle.run("readlink", "/dev/stdin").strip() == "/proc/self/fd/0"
    assert bundle.run("readlink", "/dev/ptmx").strip() == "pts/ptmx"
    assert mountinfo_line(bundle.run("mounts"), "/dev/shm")


def test_device_cgroup(bundle):
    # "deny all" as `vps-ct spec` and runc write it: the default devices
    # (made by mknod, opened by the process) stay usable, others are denied
    bundle.config["linux"]["resources"] = {"devices": [{"allow": False,
                                                        "access": "rwm"}]}
    bundle.config["process"]["args"] = [
        "/bin/sh", "-c", "/init write /dev/null x; mknod /dev/kmsg2 c 1 11 && "
        "/init write /dev/kmsg2 vps-ct-device-test"]
    r = bundle.run(check=False)
    assert r.stdout.split("\n") == ["ok", "error: Operation not permitted", ""]
    assert r.returncode == 1, r.stderr


def test_rootfs_propagation(bundle):
    line = mountinfo_line(bundle.run("mounts"), "/")
    assert "master:" not in line and "shared:" not in line
    bundle.config["linux"]["rootfsPropagation"] = "rshared"
    assert "shared:" in mountinfo_line(bundle.run("mounts"), "/")


def test_cannot_escape_through_symlink(bundle, tmp_path):
    # a symlink in the image pointing out must resolve inside the rootfs
    os.symlink("/../../../../tmp", bundle.rootfs / "evil")
    marker = Path("/tmp") / f"vps-ct-escape-{bundle.id}"
    bundle.config["mounts"].append({"destination": f"/evil/{marker.name}",
                                    "type": "tmpfs", "source": "tmpfs"})
    bundle.run("true")
    assert not marker.exists(), "mount target escaped the rootfs"
    assert (bundle.rootfs / "tmp" / marker.name).is_dir()


# ---- hooks ----

def test_hooks(bundle, tmp_path):
    out = tmp_path / "hooks"
    out.mkdir()
    hooks = {}
    for kind in ("prestart", "createRuntime", "createContainer", "poststart",
                 "poststop"):
        hooks[kind] = [{"path": "/bin/sh",
                        "args": ["sh", "-c", f"cat > {out}/{kind}"]}]
    # startContainer runs inside the container, after pivot_root
    hooks["startContainer"] = [{"path": "/bin/sh",
                                "args": ["sh", "-c", "cat > /started"]}]
    bundle.config["hooks"] = hooks
    bundle.config["annotations"] = {"org.example.owner": "team-a", "n": "1"}
    bundle.run("true")
    # The state each hook gets: crun's statuses (runc gives "creating" to the
    # create-time hooks), and the config's annotations, as runtime.md's State says.
    want = {"prestart": "created", "createRuntime": "created", "createContainer": "created",
            "poststart": "running", "poststop": "stopped"}
    for kind, status in want.items():
        st = json.loads((out / kind).read_text())
        assert st["id"] == bundle.id and st["bundle"] == str(bundle.path), kind
        assert st["status"] == status, (kind, st)
        assert st["annotations"] == bundle.config["annotations"], (kind, st)
        if status != "stopped":
            assert st["pid"] > 0, (kind, st)
    started = json.loads((bundle.rootfs / "started").read_text())
    assert started["id"] == bundle.id and started["annotations"]["n"] == "1"


def test_failing_hook_fails_create(bundle):
    bundle.config["hooks"] = {"createRuntime": [{"path": "/bin/false"}]}
    r = bundle.run("true", check=False)
    assert r.returncode != 0 and "createRuntime hook 0" in r.stderr
    assert not (bundle.root / bundle.id).exists()


def test_hook_timeout(bundle):
    bundle.config["hooks"] = {"prestart": [{"path": "/bin/sleep", "args": ["sleep", "10"],
                                            "timeout": 1}]}
    r = bundle.run("true", check=False)
    assert r.returncode != 0 and "timed out" in r.stderr


# ---- lifecycle ----

def test_lifecycle(bundle):
    pidfile = bundle.path / "pid"
    bundle.create("echo", "started", extra=("--pid-file", str(pidfile)))
    st = bundle.state()
    assert st["status"] == "created" and st["id"] == bundle.id
    assert int(pidfile.read_text()) == st["pid"]
    assert bundle.output() == "", "process ran before start"
    bundle.ct("start", bundle.id, check=True)
    assert wait_for(lambda: bundle.state()["status"] == "stopped")
    assert bundle.output() == "started\n"
    r = bundle.ct("start", bundle.id)
    assert r.returncode != 0 and "not created" in r.stderr
    bundle.ct("delete", bundle.id, check=True)
    assert not (bundle.root / bundle.id).exists()
    assert not cgroup_dirs(f"/vps-ct/{bundle.id}")
    r = bundle.ct("state", bundle.id)
    assert r.returncode != 0 and "does not exist" in r.stderr


def test_kill_and_delete_force(bundle):
    bundle.create("pause")
    bundle.ct("start", bundle.id, check=True)
    assert bundle.state()["status"] == "running"
    r = bundle.ct("delete", bundle.id)
    assert r.returncode != 0 and "use --force" in r.stderr
    bundle.ct("kill", bundle.id, "TERM", check=True)
    assert wait_for(lambda: bundle.state()["status"] == "stopped")
    bundle.ct("delete", bundle.id, check=True)
    bundle.create("pause")
    pid = bundle.state()["pid"]
    bundle.ct("delete", "--force", bundle.id, check=True)
    assert not os.path.exists(f"/proc/{pid}/cmdline") or \
        open(f"/proc/{pid}/stat").read().split(")")[1].split()[0] == "Z"
    assert not cgroup_dirs(f"/vps-ct/{bundle.id}")


def test_run_detach(bundle):
    bundle.config["process"]["args"] = ["/init", "pause"]
    bundle.write()
    with open(bundle.path / "out", "w") as out:
        r = subprocess.run([str(VPS_CT), "--root", str(bundle.root), "run", "-d",
                            "-b", str(bundle.path), bundle.id],
                           stdout=out, stderr=out, timeout=30)
    assert r.returncode == 0, bundle.output()
    assert bundle.state()["status"] == "running"


def test_exec(bundle):
    bundle.create("pause")
    bundle.ct("start", bundle.id, check=True)
    r = bundle.ct("exec", "-e", "X=y", "--cwd", "/tmp", bundle.id, "/init", "env", check=True)
    assert "X=y" in r.stdout and "PATH=/bin:/sbin" in r.stdout
    r = bundle.ct("exec", bundle.id, "/init", "ns", "pid", check=True)
    st = bundle.state()
    assert r.stdout.strip() == os.readlink(f"/proc/{st['pid']}/ns/pid")
    assert bundle.ct("exec", bundle.id, "/init", "cwd").stdout.strip() == "/"
    assert bundle.ct("exec", "-u", "1000:1000", bundle.id, "/init", "id").stdout \
        .startswith("uid=1000 gid=1000")
    assert bundle.ct("exec", bundle.id, "/init", "exit", "5").returncode == 5
    r = bundle.ct("exec", bundle.id, "/nope")
    assert r.returncode != 0 and "exec `/nope`" in r.stderr
    proc = bundle.path / "process.json"
    proc.write_text(json.dumps({"args": ["/init", "hostname"], "cwd": "/"}))
    assert bundle.ct("exec", "-p", str(proc), bundle.id).stdout.strip() == "vps-test"


def test_ps_list_pause(bundle):
    bundle.create("pause")
    bundle.ct("start", bundle.id, check=True)
    pid = bundle.state()["pid"]
    assert json.loads(bundle.ct("ps", "--format", "json", bundle.id, check=True).stdout) == [pid]
    lst = json.loads(bundle.ct("list", "--format", "json", check=True).stdout)
    assert [c["id"] for c in lst] == [bundle.id] and lst[0]["status"] == "running"
    bundle.ct("pause", bundle.id, check=True)
    assert bundle.state()["status"] == "paused"
    stat = open(f"/proc/{pid}/stat").read().split(")")[1].split()[0]
    freezer = glob.glob(f"/sys/fs/cgroup/freezer/vps-ct/{bundle.id}/freezer.state")
    if freezer:
        assert open(freezer[0]).read().strip() == "FROZEN"
    assert stat in ("S", "D"), stat
    bundle.ct("resume", bundle.id, check=True)
    assert bundle.state()["status"] == "running"


def test_resources_and_update(bundle):
    bundle.config["linux"]["resources"] = {"memory": {"limit": 64 << 20},
                                           "pids": {"limit": 20}}
    bundle.create("pause")
    mem = glob.glob(f"/sys/fs/cgroup/memory/vps-ct/{bundle.id}/memory.limit_in_bytes") + \
        glob.glob(f"/sys/fs/cgroup/vps-ct/{bundle.id}/memory.max")
    assert mem, "no memory cgroup"
    assert int(open(mem[0]).read()) == 64 << 20
    bundle.ct("update", "--memory", "32M", bundle.id, check=True)
    assert int(open(mem[0]).read()) == 32 << 20
    pids = glob.glob(f"/sys/fs/cgroup/pids/vps-ct/{bundle.id}/pids.max") + \
        glob.glob(f"/sys/fs/cgroup/vps-ct/{bundle.id}/pids.max")
    assert open(pids[0]).read().strip() == "20"


def test_unified_refused_on_v1_hybrid(bundle, tmp_path):
    """linux.resources.unified needs cgroup v2: on this host (a v1 hybrid,
    memory on v1) create is refused with the file and the reason, leaving
    no cgroup; so is an update (test_ct_v2.py has it working on v2)."""
    bundle.config["linux"]["resources"] = {"memory": {"limit": 64 << 20},
                                           "unified": {"memory.high": "50331648"}}
    bundle.write()
    r = bundle.ct("create", "-b", str(bundle.path), bundle.id)
    assert r.returncode != 0
    assert ("unified: `memory.high` needs cgroup v2 (this host's memory controller "
            "is on v1)") in r.stderr, r.stderr
    assert not cgroup_dirs(f"/vps-ct/{bundle.id}")
    del bundle.config["linux"]["resources"]["unified"]
    bundle.create("pause")
    res = tmp_path / "res.json"
    res.write_text('{"memory": {"limit": 33554432}, "unified": {"memory.high": "max"}}')
    r = bundle.ct("update", "--resources", str(res), bundle.id)
    assert r.returncode != 0 and "`memory.high` needs cgroup v2" in r.stderr, r.stderr
    mem = glob.glob(f"/sys/fs/cgroup/memory/vps-ct/{bundle.id}/memory.limit_in_bytes")
    assert int(open(mem[0]).read()) == 64 << 20, "refused update wrote something"


def test_cgroups_path(bundle):
    path = f"/vps-ct-test/{bundle.id}"
    bundle.config["linux"]["cgroupsPath"] = path
    bundle.create("pause")
    assert cgroup_dirs(path)
    bundle.ct("delete", "--force", bundle.id, check=True)
    assert not cgroup_dirs(path)
    for d in glob.glob("/sys/fs/cgroup/*/vps-ct-test"):
        try:
            os.rmdir(d)
        except OSError:
            pass  # another test's container still lives under it


def test_failed_create_leaves_nothing(bundle):
    bundle.config["mounts"].append({"destination": "/x", "type": "bind",
                                    "source": "/tmp", "options": ["bind"]})
    bundle.config["mounts"].append({"destination": "/y", "type": "nosuchfs",
                                    "source": "none"})
    bundle.write()
    before = set(os.listdir("/proc"))
    r = bundle.ct("create", "-b", str(bundle.path), bundle.id)
    assert r.returncode != 0
    assert f"create container `{bundle.id}`: mount `nosuchfs` on `/y`: No such device" \
        in r.stderr
    assert not (bundle.root / bundle.id).exists()
    assert not cgroup_dirs(f"/vps-ct/{bundle.id}")
    leftovers = [p for p in set(os.listdir("/proc")) - before if p.isdigit()
                 and "vps-ct" in open(f"/proc/{p}/cmdline").read()]
    assert not leftovers
    # no mount leaked into the host
    assert "/x" not in [ln.split()[4] for ln in open("/proc/self/mountinfo")
                        if str(bundle.rootfs) in ln]


def test_bad_config_names_json_path(bundle):
    bundle.config["linux"]["namespaces"].append({"type": "foo"})
    bundle.write()
    r = bundle.ct("create", "-b", str(bundle.path), bundle.id)
    assert r.returncode != 0
    assert 'linux.namespaces[6].type: unknown namespace "foo"' in r.stderr
    assert not (bundle.root / bundle.id).exists()


def test_duplicate_id(bundle):
    bundle.create("pause")
    r = bundle.ct("create", "-b", str(bundle.path), bundle.id)
    assert r.returncode != 0 and "already exists" in r.stderr
    assert bundle.state()["status"] == "created"


def test_console_socket(bundle, tmp_path):
    sock_path = str(tmp_path / "console.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(sock_path)
    srv.listen(1)
    bundle.config["process"]["terminal"] = True
    bundle.config["process"]["args"] = ["/init", "isatty"]
    bundle.write()
    p = subprocess.Popen([str(VPS_CT), "--root", str(bundle.root), "run",
                          "--console-socket", sock_path, "-b", str(bundle.path),
                          bundle.id], stderr=subprocess.PIPE, text=True)
    conn, _ = srv.accept()
    _, fds, _, _ = socket.recv_fds(conn, 16, 1)
    assert len(fds) == 1
    master = os.fdopen(fds[0], "rb", buffering=0)
    data = b""
    end = time.monotonic() + 10
    while b"\n" not in data and time.monotonic() < end:
        try:
            data += master.read(64)
        except OSError:
            break
    assert p.wait(timeout=10) == 0, p.stderr.read()
    assert data.strip() == b"1"


def test_console_is_the_pty(bundle, tmp_path):
    # runtime-spec: with a terminal, /dev/console is the pty (bound on a file
    # we make: no mknod in a user namespace); what init writes there arrives
    # on the master the console socket got (systemd's boot messages do)
    sock_path = str(tmp_path / "console.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(sock_path)
    srv.listen(1)
    bundle.config["process"]["terminal"] = True
    bundle.config["process"]["args"] = ["/init", "write", "/dev/console", "on-console"]
    bundle.write()
    p = subprocess.Popen([str(VPS_CT), "--root", str(bundle.root), "run",
                          "--console-socket", sock_path, "-b", str(bundle.path),
                          bundle.id], stderr=subprocess.PIPE, text=True)
    conn, _ = srv.accept()
    _, fds, _, _ = socket.recv_fds(conn, 16, 1)
    master = os.fdopen(fds[0], "rb", buffering=0)
    data = b""
    end = time.monotonic() + 10
    while b"ok\n" not in data.replace(b"\r", b"") and time.monotonic() < end:
        try:
            data += master.read(64)
        except OSError:
            break
    assert p.wait(timeout=10) == 0, p.stderr.read()
    assert data.replace(b"\r", b"") == b"on-consoleok\n", data


def test_log_json(bundle):
    log = bundle.path / "log.json"
    r = subprocess.run([str(VPS_CT), "--root", str(bundle.root), "--log", str(log),
                        "--log-format", "json", "state", "nosuch"],
                       capture_output=True, text=True)
    assert r.returncode != 0
    entry = json.loads(log.read_text().splitlines()[-1])
    assert entry["level"] == "error" and "does not exist" in entry["msg"]


def test_spec(tmp_path):
    r = subprocess.run([str(VPS_CT), "spec", "-b", str(tmp_path)], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["ociVersion"].startswith("1.") and cfg["root"]["path"] == "rootfs"
    r = subprocess.run([str(VPS_CT), "spec", "-b", str(tmp_path)], capture_output=True,
                       text=True)
    assert r.returncode != 0 and "File exists" in r.stderr


CGROUP_MOUNT = {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}


def test_cgroup_mount_is_the_containers_own(bundle):
    """The container sees its own cgroup as the root of each hierarchy, read-only,
    not the host's tree (runc's v1 layout; on v2 a cgroup2 mount in the cgroupns)."""
    bundle.config["mounts"].append(CGROUP_MOUNT)
    bundle.config["linux"]["resources"] = {"memory": {"limit": 48 << 20},
                                           "pids": {"limit": 13}}
    ls = bundle.run("ls", "/sys/fs/cgroup").split()
    assert {"memory", "pids", "cpu", "devices", "freezer"} <= set(ls), ls
    assert bundle.run("cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes") == f"{48 << 20}\n"
    assert bundle.run("cat", "/sys/fs/cgroup/pids/pids.max") == "13\n"
    # The root of the view is the container's leaf: no sibling or parent cgroup shows.
    assert "vps-ct" not in bundle.run("ls", "/sys/fs/cgroup/memory").split()
    out = bundle.run("write", "/sys/fs/cgroup/memory/memory.limit_in_bytes", "1", check=False)
    assert "Read-only file system" in out.stdout, out


def test_default_spec_mounts_cgroup(bundle, tmp_path):
    r = bundle.ct("spec", "-b", str(tmp_path), check=True)
    assert r.returncode == 0
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert CGROUP_MOUNT in cfg["mounts"], cfg["mounts"]


# ---- runtime-spec cases where vps-ct once departed from crun (issue 22) ----

def test_state_carries_annotations(bundle):
    bundle.config["annotations"] = {"a.b/c": "d"}
    bundle.create("pause")
    assert bundle.state()["annotations"] == {"a.b/c": "d"}


def test_memory_v1_swappiness_kernel_tcp_oom_killer(bundle):
    """memory.swappiness, kernelTCP and disableOOMKiller reach the v1 memory
    cgroup (they were ignored); out-of-range values name their path."""
    mem = {"limit": 64 << 20, "swappiness": 7, "kernelTCP": 8 << 20,
           "disableOOMKiller": True}
    bundle.config["linux"]["resources"] = {"memory": mem}
    bundle.create("pause")
    d = Path(f"/sys/fs/cgroup/memory/vps-ct/{bundle.id}")
    if not d.exists():
        pytest.skip("no v1 memory hierarchy here (cgroup v2 is tested in test_ct_v2.py)")
    assert (d / "memory.swappiness").read_text().strip() == "7"
    assert int((d / "memory.kmem.tcp.limit_in_bytes").read_text()) == 8 << 20
    assert "oom_kill_disable 1" in (d / "memory.oom_control").read_text()
    bundle.ct("delete", "--force", bundle.id, check=True)
    mem["swappiness"] = 101
    r = bundle.run("true", check=False)
    assert r.returncode != 0 and "linux.resources.memory.swappiness" in r.stderr, r.stderr


def _in_own_mount_ns(bundle, hier, *args):
    """vps-ct ARGS run in a private mount namespace where the net_cls and
    net_prio hierarchy is mounted on HIER: this host enables both controllers
    but mounts neither, and the test leaves the host's mounts alone."""
    script = 'mount -t cgroup -o net_cls,net_prio cgroup "$1" && shift && exec "$@"'
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                           script, "sh", str(hier), str(VPS_CT), "--root", str(bundle.root),
                           *args], capture_output=True, text=True, timeout=30)


def test_net_cls_and_net_prio(bundle, tmp_path):
    enabled = {l.split()[0] for l in open("/proc/cgroups") if not l.startswith("#")
               and l.split()[3] == "1"}
    if not {"net_cls", "net_prio"} <= enabled:
        pytest.skip("the kernel has no net_cls/net_prio controller")
    if Path("/sys/fs/cgroup/cgroup.controllers").exists():
        pytest.skip("cgroup v2: no net_cls or net_prio (refusal is tested in test_ct_v2.py)")
    net = {"classID": 0x100001, "priorities": [{"name": "lo", "priority": 7}]}
    bundle.config["linux"]["resources"] = {"network": net}
    bundle.config["mounts"].append(CGROUP_MOUNT)
    bundle.config["process"]["args"] = [
        "/bin/sh", "-c", "cat /sys/fs/cgroup/net_cls/net_cls.classid "
        "/sys/fs/cgroup/net_prio/net_prio.ifpriomap"]
    bundle.write()
    # Not mounted where vps-ct looks: a clear refusal, nothing left behind.
    mounted = any(" - cgroup " in l and "net_cls" in l for l in open("/proc/self/mountinfo"))
    if not mounted:
        r = bundle.ct("run", "-b", str(bundle.path), bundle.id)
        assert r.returncode != 0 and "net_cls controller is not mounted" in r.stderr, r.stderr
        assert not (bundle.root / bundle.id).exists()
    hier = tmp_path / "net_cls,net_prio"
    hier.mkdir()
    r = _in_own_mount_ns(bundle, hier, "run", "-b", str(bundle.path), bundle.id)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == str(0x100001), lines
    assert "lo 7" in lines[1:], lines
    # A hostile interface name cannot smuggle a second ifpriomap line in.
    net["priorities"] = [{"name": "lo 1\neth0", "priority": 7}]
    bundle.write()
    r = bundle.ct("run", "-b", str(bundle.path), bundle.id)
    assert r.returncode != 0 and "priorities[0].name: not an interface name" in r.stderr


def _without_mounts(bundle):
    """A config whose mounts would land in the host's namespace: none."""
    bundle.config["mounts"] = []
    bundle.config["linux"].pop("maskedPaths", None)
    bundle.config["linux"].pop("readonlyPaths", None)


def test_no_mount_namespace_chroots(bundle):
    """With no mount namespace in the config the container shares the
    runtime's and is chrooted into its rootfs, as crun does (vps-ct refused
    such a config). The host's "/" keeps its propagation; exec lands in the
    rootfs too."""
    bundle.config["linux"]["namespaces"] = [
        n for n in bundle.config["linux"]["namespaces"] if n["type"] != "mount"]
    _without_mounts(bundle)
    (bundle.rootfs / "marker").write_text("inside\n")
    before = [l for l in open("/proc/self/mountinfo") if l.split()[4] == "/"]
    assert bundle.run("cat", "/marker") == "inside\n"
    assert [l for l in open("/proc/self/mountinfo") if l.split()[4] == "/"] == before
    bundle.create("pause")
    pid = bundle.state()["pid"]
    assert os.readlink(f"/proc/{pid}/ns/mnt") == os.readlink("/proc/self/ns/mnt")
    assert os.readlink(f"/proc/{pid}/root") == str(bundle.rootfs)
    r = bundle.ct("exec", bundle.id, "/init", "cat", "/marker", check=True)
    assert r.stdout == "inside\n"
    # root.readonly needs a namespace of its own to remount in: refused, clearly
    bundle.ct("delete", "--force", bundle.id, check=True)
    bundle.config["root"]["readonly"] = True
    r = bundle.run("true", check=False)
    assert r.returncode != 0 and "root.readonly: needs a new mount namespace" in r.stderr


def test_join_mount_namespace_by_path(bundle):
    """A mount namespace given by path is joined (it failed with pivot_root:
    busy): the config's mounts are made in that namespace, never the host's,
    and the container chroots into its rootfs there."""
    holder = subprocess.Popen(["unshare", "--mount", "--propagation", "private",
                               "sleep", "60"])
    try:
        path = f"/proc/{holder.pid}/ns/mnt"
        for _ in range(100):
            if os.readlink(path) != os.readlink("/proc/self/ns/mnt"):
                break
            time.sleep(0.05)
        for n in bundle.config["linux"]["namespaces"]:
            if n["type"] == "mount":
                n["path"] = path
        (bundle.rootfs / "marker").write_text("joined\n")
        bundle.config["process"]["args"] = [
            "/bin/sh", "-c",
            "readlink /proc/self/ns/mnt; cat /marker; grep -c ' /proc ' /proc/self/mountinfo"]
        out = bundle.run()
        ns, marker, procs = out.split()
        assert ns == os.readlink(path) and marker == "joined"
        assert int(procs) >= 1
        host = open("/proc/self/mountinfo").read()
        assert str(bundle.rootfs / "proc") not in host, "a config mount reached the host"
    finally:
        holder.kill()
        holder.wait()
