# SPDX-License-Identifier: GPL-2.0-or-later
"""pytest fixtures for the integration tests. They build on each other, after
Firecracker's (uvm -> uvm_configured -> uvm_booted):

    guest_kernel + guest_init --> guest_initramfs --> boot_in_l1
    guest_init -----------------> guest_rootfs -----> test_disk
    guest_kernel + guest_init --> l1_initramfs -----> l1_session (one boot)
                                                      -> l1 (per test: healthy)

Artefacts are cached on disk by content hash (tests/guest/mk*), so the
session fixtures cost a second when nothing changed. Timings gathered
through `timings` are printed at the end of the run (docs/testbench.md says
how to read them), and so are retries (framework/retry.py: each one
recorded, at most one per test). A sanitizer report from any program a
test runs fails that test (framework/sanitizer.py, a plugin registered
here)."""

import os
import shutil
import uuid

import pytest

from framework import artefacts, sanitizer
from framework.agent import ChannelError
from framework.ct import BUILD, INIT, VPS_CT, mkrootfs
from framework.guest import InitReport, qemu_argv, shell_quote
from framework.l1 import L1
from framework.retry import ATTEMPTS, LAST, RETRIES, retry
from framework.retry import start as start_retries

TIMINGS = []  # (what, seconds), printed by pytest_terminal_summary
HANGS = []  # console logs of L2 boots that hung and were retried


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: minutes on a first run (test_packaging: "
                            "a package build and a debootstrap, cached after)")
    config.pluginmanager.register(sanitizer, "vps-sanitizer")
    start_retries()


def pytest_terminal_summary(terminalreporter):
    if TIMINGS:
        terminalreporter.section("vps timings (L1 figures: compare only "
                                 "within one run)")
        for what, secs in TIMINGS:
            terminalreporter.write_line(f"{secs:8.1f} s  {what}")
    if RETRIES:
        terminalreporter.section(f"vps retries: {len(RETRIES)}")
        for test, what, why, log in RETRIES:
            terminalreporter.write_line(f"{test}: {what}: {why}" + (f" ({log})" if log else ""))


@pytest.fixture(scope="module")
def postgres_server():
    """A private PostgreSQL (framework/pg.py) for a module's tests."""
    from framework.pg import Postgres, why_not

    why = why_not()
    if why:
        pytest.skip(why)
    pg = Postgres().start()
    yield pg
    pg.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_flags(request):
    """vpsd's flags for each store a test runs on: none (SQLite in its data
    directory), then --cluster on a new database of postgres_server."""
    if request.param == "sqlite":
        return ()
    pg = request.getfixturevalue("postgres_server")
    db = "t_" + uuid.uuid4().hex[:12]
    return ("--cluster", pg.createdb(db), "--node", "n1")


@pytest.fixture(scope="session")
def timings():
    return TIMINGS


@pytest.fixture(scope="session")
def qemu_bin():
    path = shutil.which("qemu-system-x86_64")
    if not path:
        pytest.skip("qemu-system-x86_64 is not installed "
                    "(Debian package qemu-system-x86)")
    return path


@pytest.fixture(scope="session")
def guest_init():
    path = artefacts.build_dir() / "tests" / "guest" / "vps-init"
    if not path.exists():
        pytest.fail(f"{path} is not built: run scripts/test, or ninja -C "
                    "$VPS_BUILD")
    return path


@pytest.fixture(scope="session")
def guest_kernel():
    return artefacts.kernel()


@pytest.fixture(scope="session")
def guest_initramfs(guest_kernel, guest_init):
    return artefacts.initramfs(guest_init)


@pytest.fixture(scope="session")
def guest_rootfs(guest_init):
    return artefacts.rootfs(guest_init)


@pytest.fixture(scope="session")
def l1_initramfs(guest_kernel, guest_init):
    return artefacts.l1_initramfs(guest_init)


@pytest.fixture(scope="session")
def l1_session(qemu_bin, guest_kernel, l1_initramfs, timings,
               tmp_path_factory):
    """The nested test host, booted once for the whole session. Its console
    log and scratch share stay in pytest's temporary directory."""
    host = L1(guest_kernel, l1_initramfs, workdir=tmp_path_factory.mktemp("l1"))
    try:
        host.start()
        timings.append(("L1 boot to agent ready (TCG, emulated SVM)",
                        host.boot_seconds))
        yield host
    finally:
        host.stop()


@pytest.fixture
def l1(l1_session, timings):
    """The session's L1, booted again first if an earlier test left its
    channel broken (a hung command), so one hang fails one test, not all."""
    if not l1_session.healthy:
        l1_session.restart()
        timings.append(("L1 reboot after a broken channel",
                        l1_session.boot_seconds))
    return l1_session


@pytest.fixture
def test_disk(l1, guest_rootfs):
    """A copy of the test disk in L1's scratch share, marked with a fresh
    magic: returns (L1 path, magic)."""
    magic = uuid.uuid4().hex[:12]
    host_path, l1_path = l1.scratch_path(f"disk-{magic}.ext4")
    shutil.copyfile(guest_rootfs, host_path)
    artefacts.mark_disk(host_path, magic)
    yield l1_path, magic
    host_path.unlink(missing_ok=True)


@pytest.fixture
def boot_in_l1(l1, guest_kernel, guest_initramfs):
    """boot(append="", timeout=60, **qemu_argv options) -> (InitReport,
    Result): the stock kernel with the test initramfs under Debian's QEMU
    with KVM inside L1, until the test init powers the guest off.

    About one L2 boot in twenty-odd stalls (RCU stall in L2: the emulated SVM
    under TCG loses a vCPU); such a boot is killed at TIMEOUT, its console
    kept as l2-hang-N.log in L1's work directory, and tried once more, as is
    a boot that the same emulation resets (QEMU exits cleanly before the
    test init's result line) and a boot during which L1 stopped
    answering (in a fresh L1). Each retry
    goes through framework.retry (counted, at most two per test). A boot
    that ends but fails is never retried."""
    def boot(append="", timeout=60, **kw):
        argv = qemu_argv(guest_kernel, guest_initramfs, append, accel="kvm",
                         **kw)
        for attempt in ATTEMPTS:
            try:
                r = l1.run(shell_quote(argv) + " 2>&1", timeout=timeout)
            except ChannelError as e:
                if attempt == LAST:
                    raise
                retry("L2 boot under QEMU", f"L1 stopped answering: {str(e).splitlines()[0]}")
                l1.restart()
                continue
            # QEMU runs with -no-reboot, and the test init powers off only
            # after its result line (ok or fail): a clean exit without one is
            # a reset (a triple fault; one was seen just after `start`)
            reset = r.ok and not r.timed_out and InitReport.parse(r.stdout).result is None
            if not (r.timed_out or reset) or attempt == LAST:
                break
            hang = l1.workdir / f"l2-hang-{len(HANGS) + 1}.log"
            hang.write_text(r.stdout)
            HANGS.append(hang)
            retry("L2 boot under QEMU", "reset before its init's result (triple fault)" if reset
                  else f"hung, killed after {r.seconds:.0f} s", hang)
        return InitReport.parse(r.stdout), r
    return boot


@pytest.fixture(scope="session")
def ct_rootfs():
    """The busybox rootfs with vps-ct's test helper as /init (tests/ct/mkrootfs)."""
    if os.geteuid() != 0:
        pytest.skip("vps-ct tests need root (namespaces, mounts, cgroups)")
    for p in (VPS_CT, INIT):
        if not p.exists():
            pytest.fail(f"{p} is not built: ninja -C {BUILD}")
    return mkrootfs()


@pytest.fixture
def ctm(tmp_path):
    """Makes system containers for vps-ctm tests (framework/ctm.py):
    ctm(**config) -> a Ctm (busybox template unless template_name= says),
    every one stopped, destroyed and checked for leftovers (mounts, loop
    devices, cgroups, veths) when the test ends, pass or fail."""
    from framework.ctm import VPS_CTM, CtmFactory

    if not VPS_CTM.exists():
        pytest.fail(f"{VPS_CTM} is not built: ninja -C $VPS_BUILD")
    f = CtmFactory(tmp_path)
    yield f
    f.cleanup()
