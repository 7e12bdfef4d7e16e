#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Add up the results of every test stage into the one line scripts/test ends with.

Reads RESULTS_DIR/style (pass|fail), RESULTS_DIR/unit.json (meson's testlog, one JSON
object per line, each test case counted from its TAP output), RESULTS_DIR/fuzz.tap
(scripts/fuzz: one TAP line per fuzz target) and RESULTS_DIR/integration.xml (pytest's JUnit XML). A missing
stage counts as one failure, so a stage that silently did not run cannot pass.
RESULTS_DIR/retries.txt lists the integration tests' retries (framework/retry.py), one
a line; RESULTS_DIR/sanitizer/ holds the sanitizer reports of the programs the
integration tests ran, and RESULTS_DIR/sanitizer.txt the test each one failed
(framework/sanitizer.py): a report no test took (`-`, or not listed) is one more failure.
Prints "N passed, N failed, N skipped, N retried".
Exit status 0 only when nothing failed and something ran.
"""
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def tap_counts(text, names=None):
    """Count TAP result lines (cmocka with CMOCKA_MESSAGE_OUTPUT=TAP); append each
    failing line to names when given."""
    p = f = s = 0
    for line in text.splitlines():
        if line.startswith("ok "):
            if "# SKIP" in line:
                s += 1
            else:
                p += 1
        elif line.startswith("not ok "):
            f += 1
            if names is not None:
                names.append(line[len("not ok "):].strip())
    return p, f, s


def main(d: Path) -> int:
    passed = failed = skipped = 0
    # what failed outside pytest, printed above the closing line: CI shows a log's tail
    why = []

    style = d / "style"
    if style.exists() and style.read_text().strip() == "pass":
        passed += 1
    else:
        failed += 1
        why.append("style: clang-format disagrees")

    unit = d / "unit.json"
    if unit.exists():
        for line in unit.read_text().splitlines():
            if not line.strip():
                continue
            r = json.loads(line)
            cases = []
            p, f, s = tap_counts(r.get("stdout", ""), cases)
            if r["result"] == "EXPECTEDFAIL":  # a test that must fail (sanitizer_halts) did
                p, f, s = 1, 0, 0
                cases = []
            elif r["result"] not in ("OK", "SKIP") and f == 0:
                f = 1  # crashed or timed out before reporting a failing case
                why.append(f"unit {r.get('name', '?')}: {r['result']}")
            why += [f"unit {r.get('name', '?')}: {c}" for c in cases]
            if p + f + s == 0:
                # A program that printed no TAP counts as one test.
                p, s = (r["result"] == "OK"), (r["result"] == "SKIP")
                f = int(not (p or s))
            passed, failed, skipped = passed + p, failed + f, skipped + s
    else:
        print("unit tests: no results")
        failed += 1

    fuzz = d / "fuzz.tap"
    if fuzz.exists():
        cases = []
        p, f, s = tap_counts(fuzz.read_text(), cases)
        why += [f"fuzz {c}" for c in cases]
        if p + f + s == 0:
            f = 1  # the stage ran and reported nothing
        passed, failed, skipped = passed + p, failed + f, skipped + s
    else:
        print("fuzz targets: no results")
        failed += 1

    integ = d / "integration.xml"
    if integ.exists():
        root = ET.parse(integ).getroot()
        for case in root.iter("testcase"):
            if case.find("skipped") is not None:
                skipped += 1
            elif case.find("failure") is not None or case.find("error") is not None:
                failed += 1
            else:
                passed += 1
    else:
        print("integration tests: no results")
        failed += 1

    taken = {}
    ledger = d / "sanitizer.txt"
    if ledger.exists():
        for entry in ledger.read_text().splitlines():
            test, _, path = entry.partition("\t")
            taken[Path(path).name] = test
    sandir = d / "sanitizer"
    for report in sorted(sandir.iterdir()) if sandir.is_dir() else ():
        # empty: a jailed monitor's report file, opened before its jail, never written
        if report.stat().st_size and taken.get(report.name, "-") == "-":
            print(f"sanitizer report outside any test: {report}")
            failed += 1

    retries = d / "retries.txt"
    retried = len(retries.read_text().splitlines()) if retries.exists() else 0

    for w in why:
        print(f"failed: {w}")
    print(f"{passed} passed, {failed} failed, {skipped} skipped, {retried} retried")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
