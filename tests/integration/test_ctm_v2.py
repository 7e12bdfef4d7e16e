# SPDX-License-Identifier: GPL-2.0-or-later
"""vps-ctm, the system-container monitor, on pure cgroup2: the nested test
host L1 (docs/testbench.md), whose /sys/fs/cgroup is one unified tree, runs
the real vps-ctm and vps-ct from the build directory (through the shared
root). This host is a v1 hybrid, so only here do the v2 limits show:
memory.max, memory.swap.max and memory.high (the soft edge vps-ctm sets 1/16
under the limit, docs/ctm.md) as the container itself sees them in its
delegated cgroup; a live `set`; a memory hog held to the limit; reboot and
power-off from inside; nothing left after; /proc/meminfo from vps-ctm with
the vswap as sold. L1's kernel has loop, ext4 and fuse as modules that its
initramfs does not load: the fixture loads them from the test kernel's own
module tree (modprobe -d).

L1's agent runs chrooted in the host's root (/host of L1's initramfs), and
a chrooted process may not make a user namespace (clone(2): EPERM; the
kernel's current_chrooted()), which every vps-ctm container has. Nor does
pivot_root help: the namespace's root stays the initramfs. So each vps-ctm
command runs through UNCHROOT: in a mount namespace of its own it leaves
the chroot, moves /host onto / and chroots there, as switch_root does at
boot, and is then at its namespace's root. The container's disk is mounted
in the monitor's namespace, which ends with it; "nothing left" checks that
no process keeps that namespace alive.

Every command in L1 costs about a second (TCG), so the tests batch what
they can in one shell command."""

import json
import math
import shlex
import shutil
import uuid

import pytest

from framework.ct import BUILD, VPS_CT
from framework.ctm import VPS_CTM, template

M = 1 << 20

# unchroot.py CMD ARG...: runs CMD at its mount namespace's root (see above)
UNCHROOT_PY = """
import ctypes, os, sys
os.makedirs("/tmp/.unchroot", exist_ok=True)
fd = os.open("/", os.O_RDONLY)
os.chroot("/tmp/.unchroot")  # the cwd is now outside the root: walk up
os.fchdir(fd)
for _ in range(64):
    os.chdir("..")
os.chroot(".")  # the initramfs
os.chdir("/host")
libc = ctypes.CDLL(None, use_errno=True)
if libc.mount(b".", b"/", None, 8192, None):  # MS_MOVE
    raise OSError(ctypes.get_errno(), "move /host to /")
os.chroot(".")
os.chdir("/")
os.execvp(sys.argv[1], sys.argv[1:])
"""
UNCHROOT = "unshare -m /usr/bin/python3 /tmp/unchroot.py "


@pytest.fixture(scope="module")
def l1_tarball(l1_session):
    """A function giving a template tarball's L1 path: copied into the
    scratch share (a file the host makes after L1 booted may read stale
    through L1's 9p cache), which outlives a restart of L1."""
    for p in (VPS_CT, VPS_CTM):
        if not p.exists():
            pytest.fail(f"{p} is not built: ninja -C {BUILD}")
    copied = {}

    def tarball(name):
        if name not in copied:
            src = template(name)
            host, inl1 = l1_session.scratch_path(f"ctm-{name}" + src[src.index(".tar"):])
            shutil.copyfile(src, host)
            copied[name] = (host, inl1)
        return copied[name][1]

    yield tarball
    for host, _ in copied.values():
        host.unlink(missing_ok=True)


class L1Ctm:
    """One system container in L1: its settings file, directory and run
    directory under /var/tmp/ctm-NAME (L1's overlay, in its memory; 0711 on
    the way down, as the container's root must reach rootfs/), the monitor
    run in the background with its exit status written to a file."""

    def __init__(self, l1, tarball, **kw):
        self.l1 = l1
        self.name = "t" + uuid.uuid4().hex[:6]
        self.base = f"/var/tmp/ctm-{self.name}"
        self.cfg = f"{self.base}/ct.json"
        self.config = {"name": self.name, "dir": f"{self.base}/ct",
                       "run_dir": f"{self.base}/run", "template": tarball,
                       "memory": "128M", "swap": "64M", "pids": 200, "disk": "96M",
                       "uid_base": 200000, "stop_timeout": 10,
                       "lxcfs": ""}  # no lxcfs in L1: sysinfo() alone
        self.config.update(kw)
        self.mntns = None
        self.sh(f"mkdir -p -m 0711 {self.base} && cat > {self.cfg} <<'VPS_EOF'\n"
                f"{json.dumps(self.config)}\nVPS_EOF", check=True)

    def sh(self, cmd, check=False, timeout=180):
        r = self.l1.run(cmd, timeout=timeout)
        if check:
            assert r.ok, f"{r}\nmonitor log:\n{self.log()}"
        return r

    def ctm_cmd(self, *args):
        return UNCHROOT + shlex.join([str(VPS_CTM), args[0], self.cfg, *map(str, args[1:])])

    def ctm(self, *args, check=False, timeout=180):
        return self.sh(self.ctm_cmd(*args), check=check, timeout=timeout)

    def ctl(self, req):
        r = self.ctm("ctl", json.dumps(req), check=True)
        return json.loads(r.stdout)

    def exec(self, *cmd):
        """CMD inside (vps-ctm exec); its stdout. Fails the test if it fails."""
        return self.ctm("exec", "--", *cmd, check=True).stdout

    def log(self):
        """The monitor's output and the processes in L1, for failure messages."""
        return self.l1.run(f"tail -40 {self.base}/monitor.log; ps -ef | grep -v ' \\['",
                           timeout=30).stdout

    def start(self):
        """vps-ctm run in the background; waits for the state running."""
        b = self.base
        self.sh(f"cat > {b}/run.sh <<'VPS_EOF'\n{self.ctm_cmd('run')}\n"
                f"echo $? > {b}/status\nVPS_EOF\n"
                f"setsid sh {b}/run.sh </dev/null >{b}/monitor.log 2>&1 &", check=True)
        st = self.wait_state("running", boots=1)
        # the monitor's mount namespace (UNCHROOT's): what holds the disk's mount
        r = self.sh(f"readlink /proc/$(pgrep -o -f '^{VPS_CTM} run {self.cfg}')/ns/mnt",
                    check=True)
        self.mntns = r.stdout.strip()
        return st

    def wait_state(self, want, timeout=150, **fields):
        """Polls the state in L1 (one agent command) until WANT and FIELDS."""
        cond = " && ".join(f"echo \"$s\" | grep -qF '{p}'" for p in
                           [f'"state":"{want}"'] +
                           [f'"{k}":{json.dumps(v)}' for k, v in fields.items()])
        ctl = self.ctm_cmd("ctl", '{"cmd":"state"}')
        r = self.sh(f"for i in $(seq {timeout * 2}); do s=$(timeout 20 {ctl}); "
                    f"{{ {cond}; }} && break; "
                    f"test -e {self.base}/status && break; sleep 0.5; done; echo \"$s\"",
                    timeout=timeout + 30)
        try:
            st = json.loads(r.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            st = None
        assert st and st.get("state") == want and all(st.get(k) == v for k, v in
                                                      fields.items()), \
            f"state {want} {fields} not reached: {r}\nmonitor log:\n{self.log()}"
        return st

    def wait_exit(self, timeout=90):
        """The monitor's exit status."""
        r = self.sh(f"for i in $(seq {timeout * 5}); do test -s {self.base}/status && break; "
                    f"sleep 0.2; done; cat {self.base}/status", timeout=timeout + 30)
        assert r.stdout.strip(), f"monitor did not exit: {r}\n{self.log()}"
        return int(r.stdout.strip())

    def leftovers(self):
        """What is left in L1 of the container: a list of texts."""
        d = self.config["dir"]
        r = self.sh(f"test -d /sys/fs/cgroup/vps-ct/{self.name} && echo cgroup; "
                    f"grep -q ' {d}/rootfs ' /proc/self/mountinfo && echo mount; "
                    f"losetup -n -O NAME -j {d}/disk.img | sed 's/^/loop /'; "
                    f"pgrep -f '^{VPS_CTM} run {self.cfg}' >/dev/null && echo monitor; "
                    f"for p in /proc/[0-9]*; do test \"$(readlink $p/ns/mnt)\" = "
                    f"'{self.mntns}' && echo \"mount namespace held by ${{p#/proc/}}\"; "
                    f"done; true")
        return r.stdout.split("\n")[:-1]

    def cleanup(self):
        """Stops the monitor if still running, destroys, removes the files."""
        stop = self.ctm_cmd("ctl", '{"cmd":"stop"}')
        self.sh(f"if ! test -e {self.base}/status; then {stop}; "
                f"for i in $(seq 100); do test -e {self.base}/status && break; sleep 0.2; "
                f"done; pkill -KILL -f '^{VPS_CTM} run {self.cfg}'; fi; "
                f"{self.ctm_cmd('destroy')}; rm -rf {self.base}")


@pytest.fixture
def ctm_l1(l1, l1_tarball, guest_kernel):
    """make(template_name="busybox", **config) -> an L1Ctm, each stopped and
    destroyed when the test ends. Checks that L1 is pure cgroup2 and loads
    loop, ext4 and fuse (cheap when done already)."""
    r = l1.run(f"stat -f -c %T /sys/fs/cgroup; modprobe -d {guest_kernel.dir} -a loop ext4 fuse "
               "&& test -c /dev/loop-control && echo loop-ok; command -v mkfs.ext4; "
               f"cat > /tmp/unchroot.py <<'VPS_EOF'\n{UNCHROOT_PY}\nVPS_EOF\n", check=True)
    out = r.stdout.split()
    assert out[:2] == ["cgroup2fs", "loop-ok"] and out[2].endswith("mkfs.ext4"), r
    made = []

    def make(template_name="busybox", **kw):
        c = L1Ctm(l1, l1_tarball(template_name), **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        if l1.healthy:
            c.cleanup()


def cg_files(ct):
    """memory.max, memory.high, memory.swap.max as the container sees them."""
    out = ct.exec("cat", "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.high",
                  "/sys/fs/cgroup/memory.swap.max").split()
    return dict(zip(("max", "high", "swap"), out))


def test_ctm_v2_busybox(ctm_l1):
    ct = ctm_l1()
    ct.ctm("create", check=True)
    st = ct.start()
    assert st["init"] == "busybox" and st["boots"] == 1, st

    # the monitor from outside (test_attack_host.py on the v1 hybrid): only
    # its capabilities (less what L1's root lacks), and no sysinfo monitor:
    # vps-ctm answers sysinfo() itself (its socket in the run directory)
    r = ct.sh(f"grep CapBnd /proc/self/status; "
              f"echo sysinfo-monitors $(pgrep -x vps-ct-sysinfo | wc -l); "
              f"test -S {ct.base}/run/sysinfo.sock && echo sysinfo-sock; grep -E "
              f"'^(CapEff|CapBnd):' /proc/$(pgrep -o -f '^{VPS_CTM} run {ct.cfg}')/status",
              check=True)
    lines = r.stdout.split("\n")
    root = int(lines[0].split()[1], 16)
    assert lines[1:3] == ["sysinfo-monitors 0", "sysinfo-sock"], r
    ctm = sum(1 << c for c in (0, 1, 3, 4, 5, 6, 7, 8, 12, 18, 19, 21, 24, 27, 31)) & root
    assert int(lines[3].split()[1], 16) == int(lines[4].split()[1], 16) == ctm, r

    # the limits, from inside: the container's own delegated cgroup2 tree
    assert cg_files(ct) == {"max": str(128 * M), "high": str(120 * M), "swap": str(64 * M)}
    # the host side is the same cgroup
    r = ct.sh(f"cat /sys/fs/cgroup/vps-ct/{ct.name}/memory.high", check=True)
    assert r.stdout.strip() == str(120 * M), r
    # busybox free: total and free come from sysinfo(), which vps-ct answers
    # from the cgroup; buff/cache and available from /proc/meminfo, which
    # without lxcfs (none in L1) is L1's own, so its "used" (total - free -
    # buff/cache) can wrap below zero and run into the total's column: read
    # the columns by position
    free = ct.exec("free", "-k").split("\n")
    end = free[0].index("total") + len("total")
    mem = next(ln for ln in free if ln.startswith("Mem:"))
    assert int(mem[4:end]) == 128 * 1024, free
    assert 64 * 1024 < int(free[1][end:].split()[-4]) < 128 * 1024, free  # free
    # /proc/meminfo is vps-ctm's (src/ctm/procfs.c), from memory.max and
    # memory.swap.max: the vswap as sold, L1 having no swap
    mem = dict(ln.split(":", 1) for ln in ct.exec("cat", "/proc/meminfo").split("\n") if ln)
    mem = {k: int(v.split()[0]) for k, v in mem.items()}
    assert mem["MemTotal"] == 128 * 1024 and mem["SwapTotal"] == 64 * 1024, mem
    assert mem["SwapFree"] <= 64 * 1024 and mem["MemFree"] < 128 * 1024, mem
    assert ct.exec("cat", "/proc/swaps").split("\n")[1].split()[:3] == \
        ["none", "virtual", str(64 * 1024)]

    # a live set: memory.max and memory.high move together
    r = ct.ctl({"cmd": "set", "memory": "96M"})
    assert r.get("ok") and r.get("live"), r
    assert cg_files(ct) == {"max": str(96 * M), "high": str(90 * M), "swap": str(64 * M)}
    r = ct.exec("grep", "-E", "^(MemTotal|SwapTotal):", "/proc/meminfo").split()
    assert r == ["MemTotal:", str(96 * 1024), "kB", "SwapTotal:", str(64 * 1024), "kB"], r

    # a hog is held to the limit: the OOM killer ends it inside, the
    # container lives on (dd reads 200 MiB into one buffer)
    r = ct.ctm("exec", "--", "dd", "if=/dev/zero", "of=/dev/null", "bs=200M", "count=1")
    assert r.status == 128 + 9, r
    ev = dict(ln.split() for ln in ct.exec("cat", "/sys/fs/cgroup/memory.events")
              .split("\n") if ln)
    assert int(ev["oom_kill"]) >= 1 and int(ev["high"]) >= 1, ev
    assert ct.ctl({"cmd": "state"})["state"] == "running"
    assert ct.exec("echo", "alive") == "alive\n"

    # reboot inside: the monitor boots it again, with the limits it now has
    ct.ctm("exec", "--", "reboot")
    ct.wait_state("running", boots=2)
    assert cg_files(ct) == {"max": str(96 * M), "high": str(90 * M), "swap": str(64 * M)}

    # power-off: the monitor exits 0 and nothing is left
    assert ct.ctl({"cmd": "shutdown"}).get("ok")
    assert ct.wait_exit() == 0, ct.log()
    assert ct.leftovers() == []
    ct.ctm("destroy", check=True)


def shares_to_weight(shares):
    """docs/cgroups.md's curve from v1 shares to v2 cpu.weight."""
    lg = math.log2(shares)
    return round(10 ** ((lg * lg + 125 * lg) / 612 - 7 / 34))


def test_ctm_v2_limits_read_back(ctm_l1):
    """Every limit vps-ctm sets, read back from the container's cgroup2 dir
    at start and after a live set (test_limits.py does the same on this
    host's v1), and `vps-ct features` against what the cgroup has."""
    ct_l1 = ctm_l1(memory="128M", swap="64M", cpus=0.5, cpu_weight=50, pids=77,
                        io_read_bps="5M", io_write_bps="6M", io_read_iops=100,
                        io_write_iops=200)
    r = ct_l1.sh(f"{VPS_CT} features", check=True)
    ann = json.loads(r.stdout)["annotations"]
    assert ann["run.vps.cgroup.layout"] == "v2", ann
    weight = ann["run.vps.resource.io_weight"] == "enforced"
    for k in ("memory", "swap", "cpu_weight", "cpu_quota", "pids", "io_bps", "io_iops"):
        assert ann[f"run.vps.resource.{k}"] == "enforced", (k, ann)
    if weight:
        ct_l1.config["io_weight"] = 300
        ct_l1.sh(f"cat > {ct_l1.cfg} <<'VPS_EOF'\n{json.dumps(ct_l1.config)}\nVPS_EOF",
                 check=True)
    ct_l1.ctm("create", check=True)
    ct_l1.start()
    d = f"/sys/fs/cgroup/vps-ct/{ct_l1.name}"
    files = ("memory.max", "memory.swap.max", "cpu.max", "cpu.weight", "pids.max", "io.max")

    def read():
        out = ct_l1.sh(f"cd {d} && for f in {' '.join(files)}; do echo \"$f=$(cat $f)\"; done; "
                       f"test -e io.bfq.weight && echo \"bfq=$(cat io.bfq.weight)\"; "
                       f"test -e io.weight && echo \"iow=$(cat io.weight)\"; "
                       f"losetup -n -O MAJ:MIN -j {ct_l1.config['dir']}/disk.img", check=True)
        lines = out.stdout.strip().split("\n")
        got = dict(ln.split("=", 1) for ln in lines[:-1])
        return got, lines[-1].strip()

    got, dev = read()
    # the probe agrees with the cgroup: a weight file is there iff it said so
    assert weight == ("bfq" in got or "iow" in got), (ann, got)
    assert got["memory.max"] == str(128 * M) and got["memory.swap.max"] == str(64 * M), got
    assert got["cpu.max"] == "50000 100000", got
    assert got["cpu.weight"] == str(shares_to_weight(512)), got
    assert got["pids.max"] == "77", got
    assert got["io.max"] == f"{dev} rbps={5 * M} wbps={6 * M} riops=100 wiops=200", got
    if weight and "bfq" in got:
        assert got["bfq"].split("\n")[0] == "default 300", got
    elif weight:  # io.cost's scale: 10..1000 -> 1..10000
        assert got["iow"].split("\n")[0] == f"default {1 + 290 * 9999 // 990}", got

    r = ct_l1.ctl({"cmd": "set", "memory": "200M", "swap": "32M", "cpus": 1, "cpu_weight": 200,
                   "pids": 99, "io_write_bps": "7M", "io_read_iops": 150})
    assert r == {"ok": True, "live": True}, r
    got, dev = read()
    assert got["memory.max"] == str(200 * M) and got["memory.swap.max"] == str(32 * M), got
    assert got["cpu.max"] == "100000 100000", got
    assert got["cpu.weight"] == str(shares_to_weight(2048)), got
    assert got["pids.max"] == "99", got
    assert got["io.max"] == f"{dev} rbps={5 * M} wbps={7 * M} riops=150 wiops=200", got


def test_ctm_v2_debian_systemd(ctm_l1):
    """systemd as PID 1 on pure cgroup2: it boots to `running` in the
    delegated tree, sees its limits, and powers off cleanly."""
    ct = ctm_l1("debian-12", memory="256M", disk="1G")
    ct.ctm("create", check=True, timeout=300)
    st = ct.start()
    assert st["init"] == "systemd", st
    # early on, systemctl finds no bus yet (TCG is slow): ask again until it does
    r = ct.ctm("exec", "--", "/bin/sh", "-c",
               "for i in $(seq 120); do s=$(systemctl is-system-running --wait 2>&1); "
               "case $s in *bus*) sleep 1;; *) break;; esac; done; echo $s", timeout=240)
    assert r.stdout.strip() == "running", \
        f"{r}\n" + ct.ctm("exec", "--", "systemctl", "--failed", "--no-pager").stdout
    assert cg_files(ct) == {"max": str(256 * M), "high": str(240 * M), "swap": str(64 * M)}
    assert ct.ctl({"cmd": "shutdown"}).get("ok")
    assert ct.wait_exit() == 0, ct.log()
    assert ct.leftovers() == []
