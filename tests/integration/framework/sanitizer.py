# SPDX-License-Identifier: GPL-2.0-or-later
"""Sanitizer reports fail the test during which they appear.

The test build has ASan (with LeakSanitizer) and UBSan in every program:
vpsd, vps, vps-vmm, vps-ct and its sysinfo monitor, vps-ctm. By default
UBSan prints and carries on, and every report goes to the stderr of a
process whose stderr a test may never read. So the integration tests run
every program with the options below: a report halts the program
(halt_on_error) and is written, with its stack, to a file of its own
(log_path, as PREFIX.EXE.PID) in a directory watched here. After each phase
of each test (setup, call, teardown) the new files are read; any new file
fails that phase, with the report in the failure.

Watched directories: RESULTS/sanitizer on this host, and one in each L1's
scratch share (framework/l1.py puts the options into every command it runs
in L1, pointing at /run/scratch/sanitizer; the host reads the same files),
whose reports are copied into RESULTS/sanitizer as l1-NAME. RESULTS is
$VPS_RESULTS (scripts/test: $VPS_BUILD/results), else $VPS_BUILD/results.

Each report is listed in RESULTS/sanitizer.txt with the test it failed, or
`-` when it appeared outside any test; scripts/summary.py counts a report
no test took as a failure of its own. The unit tests get the same options
without log_path (tests/unit/meson.build): there a report halts the program
and meson's log shows it."""

import os
import shutil
from pathlib import Path

import pytest

from . import artefacts

RESULTS = Path(os.environ.get("VPS_RESULTS") or artefacts.build_dir() / "results")
DIR = RESULTS / "sanitizer"
LEDGER = RESULTS / "sanitizer.txt"
PREFIX = "san"


def options(directory):
    """ASAN_OPTIONS and UBSAN_OPTIONS that write reports into DIRECTORY."""
    common = f"halt_on_error=1:print_stacktrace=1:log_exe_name=1:log_path={directory}/{PREFIX}"
    return {"ASAN_OPTIONS": common, "UBSAN_OPTIONS": common}


def shell_exports(directory):
    """The same as a shell prefix (for commands run in L1)."""
    return "".join(f"export {k}='{v}'; " for k, v in options(directory).items())


class Watch:
    """The report files not seen yet, over every watched directory."""

    def __init__(self):
        self.dirs = {}  # watched directory -> prefix of its copy in DIR
        self.seen = set()

    def add(self, directory, copy_as=""):
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o1777)  # programs that drop root still write here
        self.dirs[directory] = copy_as
        self.seen |= set(directory.iterdir())

    def new(self):
        """[(path in DIR, text)] of the reports that appeared since the last call."""
        out = []
        for d, copy_as in self.dirs.items():
            for f in sorted(d.iterdir()):
                if f in self.seen or not f.name.startswith(PREFIX + "."):
                    continue
                text = f.read_text(errors="replace")
                if not text:
                    # a jailed monitor opens its report file before the jail
                    # (src/vmm/jail.c): empty, it reported nothing yet
                    continue
                self.seen.add(f)
                if copy_as:
                    dst = DIR / f"{copy_as}{f.name}"
                    shutil.copyfile(f, dst)
                    self.seen.add(dst)
                    f = dst
                out.append((f, text))
        return out


WATCH = Watch()


def take(nodeid):
    """[(path, text)] of the new reports, each recorded in the ledger
    against NODEID ("-": outside any test)."""
    reports = WATCH.new()
    if reports:
        with open(LEDGER, "a") as f:
            for path, _ in reports:
                f.write(f"{nodeid}\t{path}\n")
    return reports


def expected(nodeid):
    """For the self-test: the new reports, taken as expected by NODEID."""
    return take(f"expected by {nodeid}")


def _text(reports):
    return "\n".join(f"sanitizer report {path}:\n{text}" for path, text in reports)


# ---- the pytest plugin (conftest.py registers this module) ----

def pytest_sessionstart(session):
    """The options for every program the tests start on this host."""
    WATCH.add(DIR)
    os.environ.update(options(DIR))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    reports = take(item.nodeid)
    if not reports:
        return
    rep = outcome.get_result()
    if rep.passed or rep.skipped:
        rep.outcome = "failed"
        rep.longrepr = f"{len(reports)} sanitizer report(s) during {call.when}:\n" + _text(reports)
    else:
        rep.sections.append((f"sanitizer reports during {call.when}", _text(reports)))


def pytest_sessionfinish(session):
    reports = take("-")
    if reports:
        print(f"\n{len(reports)} sanitizer report(s) after the last test:\n" + _text(reports))
        session.exitstatus = 1
