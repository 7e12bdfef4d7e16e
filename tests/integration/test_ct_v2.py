# SPDX-License-Identifier: GPL-2.0-or-later
"""vps-ct, the OCI runtime, on pure cgroup2: the same bundles as
test_ct_runtime.py (framework/ct.py), run by the real vps-ct inside the
nested test host L1, whose /sys/fs/cgroup is one unified cgroup2 tree (this
host is a v1 hybrid, see docs/cgroups.md). Covered: run and exit status;
the create/start/state/kill/delete lifecycle; memory+swap, cpu quota and
pids limits in memory.max, memory.swap.max, cpu.max and pids.max, and the
cgroup in /proc/PID/cgroup; the eBPF device program from inside; update of
live limits; pause/resume through cgroup.freeze; a failed create leaves no
cgroup, state or process. Every command in L1 costs about a second (TCG),
so each test batches what it can."""

import json
import subprocess

import pytest

from framework.ct import BUILD, INIT, VPS_CT, L1Bundle, mkrootfs

M = 1 << 20


@pytest.fixture(scope="module")
def l1_ct_tar(l1_session):
    """The busybox rootfs as a tar in L1's scratch share (L1 path)."""
    for p in (VPS_CT, INIT):
        if not p.exists():
            pytest.fail(f"{p} is not built: ninja -C {BUILD}")
    rootfs = mkrootfs()
    l1 = l1_session  # the scratch share outlives a restart of L1
    host, inl1 = l1.scratch_path("ct-rootfs.tar")
    subprocess.run(["tar", "-cf", str(host), "-C", str(rootfs), "."],
                   check=True)
    r = l1.run("stat -f -c %T /sys/fs/cgroup; test -e /sys/fs/cgroup/memory"
               " && echo v1-memory; true", check=True)
    assert r.stdout.split() == ["cgroup2fs"], f"L1 is not pure cgroup2: {r}"
    yield inl1
    host.unlink(missing_ok=True)


@pytest.fixture
def b(l1, l1_ct_tar):
    bundle = L1Bundle(l1, l1_ct_tar)
    yield bundle
    bundle.cleanup()


def test_v2_run_and_exit_status(b):
    r = b.run("echo", "hello")
    assert r.stdout == "hello\n", r
    assert b.gone() == [], "run left something behind"
    r = b.run("exit", "7", check=False)
    assert r.status == 7, r
    # inside, the cgroup namespace shows its own cgroup as the root
    assert b.run("cat", "/proc/self/cgroup").stdout == "0::/\n"
    assert b.gone() == []


def test_v2_lifecycle(b):
    b.create("echo", "started", extra=("--pid-file", f"{b.path}/pid"))
    st = b.state()
    assert st["status"] == "created" and st["id"] == b.id
    r = b.sh(f"cat {b.path}/pid; echo; cat /sys/fs/cgroup{b.cgpath}/cgroup.procs",
             check=True)
    assert r.stdout.split() == [str(st["pid"])] * 2, r
    assert b.output() == "", "process ran before start"
    b.ct("start", b.id, check=True)
    r = b.sh("for i in $(seq 50); do " + b.ct_cmd("state", b.id) +
             " | grep -q '\"stopped\"' && break; sleep 0.1; done; " +
             b.ct_cmd("state", b.id), check=True)
    assert json.loads(r.stdout)["status"] == "stopped"
    assert b.output() == "started\n"
    r = b.ct("start", b.id)
    assert r.status != 0 and "not created" in r.stderr, r
    b.ct("delete", b.id, check=True)
    assert b.gone() == []
    r = b.ct("state", b.id)
    assert r.status != 0 and "does not exist" in r.stderr, r

    # kill: a running init ends with the signal, delete then cleans up
    b.create("pause")
    b.ct("start", b.id, check=True)
    assert b.state()["status"] == "running"
    r = b.ct("delete", b.id)
    assert r.status != 0 and "use --force" in r.stderr, r
    b.ct("kill", b.id, "TERM", check=True)
    r = b.sh("for i in $(seq 50); do " + b.ct_cmd("state", b.id) +
             " | grep -q '\"stopped\"' && break; sleep 0.1; done; " +
             b.ct_cmd("state", b.id), check=True)
    assert json.loads(r.stdout)["status"] == "stopped"
    b.ct("delete", b.id, check=True)
    assert b.gone() == []


def test_v2_resources_and_update(b):
    b.config["linux"]["resources"] = {
        "memory": {"limit": 64 * M, "swap": 128 * M},
        "cpu": {"quota": 50000, "period": 100000},
        "pids": {"limit": 20}}
    b.create("pause")
    pid = b.state()["pid"]
    files = "memory.max memory.swap.max cpu.max pids.max"
    d = f"/sys/fs/cgroup{b.cgpath}"

    def limits():
        r = b.sh(f"cd {d} && for f in {files}; do echo $f=$(cat $f); done",
                 check=True)
        return dict(ln.split("=") for ln in r.stdout.split("\n") if ln)

    # swap is memory + swap in OCI: memory.swap.max gets the difference
    assert limits() == {"memory.max": str(64 * M),
                        "memory.swap.max": str(64 * M),
                        "cpu.max": "50000 100000", "pids.max": "20"}
    r = b.sh(f"cat /proc/{pid}/cgroup", check=True)
    assert r.stdout == f"0::{b.cgpath}\n", r
    b.ct("update", "--memory", "32M", "--memory-swap", "48M", "--cpu-quota",
         "20000", "--pids-limit", "7", b.id, check=True)
    assert limits() == {"memory.max": str(32 * M),
                        "memory.swap.max": str(16 * M),
                        "cpu.max": "20000 100000", "pids.max": "7"}
    # -1 lifts a limit
    b.ct("update", "--memory", "-1", "--memory-swap", "-1", "--cpu-quota",
         "-1", b.id, check=True)
    assert limits() == {"memory.max": "max", "memory.swap.max": "max",
                        "cpu.max": "max 100000", "pids.max": "7"}
    b.ct("delete", "--force", b.id, check=True)
    assert b.gone() == []


def test_v2_unified(b):
    """linux.resources.unified: each file written after the mapped fields
    (so it wins), at create and by update --resources; a file that is not
    there is an error naming it, and the create leaves nothing."""
    b.config["linux"]["resources"] = {
        "memory": {"limit": 64 * M},
        "unified": {"memory.high": str(48 * M), "pids.max": "9", "memory.max": str(60 * M)}}
    b.create("pause")
    d = f"/sys/fs/cgroup{b.cgpath}"
    r = b.sh(f"cat {d}/memory.high {d}/pids.max {d}/memory.max", check=True)
    assert r.stdout.split() == [str(48 * M), "9", str(60 * M)], r
    b.sh(f"printf '%s' '{{\"unified\": {{\"memory.high\": \"max\"}}}}' "
         f"> {b.path}/res.json", check=True)
    b.ct("update", "--resources", f"{b.path}/res.json", b.id, check=True)
    r = b.sh(f"cat {d}/memory.high {d}/memory.max", check=True)
    assert r.stdout.split() == ["max", str(60 * M)], r
    b.ct("delete", "--force", b.id, check=True)
    assert b.gone() == []
    b.config["linux"]["resources"] = {"unified": {"memory.nosuch": "1"}}
    b.write()
    r = b.ct("create", "-b", b.path, b.id)
    assert r.status != 0, r
    assert f"unified: `memory.nosuch`: no such file in `{d}`" in r.stderr, r
    assert b.gone() == []


def test_v2_devices(b):
    b.config["linux"]["resources"] = {"devices": [
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 10, "minor": 200,
         "access": "rw"}]}
    # /dev/null is a default device; kmsg (1:11) is in no allow rule
    b.config["process"]["args"] = [
        "/bin/sh", "-c", "/init write /dev/null x; mknod /dev/kmsg2 c 1 11 && "
        "/init write /dev/kmsg2 vps-ct-device-test"]
    r = b.run(check=False)
    assert r.stdout.split("\n") == ["ok", "error: Operation not permitted",
                                    ""], r
    assert r.status == 1, r
    # a process exec'ed later joins the cgroup, and its program with it
    b.create("pause")
    b.ct("start", b.id, check=True)
    r = b.ct("exec", b.id, "/bin/sh", "-c",
             "mknod /dev/kmsg3 c 1 11; /init write /dev/kmsg3 x; "
             "/init write /dev/zero x")
    assert r.stdout.split("\n") == ["error: Operation not permitted", "ok",
                                    ""], r
    b.ct("delete", "--force", b.id, check=True)
    assert b.gone() == []


def test_v2_pause_resume(b):
    b.create("pause")
    b.ct("start", b.id, check=True)
    pid = b.state()["pid"]
    b.ct("pause", b.id, check=True)
    assert b.state()["status"] == "paused"
    assert b.cg("cgroup.freeze") == "1"
    assert "frozen 1" in b.cg("cgroup.events").split("\n")
    b.ct("resume", b.id, check=True)
    assert b.state()["status"] == "running"
    assert b.cg("cgroup.freeze") == "0"
    assert "frozen 0" in b.cg("cgroup.events").split("\n")
    r = b.sh(f"grep ^State /proc/{pid}/status", check=True)
    assert "S (sleeping)" in r.stdout, r
    b.ct("delete", "--force", b.id, check=True)
    assert b.gone() == []


def test_v2_failed_create_leaves_nothing(b):
    b.config["mounts"].append({"destination": "/x", "type": "bind",
                               "source": "/tmp", "options": ["bind"]})
    b.config["mounts"].append({"destination": "/y", "type": "nosuchfs",
                               "source": "none"})
    b.write()
    r = b.ct("create", "-b", b.path, b.id)
    assert r.status != 0
    assert f"create container `{b.id}`: mount `nosuchfs` on `/y`: No such " \
           "device" in r.stderr, r
    assert b.gone() == []
    # a cgroup write that fails (no such cpu): nothing made stays either
    del b.config["mounts"][-2:]
    b.config["linux"]["resources"] = {"memory": {"limit": 64 * M},
                                      "cpu": {"cpus": "999"}}
    b.write()
    r = b.ct("create", "-b", b.path, b.id)
    assert r.status != 0 and "cpuset.cpus" in r.stderr and "`999`" in r.stderr, r
    assert b.gone() == []
    # no mount leaked into L1
    r = b.sh(f"grep -c ' {b.path}/rootfs' /proc/self/mountinfo")
    assert r.stdout.strip() == "0", r


def test_v2_cgroup_mount_is_the_containers_own(b):
    b.config["mounts"].append({"destination": "/sys/fs/cgroup", "type": "cgroup",
                               "source": "cgroup",
                               "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]})
    b.config["linux"]["resources"] = {"memory": {"limit": 48 * M}, "pids": {"limit": 13}}
    assert b.run("cat", "/sys/fs/cgroup/memory.max").stdout == f"{48 * M}\n"
    assert b.run("cat", "/sys/fs/cgroup/pids.max").stdout == "13\n"
    # cgroup2 mounted in the cgroup namespace: the container's cgroup is the root.
    r = b.run("ls", "/sys/fs/cgroup")
    assert "cgroup.procs" in r.stdout.split() and "vps-ct" not in r.stdout.split(), r
    r = b.run("write", "/sys/fs/cgroup/pids.max", "1", check=False)
    assert "Read-only file system" in r.stdout, r
    assert b.gone() == []


def test_v2_refuses_v1_only_resources(b):
    """swappiness, kernelTCP, disableOOMKiller, classID and priorities have
    no cgroup v2 file: create is refused naming the field, not silently run
    without them, and leaves nothing (disableOOMKiller false asks nothing)."""
    cases = [({"memory": {"swappiness": 10}}, "memory.swappiness"),
             ({"memory": {"kernelTCP": 8 * M}}, "memory.kernelTCP"),
             ({"memory": {"disableOOMKiller": True}}, "memory.disableOOMKiller"),
             ({"network": {"classID": 0x100001}}, "network.classID"),
             ({"network": {"priorities": [{"name": "lo", "priority": 1}]}},
              "network.priorities")]
    for res, field in cases:
        b.config["linux"]["resources"] = res
        b.write()
        r = b.ct("create", "-b", b.path, b.id)
        assert r.status != 0 and f"linux.resources.{field}: cgroup v1 only" in r.stderr, r
        assert b.gone() == []
    b.config["linux"]["resources"] = {"memory": {"limit": 64 * M,
                                                 "disableOOMKiller": False}}
    r = b.run("true", check=False)
    assert r.status == 0, r
