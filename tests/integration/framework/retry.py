# SPDX-License-Identifier: GPL-2.0-or-later
"""Every retry in the integration tests goes through retry() here, so each
one is recorded and counted: printed at the end of the pytest run, written
to RESULTS/retries.txt (one line each: test, what, why, log), and counted
in scripts/test's closing line ("N passed, N failed, N skipped, N retried").

What may be retried: a boot the emulated SVM of the nested test host loses
(an L2 that hangs to its timeout, an L2 reset by a triple fault under
either engine, or L1 itself no longer answering); never any other failure,
which fails the test. At most two retries per test (MAX_PER_TEST): a third
retry() in the same test raises, so no test can go on losing to the
emulation. docs/testbench.md ("Retries") says why two."""

import os
import re

from .agent import ChannelError
from .sanitizer import RESULTS

FILE = RESULTS / "retries.txt"
RETRIES = []  # (test, what, why, log), printed by conftest's terminal summary
MAX_PER_TEST = 2
ATTEMPTS = range(1, MAX_PER_TEST + 2)  # for attempt in ATTEMPTS: ... attempt == LAST
LAST = ATTEMPTS[-1]


class RetryRefused(AssertionError):
    """A loss past MAX_PER_TEST in one test: it fails, with every reason."""


def current_test():
    return os.environ.get("PYTEST_CURRENT_TEST", "-").rsplit(" ", 1)[0]


def start():
    """A fresh file for this session's retries."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    FILE.write_text("")


def retry(what, why, log=None):
    """Record that WHAT is tried once more because of WHY (a one-line reason;
    LOG: where the lost attempt's console was kept). Raises RetryRefused
    when this test has retried MAX_PER_TEST times already."""
    test = current_test()
    why = " ".join(str(why).split())[:300]
    earlier = [r for r in RETRIES if r[0] == test]
    if len(earlier) >= MAX_PER_TEST:
        raise RetryRefused(f"{what}: {why}; not retried, this test retried "
                           f"{len(earlier)} times already (" +
                           "; ".join(f"{r[1]}: {r[2]}" for r in earlier) + ")")
    RETRIES.append((test, what, why, str(log or "")))
    with open(FILE, "a") as f:
        f.write("\t".join(RETRIES[-1]) + "\n")


def triple_fault(status, stderr):
    """vps-vmm ended with a guest crash (status 4) that was a triple fault,
    the one crash the emulated SVM of L1 makes of sound guests under QEMU as
    well as under vps-vmm (docs/testbench.md, "Retries", has the rates)."""
    return status == 4 and "triple fault" in stderr


def l1_run(l1, what, cmd, timeout):
    """l1.run(cmd): when L1 itself stops answering meanwhile, retried once
    (recorded) in a fresh L1, as a boot in L1 is."""
    try:
        return l1.run(cmd, timeout=timeout)
    except ChannelError as e:
        retry(what, f"L1 stopped answering: {str(e).splitlines()[0]}")
        l1.restart()
        return l1.run(cmd, timeout=timeout)


def vmm_in_l1(l1, what, cmd, timeout, done):
    """Runs CMD in L1 (a vps-vmm started, watched, stopped; it prints
    `VMM-EXIT: N`) until done(r), or until it fails in a way not the
    emulation's. The emulation's losses (L1 no longer answering, a triple
    fault, the command's timeout) are retried, recorded, up to LAST attempts.
    Returns (r, the monitor's exit status or None)."""
    for attempt in ATTEMPTS:
        try:
            r = l1.run(cmd, timeout=timeout)
        except ChannelError as e:
            if attempt == LAST:
                raise
            retry(what, f"L1 stopped answering: {str(e).splitlines()[0]}")
            l1.restart()
            continue
        m = re.search(r"^VMM-EXIT: (\d+)$", r.stdout, re.M)
        status = int(m.group(1)) if m else None
        crashed = triple_fault(status, r.stderr)
        if done(r) or not (r.timed_out or crashed) or attempt == LAST:
            return r, status
        retry(what, "triple fault" if crashed else "L1 command timed out")
