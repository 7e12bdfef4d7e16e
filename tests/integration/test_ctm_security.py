# SPDX-License-Identifier: GPL-2.0-or-later
"""What root inside a vps-ctm system container must not be able to do
(issue 5's security list; docs/ctm-security.md says how each is enforced).
Each test runs a busybox container with the static test helper
(tests/ct/init.c) copied in as /sbin/vps-test: its security applets try the
forbidden thing and print the errno name they got, so a test asserts on
EPERM/EACCES/EROFS rather than on a shell's wording."""

import os
import re
import shutil
import stat
import subprocess
import tempfile


from framework.ct import INIT
from framework.ctm import VPS_CTM

CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_SYS_ADMIN, CAP_SYS_TIME = 16, 17, 21, 25
DENIED = ("EPERM", "EACCES", "EROFS")


def running(ctm, **kw):
    """A running busybox container with /sbin/vps-test."""
    c = ctm(**kw)
    c.create()
    c.start()
    helper = c.rootfs / "sbin" / "vps-test"
    shutil.copy(INIT, helper)
    os.chown(helper, c.config["uid_base"], c.config["uid_base"])
    return c


def t(c, *args, timeout=60):
    """/sbin/vps-test ARGS inside: its stdout, stripped (some applets exit 1
    after printing the error they got)."""
    r = c.exec_r("/sbin/vps-test", *args, timeout=timeout)
    assert r.returncode in (0, 1), f"vps-test {args}: {r.returncode}: {r.stdout}{r.stderr}"
    return r.stdout.strip()


def facts(text):
    """'name RESULT' lines -> {name: RESULT}."""
    return dict(line.split(None, 1) for line in text.splitlines() if line.strip())


def status_field(pid, field, proc="/proc"):
    with open(f"{proc}/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return line.split(":", 1)[1].split()
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def host_release_agents():
    out = {}
    for h in os.listdir("/sys/fs/cgroup"):
        p = f"/sys/fs/cgroup/{h}/release_agent"
        if os.path.exists(p):
            with open(p) as f:
                out[p] = f.read()
    return out


def plant_node(c, name, kind, major, minor):
    """A device node in the container's rootfs made by the host, as a hostile
    image could bring one (the container itself cannot mknod)."""
    path = c.rootfs / "root" / name
    os.mknod(path, 0o666 | (stat.S_IFBLK if kind == "b" else stat.S_IFCHR),
             os.makedev(major, minor))
    os.chown(path, c.config["uid_base"], c.config["uid_base"])
    return f"/root/{name}"


def test_root_is_uid_base_outside(ctm):
    c = running(ctm)
    base = c.config["uid_base"]
    init = c.state()["pid"]
    assert status_field(init, "Uid") == [str(base)] * 4
    assert status_field(init, "Gid") == [str(base)] * 4
    assert t(c, "id").startswith("uid=0 gid=0")
    # full capabilities inside (but for the dropped five)...
    eff = int(c.sh("grep CapEff /proc/1/status").split()[1], 16)
    assert eff & (1 << CAP_SYS_ADMIN)
    assert not eff & (1 << CAP_SYS_MODULE | 1 << CAP_SYS_RAWIO | 1 << CAP_SYS_TIME)
    # ...which are capabilities of its user namespace, owned by uid_base
    with open(f"/proc/{init}/uid_map") as f:
        assert f.read().split() == ["0", str(base), str(c.config.get("uid_size", 65536))]
    c.sh("echo x > /root/byroot; echo y > /tmp/byuser; chown 1000:1001 /tmp/byuser")
    st = os.stat(c.rootfs / "root" / "byroot")
    assert (st.st_uid, st.st_gid) == (base, base)
    st = os.stat(c.rootfs / "tmp" / "byuser")
    assert (st.st_uid, st.st_gid) == (base + 1000, base + 1001)
    # ids outside the map cannot be given away
    r = c.exec_r("chown", "70000", "/root/byroot")
    assert r.returncode != 0, r


def test_no_capability_in_the_initial_user_namespace(ctm):
    c = running(ctm)
    f = facts(t(c, "initns"))
    # each needs the capability in the initial user namespace
    for call in ("acct", "setrlimit", "clock_settime", "mknod", "vhangup"):
        assert f[call] == "EPERM", (call, f)
    # no handle on the host's namespaces: the parent of its user and pid
    # namespaces, and the owner of the others, are out of scope
    assert f["user"].startswith("NS_GET_PARENT EPERM"), f
    assert f["pid"].startswith("NS_GET_PARENT EPERM"), f
    for ns in ("pid", "net", "mnt", "uts", "ipc", "cgroup"):
        assert "NS_GET_USERNS.NS_GET_PARENT EPERM" in f[ns], (ns, f)
        assert "setns ok" not in f[ns], (ns, f)
    # and no process it can see is in a host namespace
    host = {ns: os.readlink(f"/proc/self/ns/{ns}")
            for ns in ("user", "pid", "net", "mnt", "uts", "ipc", "cgroup")}
    inside = c.sh("for p in /proc/[0-9]*; do ls -l $p/ns/ 2>/dev/null; done")
    for ns, link in host.items():
        assert link not in inside, (ns, link)


def test_seccomp_denies_kernel_wide_calls(ctm):
    c = running(ctm)
    assert c.sh("grep Seccomp: /proc/self/status").split()[1] == "2"
    f = facts(t(c, "syscalls"))
    # iopl(0), ioperm(off) need no capability and open_by_handle_at on its
    # own tmpfs may be allowed by the kernel: only the filter refuses them
    for call in ("iopl", "ioperm", "open_by_handle_at", "kexec_load", "kexec_file_load",
                 "init_module", "finit_module", "delete_module", "syslog"):
        assert f.get(call) == "EPERM", (call, f)
    # swapon and swapoff succeed and do nothing: vswap is a limit, not a device
    assert f.get("swapon") == f.get("swapoff") == "ok", f
    assert c.exec_r("dmesg").returncode != 0


def test_no_kernel_modules(ctm):
    c = running(ctm)
    modules = os.path.exists("/proc/modules")  # absent: a kernel without modules
    before = open("/proc/modules").read().split("\n") if modules else []
    kos = [os.path.join(d, n) for d, _, ns in os.walk(f"/lib/modules/{os.uname().release}")
           for n in ns if n.endswith(".ko")][:1]
    image = "/bin/busybox"
    if kos:
        shutil.copy(kos[0], c.rootfs / "root" / "m.ko")
        image = "/root/m.ko"
    f = facts(t(c, "modload", image))
    assert f == {"finit_module": "EPERM", "init_module": "EPERM"}, f
    r = c.exec_r("modprobe", "loop")
    assert r.returncode != 0, r
    r = c.exec_r("insmod", image)
    assert r.returncode != 0, r
    after = open("/proc/modules").read().split("\n") if modules else []
    assert {m.split()[0] for m in after if m} <= {m.split()[0] for m in before if m}


def test_no_host_filesystems(ctm):
    c = running(ctm)
    root_dev = os.stat("/").st_dev
    maj, mnr = os.major(root_dev), os.minor(root_dev)
    c.sh("mkdir -p /mnt /m")
    # no node of the host's disks, and none can be made
    assert t(c, "mknod", "/root/hostroot", "b", maj, mnr) == "EPERM"
    assert t(c, "mknod", "/root/loop0", "b", 7, 0) == "EPERM"
    # a node of the host's root disk brought in by the image: unusable
    node = plant_node(c, "hostroot", "b", maj, mnr)
    assert t(c, "open", node, "r") == "EPERM"  # the device cgroup
    assert t(c, "mount", node, "/mnt", "ext4", "ro") in DENIED
    loop = plant_node(c, "loop0", "b", 7, 0)
    assert t(c, "mount", loop, "/mnt", "ext4", "ro") in DENIED
    # no new cgroup v1 hierarchy (with controllers or named), no release agent
    assert t(c, "mount", "cgroup", "/m", "cgroup", "net_cls") in DENIED
    assert t(c, "mount", "cgroup", "/m", "cgroup", "none,name=vpsx") in DENIED
    assert t(c, "mount", "cgroup", "/m", "cgroup",
             "none,name=vpsx,release_agent=/x") in DENIED + ("EINVAL",)
    # no second sysfs (the masked /sys/firmware makes it "too revealing");
    # the read-only /sys is a mount of its own mount namespace, so its root
    # may drop the mount's ro flag, but not the superblock's, and the host's
    # knobs belong to host root anyway
    assert t(c, "mount", "sysfs", "/m", "sysfs") in DENIED
    assert t(c, "mount", "sysfs", "/sys", "none", "remount") in DENIED
    assert t(c, "mount", "sysfs", "/sys", "none", "remount,bind") == "ok"
    for knob in ("/sys/kernel/mm/transparent_hugepage/enabled", "/sys/power/state",
                 "/sys/kernel/uevent_helper", "/sys/module/kernel/parameters/panic",
                 "/sys/block/loop0/queue/scheduler"):
        if os.path.exists(knob):
            assert t(c, "put", knob, "never").split()[1] in DENIED, knob
    # a bind mount of its root is its own tree, nothing of the host's
    marker = tempfile.NamedTemporaryFile(prefix="vps-sec-", dir="/tmp")
    name = os.path.basename(marker.name)
    assert t(c, "mount", "/", "/m", "none", "bind,rec") == "ok"
    assert c.sh("stat -c %d:%i / /m").split()[0] == c.sh("stat -c %d:%i /m").strip()
    assert c.exec_r("ls", f"/m/tmp/{name}").returncode != 0
    assert name not in c.sh("ls /m/tmp /proc/1/root/tmp /m/m 2>&1; true")
    marker.close()


def test_no_host_processes(ctm):
    c = running(ctm)
    monitor = c.proc.pid
    listed = c.sh("ls /proc").split()
    pids = {int(p) for p in listed if p.isdigit()}
    # every process it sees is one of its cgroup's, by its pid inside
    ns_pids = set()
    procs = c.cgroup("pids") / "cgroup.procs"
    for hp in procs.read_text().split():
        try:
            ns_pids.add(int(status_field(hp, "NSpid")[-1]))
        except (OSError, AssertionError):
            pass
    lister = max(pids)  # `ls` itself, gone by now
    # a pid seen by ls but not in the cgroup after it must be one that has
    # exited since (a short-lived process of the container's own)
    for p in pids - {lister} - ns_pids:
        assert c.exec_r("test", "-e", f"/proc/{p}").returncode != 0, (p, pids, ns_pids)
    assert len(pids) < 10, pids
    assert 1 in pids
    r = c.exec_r("cat", f"/proc/{monitor}/cmdline")
    assert "vps-ctm" not in r.stdout
    assert "vps-ctm" not in c.sh("ps -o args"), "the monitor shows inside"
    assert "vps-ctm" not in c.sh("cat /proc/[0-9]*/cmdline | tr '\\0' ' '")


def test_no_global_proc_sys_writes(ctm):
    c = running(ctm)
    knobs = ("/proc/sys/kernel/panic", "/proc/sys/vm/drop_caches",
             "/proc/sys/kernel/core_pattern", "/proc/sys/vm/overcommit_memory")
    before = {k: open(k).read() for k in knobs if not k.endswith("drop_caches")}
    for k in knobs:
        assert t(c, "put", k, "3") in ("open EROFS", "open EACCES"), k
    # the read-only /proc/sys is a mount of its own mount namespace, so its
    # root can take it away; the knobs' owner (host root) still says no
    assert t(c, "umount", "/proc/sys") == "ok"
    for k in knobs:
        assert t(c, "put", k, "|/x") in ("open EACCES", "open EPERM"), k
    assert t(c, "put", "/proc/sysrq-trigger", "s").split()[1] in DENIED + ("ENOENT",)
    for k, v in before.items():
        assert open(k).read() == v, k
    # its hostname is its UTS namespace's: the host's stays
    host = os.uname().nodename
    c.sh("hostname evil-sec")
    assert c.sh("hostname").strip() == "evil-sec"
    assert t(c, "put", "/proc/sys/kernel/hostname", "evil-sys").split()[1] in DENIED + ("ok",)
    assert os.uname().nodename == host
    assert open("/proc/sys/kernel/hostname").read().strip() == host


def test_no_raw_devices(ctm):
    c = running(ctm)
    dev = set(c.sh("ls /dev").split())
    assert dev <= {"console", "fd", "full", "log", "mqueue", "null", "ptmx", "pts", "random",
                   "shm", "stderr", "stdin", "stdout", "tty", "urandom", "zero"}, dev
    for name in os.listdir("/dev"):  # whatever disks this host has
        if re.match(r"(sd|vd|xvd|hd|nvme|loop|zram|dm-|md|mem$|kmem$|port$|kmsg$)", name):
            assert name not in dev
    assert t(c, "mknod", "/root/mem", "c", 1, 1) == "EPERM"
    assert t(c, "open", "/proc/kmsg", "r") in DENIED
    assert t(c, "open", "/proc/kpageflags", "r") in DENIED + ("ENOENT",)
    # nodes an image brings: the device cgroup refuses them
    root_dev = os.stat("/").st_dev
    for name, kind, maj, mnr in (("mem", "c", 1, 1), ("kmem", "c", 1, 2), ("port", "c", 1, 4),
                                 ("kmsg", "c", 1, 11),
                                 ("disk", "b", os.major(root_dev), os.minor(root_dev)),
                                 ("loop", "b", 7, 0), ("loopctl", "c", 10, 237)):
        node = plant_node(c, name, kind, maj, mnr)
        assert t(c, "open", node, "r") == "EPERM", name
    allowed = (c.cgroup("devices") / "devices.list").read_text().split("\n")
    assert "a *:* rwm" not in allowed
    assert not [r for r in allowed if r.startswith("b") and not r.endswith(" m")], allowed
    assert "c 1:3 rwm" in allowed


def test_no_escape_through_release_agent(ctm):
    c = running(ctm)
    before = host_release_agents()
    c.sh("mkdir -p /m")
    # the classic: a fresh v1 hierarchy whose release_agent it writes
    assert t(c, "mount", "cgroup", "/m", "cgroup", "none,name=pwn") in DENIED
    assert t(c, "mount", "cgroup", "/m", "cgroup", "perf_event") in DENIED
    # an existing hierarchy mounts as its own cgroup: no release_agent there
    assert t(c, "mount", "cgroup", "/m", "cgroup", "memory") == "ok"
    assert t(c, "put", "/m/release_agent", "/x") == "open ENOENT"
    # its view of /sys/fs/cgroup: release_agent nowhere, its leaves' files
    # belong to host root (no mkdir, no notify_on_release)
    hiers = c.sh("ls /sys/fs/cgroup").split()
    for h in hiers:
        assert t(c, "put", f"/sys/fs/cgroup/{h}/release_agent", "/x").startswith("open ")
        if h != "unified":
            assert t(c, "put", f"/sys/fs/cgroup/{h}/notify_on_release", "1") in \
                ("open EACCES", "open EPERM"), h
        if h not in ("systemd", "unified"):
            assert t(c, "mkdir", f"/sys/fs/cgroup/{h}/pwn").startswith("error"), h
    # cgroups it makes in its delegated name=systemd leaf are its own: it
    # may set notify_on_release there, but the agent is the host's (empty)
    if "systemd" in hiers:
        c.sh("mkdir -p /sys/fs/cgroup/systemd/pwn")
        assert t(c, "put", "/sys/fs/cgroup/systemd/pwn/release_agent", "/x") == "open ENOENT"
    assert host_release_agents() == before


def test_fork_bomb_stays_inside(ctm):
    c = running(ctm, pids=64)
    pids = c.cgroup("pids")
    bomb = subprocess.Popen([str(VPS_CTM), "exec", str(c.path), "--", "/sbin/vps-test", "forkbomb", "3"],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = bomb.stdout.readline()
        forked, err = line.split()[1:]
        assert err == "EAGAIN" and 40 <= int(forked) <= 64, line
        assert (pids / "pids.current").read_text().strip() == "64"
        # the host still forks
        assert subprocess.run(["true"], timeout=10).returncode == 0
    finally:
        bomb.wait(timeout=30)
    assert int((pids / "pids.events").read_text().split()[1]) > 0
    assert c.exec("echo", "alive").strip() == "alive"


def test_disk_fill_stays_in_the_image(ctm):
    c = running(ctm, disk="64M")
    size = 64 << 20
    free = shutil.disk_usage(c.dir).free
    f = facts(t(c, "fill", "/big", timeout=120))
    assert f["wrote"].split()[1] == "ENOSPC", f
    assert int(f["wrote"].split()[0]) < size
    img = os.stat(c.disk_img)
    assert img.st_size == size
    assert img.st_blocks * 512 <= size
    # the host's free space fell by at most the image (and others' noise)
    assert free - shutil.disk_usage(c.dir).free <= size + (128 << 20)
    c.sh("rm /big")
    assert c.exec("echo", "alive").strip() == "alive"


def test_exec_does_not_leak_the_host(ctm):
    """While `vps-ct exec` joins the container, its child must not be a
    process the container's root can reach through /proc/PID/{cwd,root,fd}:
    before the fix (PR_SET_DUMPABLE 0 in exec.c) a watcher inside got the
    host's cwd, and read the host's /etc/hostname through it, in about one
    exec in ten."""
    c = running(ctm)
    execs = rounds = 0
    # rounds of 5 s until 50 execs were watched (fewer fit in one on a loaded machine)
    while execs < 50:
        assert rounds < 12, f"only {execs} execs in {rounds} rounds of 5 s"
        rounds += 1
        watch = subprocess.Popen([str(VPS_CTM), "exec", str(c.path), "--", "/sbin/vps-test",
                                  "snoop", "5"], stdout=subprocess.PIPE, text=True)
        try:
            while watch.poll() is None:
                # the cwd the runtime's child holds until it is inside: the host's
                subprocess.run([str(VPS_CTM), "exec", str(c.path), "--", "true"], cwd=c.tmp,
                               capture_output=True, timeout=30)
                execs += 1
        finally:
            out = watch.communicate(timeout=30)[0]
        assert "scans" in out and "hit" not in out.replace("hits 0", ""), out
