# SPDX-License-Identifier: GPL-2.0-or-later
"""Checks of a jailed monitor from outside (docs/security.md, "The
monitors' jails"): what /proc shows of its credentials, capabilities,
no_new_privs, seccomp, root and mount namespace, and a syscall outside its
filter made through gdb, which the kernel answers by killing it (SIGSYS)."""

import os
import resource
import signal
import subprocess


def status(pid, task=None):
    path = f"/proc/{pid}/status" if task is None else f"/proc/{pid}/task/{task}/status"
    with open(path) as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def assert_jailed(pid, uid=None):
    """Not root, no capability it could use, no_new_privs, seccomp in filter
    mode, a root and a mount namespace that are not the host's. Returns
    the uid it runs as."""
    st = status(pid)
    uids, gids = st["Uid"].split(), st["Gid"].split()
    assert len(set(uids)) == 1 and uids[0] != "0", st["Uid"]
    assert len(set(gids)) == 1 and gids[0] != "0", st["Gid"]
    if uid is not None:
        assert uids[0] == str(uid), (uids, uid)
    for cap in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
        assert int(st[cap], 16) == 0, (cap, st[cap])
    assert st["NoNewPrivs"] == "1", st["NoNewPrivs"]
    assert st["Seccomp"] == "2", st["Seccomp"]
    root, host = os.stat(f"/proc/{pid}/root"), os.stat("/")
    assert (root.st_dev, root.st_ino) != (host.st_dev, host.st_ino), "the host's root"
    assert os.readlink(f"/proc/{pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
    return int(uids[0])


def kill_with_foreign_syscall(pid, binary, call, cwd, tid=None):
    """Attach gdb to pid and make it run `call` (C, e.g. mkdir("/x", 0)):
    a syscall outside its filter, on thread `tid` (a task of pid) or the
    main thread. gdb's own end does not matter (the process it was in dies
    under it); the caller checks the monitor's end."""
    switch = [] if tid is None else [
        "-ex", "python [t.switch() for t in gdb.selected_inferior().threads() "
               f"if t.ptid[1] == {int(tid)}]",
        "-ex", "info threads"]
    # gdb may never return: when the process is pid 1 of a PID namespace (a
    # VM's monitor), its death waits on the traced threads and gdb on the
    # death. Then gdb is killed at the timeout, which lets the death finish;
    # None says so, and the caller's check of the monitor's end still decides.
    try:
        return subprocess.run(
            ["gdb", "-nx", "-batch", "-ex", "set sysroot /", "-ex", f"file {binary}",
             "-ex", f"attach {pid}", *switch, "-ex", f"call {call}"],
            capture_output=True, text=True, timeout=90, cwd=cwd,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CORE, (0, 0)))
    except subprocess.TimeoutExpired:
        return None


SIGSYS = signal.SIGSYS
