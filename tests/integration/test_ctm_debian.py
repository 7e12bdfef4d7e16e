# SPDX-License-Identifier: GPL-2.0-or-later
"""The debian-12 template under vps-ctm: systemd boots to `running`, the
container's identity from its config (root password, SSH keys, hostname),
its view of its memory and swap (vps-ctm's /proc/meminfo) and of its CPUs
(lxcfs), and the three ways it stops (control shutdown, `systemctl reboot`, `systemctl poweroff`). One booted
container serves the read-only checks (module fixture `deb`); the stops get
containers of their own."""

import os
import time
import warnings

import pytest

from framework.ctm import EXIT_POWEROFF, Ctm, ensure_lxcfs, template

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # deprecated (PEP 594) but in 3.11; hashes as glibc does

PASSWORD = "s3cret-Pw"
KEY = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHv0c1nZ3cVdZ2Vw0Xh9K0a0q1u8Zk3mW2w3bq1r4T5y "
       "test@vps")
MEMORY_KB, SWAP_KB = 256 * 1024, 128 * 1024


def debian():
    if os.geteuid() != 0:
        pytest.skip("vps-ctm needs root")
    err = ensure_lxcfs()
    if err:
        pytest.fail(f"lxcfs: {err}")
    return template("debian-12")


def wait_running(c, timeout=60):
    """`systemctl is-system-running --wait`: running, else fail with the
    failed units."""
    end = time.monotonic() + timeout
    while True:
        r = c.exec_r("systemctl", "is-system-running", "--wait", timeout=timeout)
        state = r.stdout.strip()
        # "offline"/"unknown": PID 1's private socket is not there yet
        if state not in ("offline", "unknown", "") or time.monotonic() > end:
            break
        time.sleep(0.1)
    if state != "running":
        failed = c.exec_r("systemctl", "--failed", "--no-legend", "--plain").stdout
        pytest.fail(f"is-system-running: {state!r} ({r.stderr.strip()}); failed units:\n"
                    f"{failed}")
    return state


def boot(c, timings=None, what="debian-12"):
    t0 = time.monotonic()
    c.create()
    created = time.monotonic()
    c.start()
    wait_running(c)
    if timings is not None:
        timings.append((f"vps-ctm create {what} (template cached)", created - t0))
        timings.append((f"vps-ctm run {what} to is-system-running=running",
                        time.monotonic() - created))
    return c


@pytest.fixture(scope="module")
def deb(tmp_path_factory, timings):
    tpl = debian()
    c = Ctm(tmp_path_factory.mktemp("deb"), tpl, memory="256M", swap="128M", cpus=1,
            pids=512, disk="1G", root_password=PASSWORD, ssh_keys=[KEY],
            hostname="deb-sec")
    try:
        yield boot(c, timings)
    finally:
        c.cleanup()


def test_systemd_running(deb):
    assert wait_running(deb) == "running"
    assert deb.exec("systemctl", "--failed", "--no-legend", "--plain").strip() == ""


def test_free_shows_the_container(deb):
    out = deb.exec("free", "-k")
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:]}
    assert int(rows["Mem:"][0]) == MEMORY_KB, out
    # docs/ct-sysinfo.md: procps reads /proc/meminfo, which vps-ctm serves:
    # the vswap as sold, whatever the host's swap (lxcfs's showed no more than the host has)
    assert int(rows["Swap:"][0]) == SWAP_KB, out


def test_one_cpu(deb):
    cpuinfo = deb.exec("cat", "/proc/cpuinfo")
    assert sum(line.startswith("processor") for line in cpuinfo.splitlines()) == 1
    # glibc's count of online CPUs reads lxcfs's /sys/devices/system/cpu/online
    # (nproc counts the affinity mask, which is the host's cpuset)
    assert deb.exec("getconf", "_NPROCESSORS_ONLN").strip() == "1"


def test_root_password(deb):
    shadow = deb.exec("cat", "/etc/shadow")
    hashed = next(line for line in shadow.splitlines() if line.startswith("root:")).split(":")[1]
    assert hashed.startswith("$6$"), hashed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert crypt.crypt(PASSWORD, hashed) == hashed
        assert crypt.crypt(PASSWORD + "x", hashed) != hashed


def test_ssh_keys_and_sshd(deb):
    assert deb.exec("cat", "/root/.ssh/authorized_keys").splitlines() == [KEY]
    assert deb.exec("stat", "-c", "%u %g %a", "/root/.ssh/authorized_keys").split() == \
        ["0", "0", "600"]
    assert deb.exec("stat", "-c", "%u %g %a", "/root/.ssh").split() == ["0", "0", "700"]
    assert deb.exec_r("systemctl", "is-active", "ssh").stdout.strip() == "active"


def test_hostname(deb):
    assert deb.exec("hostname").strip() == "deb-sec"
    assert deb.exec("cat", "/etc/hostname").strip() == "deb-sec"
    assert os.uname().nodename != "deb-sec"


def test_control_shutdown(ctm, timings):
    c = boot(ctm(template_name="debian-12", memory="256M", disk="1G"))
    t0 = time.monotonic()
    assert c.ctl({"cmd": "shutdown"})["ok"]
    assert c.wait(timeout=10) == EXIT_POWEROFF, c.output()
    timings.append(("vps-ctm debian-12 control shutdown to exit", time.monotonic() - t0))


def test_reboot_then_poweroff(ctm):
    debian()
    c = boot(ctm(template_name="debian-12", memory="256M", disk="1G"))
    assert c.state()["boots"] == 1
    c.exec_r("systemctl", "reboot", timeout=30)  # may lose its connection
    c.wait_state("running", timeout=60, boots=2)
    assert wait_running(c) == "running"
    c.exec_r("systemctl", "poweroff", timeout=30)
    assert c.wait(timeout=30) == EXIT_POWEROFF, c.output()
