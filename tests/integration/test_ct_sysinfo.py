# SPDX-License-Identifier: GPL-2.0-or-later
"""The container's own sysinfo() (annotation org.vps.sysinfo=cgroup,
docs/ct-sysinfo.md): busybox `free` calls sysinfo(), which lxcfs cannot
answer, so vps-ct's seccomp filter sends it to a monitor process that puts
the cgroup's memory and swap in. These run the real vps-ct on this host and
read what busybox `free` printed inside.

Run as root: VPS_BUILD=build-test python3 -m pytest tests/integration/test_ct_sysinfo.py"""

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from framework.ct import VPS_CT, Bundle, wait_for

MIB = 1 << 20
ANNOTATION = {"org.vps.sysinfo": "cgroup"}


def v1_memsw():
    return Path("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists()


def v2_swap():
    return Path("/sys/fs/cgroup/cgroup.controllers").exists() and \
        Path("/sys/fs/cgroup/memory.swap.max").exists() or \
        any(Path("/sys/fs/cgroup").glob("*/memory.swap.max"))


SWAP = v1_memsw() or v2_swap()


@pytest.fixture
def bundle(tmp_path, ct_rootfs):
    b = Bundle(tmp_path, ct_rootfs)
    b.config["linux"]["resources"] = {"memory": {"limit": 64 * MIB}}
    if SWAP:  # OCI swap is memory + swap: 64 MiB of swap
        b.config["linux"]["resources"]["memory"]["swap"] = 128 * MIB
    yield b
    if (b.root / b.id).exists():
        b.ct("delete", "--force", b.id)


def sh(bundle, script, timeout=60):
    bundle.config["process"]["args"] = ["/bin/sh", "-c", script]
    bundle.write()
    r = bundle.ct("run", "-b", str(bundle.path), bundle.id, timeout=timeout)
    assert r.returncode == 0, r.stderr
    return r.stdout


def free_rows(out):
    """Every `Mem:` and `Swap:` line of busybox free output, as (total, free) KiB.

    Mem's `used` is total - free - buff/cache, and buff/cache comes from the
    host's /proc/meminfo until lxcfs is wired: it can wrap around and run
    into `total` ("65536184467..."). So total is cut at the header's column
    and free counted from the right (free shared buff/cache available)."""
    mem, swap, end = [], [], None
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "total":
            end = line.index("total") + len("total")
        elif f and f[0] == "Mem:":
            mem.append((int(line[4:end]), int(f[-4])))
        elif f and f[0] == "Swap:":
            swap.append((int(f[1]), int(f[3])))
    return mem, swap


def host_mem_kib():
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 1024


def host_swap_kib():
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("SwapTotal:"):
            return int(line.split()[1])
    return 0


def swap_kib():
    """The swap lxcfs puts in /proc/meminfo and /proc/swaps with the
    fixture's 64 MiB allowance: no more than the host has (0 here, where the
    host has no swap)."""
    return min(65536, host_swap_kib())


SOLD_SWAP_KIB = 65536  # what sysinfo() shows: the allowance as sold (docs/containers.md)


def monitors(ident):
    """Live (not zombie) sysinfo monitors of container ident."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if (d / "comm").read_text().strip() != "vps-ct-sysinfo":
                continue
            stat = (d / "stat").read_text()
            cmd = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if stat.rsplit(")", 1)[1].split()[0] != "Z" and ident.encode() in cmd:
            found.append(int(d.name))
    return found


def test_free_shows_the_cgroup_limit(bundle):
    bundle.config["annotations"] = dict(ANNOTATION, **{"org.example.other": "x"})
    mem, swap = free_rows(sh(bundle, "free"))
    assert len(mem) == 1 and len(swap) == 1
    assert mem[0][0] == 65536, f"Mem total {mem[0][0]} KiB, want the 64 MiB limit"
    assert 0 < mem[0][1] <= 65536
    if SWAP:
        assert swap[0][0] == SOLD_SWAP_KIB, f"Swap total {swap[0][0]} KiB, want the allowance"


def test_free_without_annotation_is_the_host(bundle):
    mem, _ = free_rows(sh(bundle, "free"))
    assert abs(mem[0][0] - host_mem_kib()) <= host_mem_kib() // 100, mem


def test_with_seccomp_profile(bundle):
    # a default-deny profile that allows sysinfo explicitly: still answered
    bundle.config["annotations"] = ANNOTATION
    names = ["sysinfo", "read", "write", "execve", "exit_group", "brk", "mmap",
             "arch_prctl", "set_tid_address", "getuid", "getpid", "rt_sigaction",
             "open", "openat", "close", "fstat", "newfstatat", "ioctl", "lseek",
             "munmap", "mprotect", "uname", "getppid", "geteuid", "getgid",
             "getegid", "stat", "exit", "set_robust_list", "rseq", "prlimit64",
             "getrandom", "sigaltstack", "rt_sigprocmask", "rt_sigreturn",
             "statx", "getcwd", "readlink", "access", "faccessat", "fcntl",
             "setresuid", "setresgid", "setgroups", "capget", "capset", "prctl",
             "chdir", "umask", "sendmsg", "dup2", "dup3", "wait4", "clone",
             "fork", "vfork", "clone3", "pipe", "pipe2", "poll", "ppoll"]
    bundle.config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
        "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]}
    mem, _ = free_rows(sh(bundle, "free"))
    assert mem and mem[0][0] == 65536, mem


def test_tight_loop_never_hangs(bundle):
    bundle.config["annotations"] = ANNOTATION
    # 50 in a row, and 4 loops at once so notifications queue up
    loop = "i=0; while [ $i -lt 50 ]; do free; i=$((i+1)); done"
    start = time.monotonic()
    out = sh(bundle, f"{loop}; ({loop}) & ({loop}) & ({loop}) & ({loop}) & wait; echo done",
             timeout=120)
    assert out.rstrip().endswith("done")
    mem, _ = free_rows(out)
    assert len(mem) == 250
    assert {t for t, _ in mem} == {65536}
    assert time.monotonic() - start < 60


def test_monitor_exits_with_the_container(bundle):
    bundle.config["annotations"] = ANNOTATION
    sh(bundle, "free >/dev/null")
    assert wait_for(lambda: not monitors(bundle.id)), "monitor outlived `run`"


def test_monitor_lives_as_long_as_init(bundle):
    bundle.config["annotations"] = ANNOTATION
    bundle.config["process"]["args"] = ["/bin/sh", "-c", "free; exec sleep 1000"]
    bundle.create()
    assert wait_for(lambda: monitors(bundle.id)), "no monitor after create"
    bundle.ct("start", bundle.id, check=True)
    assert wait_for(lambda: "Mem:" in bundle.output())
    assert free_rows(bundle.output())[0][0][0] == 65536, bundle.output()
    time.sleep(0.2)
    assert monitors(bundle.id), "monitor went away while init runs"
    bundle.ct("kill", bundle.id, "KILL", check=True)
    assert wait_for(lambda: not monitors(bundle.id)), "monitor outlived init"
    bundle.ct("delete", bundle.id, check=True)


def test_monitor_is_a_fresh_image(bundle):
    """The monitor re-executes vps-ct (docs/ct-density.md): its command line is
    its own, not the runtime's `create`, and it answers as the fork did."""
    bundle.config["annotations"] = ANNOTATION
    bundle.config["process"]["args"] = ["/bin/sh", "-c", "free; exec sleep 1000"]
    bundle.create()
    assert wait_for(lambda: monitors(bundle.id)), "no monitor after create"
    pid = monitors(bundle.id)[0]
    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert cmd[1] == b"__sysinfo-monitor" and b"create" not in cmd, cmd
    bundle.ct("start", bundle.id, check=True)
    assert wait_for(lambda: "Mem:" in bundle.output())
    assert free_rows(bundle.output())[0][0][0] == 65536, bundle.output()
    bundle.ct("delete", "--force", bundle.id, check=True)


def test_monitor_command_refused_by_hand(bundle):
    """`vps-ct __sysinfo-monitor` is the runtime's own: run without its socket
    on fd 3 (a user typing it: fd 3 a file, or none) it refuses and serves nothing."""
    args = [str(VPS_CT), "__sysinfo-monitor", f"/vps-ct/{bundle.id}", "1", bundle.id]
    with open("/dev/null", "rb") as null:
        for pass_fds, pre in (((), None), ((3,), lambda: os.dup2(null.fileno(), 3))):
            r = subprocess.run(args, capture_output=True, text=True, timeout=30,
                               pass_fds=pass_fds, preexec_fn=pre)
            assert r.returncode == 2, r
            assert "vps-ct's own, not a command" in r.stderr, r
    r = subprocess.run(args[:2], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "not a command" in r.stderr, r


def test_monitor_exits_when_never_started(bundle):
    bundle.config["annotations"] = ANNOTATION
    bundle.config["process"]["args"] = ["/bin/true"]
    bundle.create()
    assert wait_for(lambda: monitors(bundle.id))
    bundle.ct("delete", "--force", bundle.id, check=True)
    assert wait_for(lambda: not monitors(bundle.id)), "monitor outlived delete"


def test_bad_annotation_value(bundle):
    bundle.config["annotations"] = {"org.vps.sysinfo": "lxcfs"}
    bundle.write()
    r = bundle.ct("run", "-b", str(bundle.path), bundle.id)
    assert r.returncode != 0
    assert "annotations.org.vps.sysinfo" in r.stderr


def test_exec_gets_the_cgroup_view(bundle):
    # exec'd processes do not inherit the init's filter: exec adds its own
    bundle.config["annotations"] = ANNOTATION
    bundle.config["process"]["args"] = ["/bin/sleep", "1000"]
    bundle.create()
    bundle.ct("start", bundle.id, check=True)
    r = bundle.ct("exec", bundle.id, "/bin/free", check=True)
    mem, swap = free_rows(r.stdout)
    assert mem and mem[0][0] == 65536, r.stdout
    if SWAP:
        assert swap[0][0] == SOLD_SWAP_KIB, r.stdout
    # each exec has a monitor of its own, gone when its process is
    assert wait_for(lambda: len(monitors(bundle.id)) == 1), monitors(bundle.id)
    # --user: no_new_privs or not, a non-root exec is answered too
    r = bundle.ct("exec", "--user", "1000:1000", bundle.id, "/bin/free", check=True)
    assert free_rows(r.stdout)[0][0][0] == 65536, r.stdout
    bundle.ct("kill", bundle.id, "KILL", check=True)
    assert wait_for(lambda: not monitors(bundle.id)), "monitor outlived the container"


def test_exec_without_annotation_is_the_host(bundle):
    bundle.config["process"]["args"] = ["/bin/sleep", "1000"]
    bundle.create()
    bundle.ct("start", bundle.id, check=True)
    r = bundle.ct("exec", bundle.id, "/bin/free", check=True)
    mem, _ = free_rows(r.stdout)
    assert abs(mem[0][0] - host_mem_kib()) <= host_mem_kib() // 100, r.stdout
    assert not monitors(bundle.id)


def test_socket_annotation_sends_the_listener_to_a_server(bundle, tmp_path):
    """org.vps.sysinfo.socket (vps-ctm's monitor serves one): create sends the
    server its end of the pair, the init's seccomp listener comes over it,
    and no monitor process is started."""
    path = tmp_path / "sysinfo.sock"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(path))
    srv.listen(4)
    bundle.config["annotations"] = dict(ANNOTATION, **{"org.vps.sysinfo.socket": str(path)})
    bundle.config["process"]["args"] = ["/bin/sleep", "1000"]
    bundle.create()
    srv.settimeout(30)
    conn, _ = srv.accept()
    with conn:
        _, fds, _, _ = socket.recv_fds(conn, 1, 1)
    assert len(fds) == 1
    pair = socket.socket(fileno=fds[0])
    assert pair.type == socket.SOCK_SEQPACKET
    assert not monitors(bundle.id), "a monitor besides the server"
    bundle.ct("start", bundle.id, check=True)
    pair.settimeout(30)
    _, lfds, _, _ = socket.recv_fds(pair, 1, 1)
    assert len(lfds) == 1
    # the seccomp listener: anon inode [seccomp notify]
    assert os.readlink(f"/proc/self/fd/{lfds[0]}") == "anon_inode:seccomp notify"
    os.close(lfds[0])
    pair.close()
    srv.close()
    bundle.ct("delete", "--force", bundle.id, check=True)


def test_socket_annotation_without_a_server_starts_a_monitor(bundle, tmp_path):
    """Nobody listening (the server's monitor is gone): a monitor of vps-ct's
    own, and the answers are the cgroup's as without the annotation."""
    bundle.config["annotations"] = dict(ANNOTATION, **{
        "org.vps.sysinfo.socket": str(tmp_path / "none.sock")})
    mem, _ = free_rows(sh(bundle, "free"))
    assert mem[0][0] == 65536, mem


@pytest.mark.parametrize("annotations", [
    {"org.vps.sysinfo": "cgroup", "org.vps.sysinfo.socket": "relative.sock"},
    {"org.vps.sysinfo.socket": "/run/x.sock"},  # without the view it serves
])
def test_bad_socket_annotation(bundle, annotations):
    bundle.config["annotations"] = annotations
    bundle.write()
    r = bundle.ct("run", "-b", str(bundle.path), bundle.id)
    assert r.returncode != 0
    assert "annotations.org.vps.sysinfo.socket" in r.stderr, r.stderr
