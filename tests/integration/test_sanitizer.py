# SPDX-License-Identifier: GPL-2.0-or-later
"""A sanitizer report fails the test during which it appears
(framework/sanitizer.py), shown with a deliberate one: san-probe
(tests/unit/san_probe.c) overflows a signed int, reads past a heap block or
leaks one. On this host through a pytest run of its own with the plugin, so
the failure itself is what is checked; in L1, that the report reaches the
host through the scratch share."""

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from framework import artefacts, sanitizer

PROBE = artefacts.build_dir() / "tests" / "unit" / "san-probe"
HERE = Path(__file__).resolve().parent

INNER = f'''
import subprocess

def run(what):
    return subprocess.run(["{PROBE}", what], capture_output=True, text=True)

def test_ubsan():
    r = run("ubsan")
    assert "survived" not in r.stdout, "UBSan did not halt the program"

def test_asan():
    run("asan")

def test_lsan():
    run("lsan")

def test_clean():
    assert run("none").stdout == "survived\\n"
'''


def test_report_fails_the_test(tmp_path):
    assert PROBE.exists(), f"{PROBE} is not built"
    (tmp_path / "test_inner.py").write_text(INNER)
    results = tmp_path / "results"
    env = dict(os.environ, VPS_RESULTS=str(results), PYTHONPATH=str(HERE))
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "PYTEST_CURRENT_TEST"):
        env.pop(k, None)
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "-p", "framework.sanitizer", f"--junitxml={tmp_path}/inner.xml",
                        "test_inner.py"], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=120)
    cases = {c.get("name"): c for c in ET.parse(tmp_path / "inner.xml").getroot().iter("testcase")}
    failure = {name: getattr(c.find("failure"), "text", "") for name, c in cases.items()}
    assert failure["test_clean"] == "", r.stdout
    assert "runtime error: signed integer overflow" in failure["test_ubsan"], r.stdout
    assert "heap-buffer-overflow" in failure["test_asan"], r.stdout
    assert "detected memory leaks" in failure["test_lsan"], r.stdout
    assert r.returncode == 1, r.stdout
    # each report is in the ledger against the test it failed
    ledger = [line.split("\t") for line in (results / "sanitizer.txt").read_text().splitlines()]
    assert sorted(t.split("::")[-1] for t, _ in ledger) == ["test_asan", "test_lsan",
                                                            "test_ubsan"], ledger
    assert all(Path(p).parent == results / "sanitizer" for _, p in ledger), ledger


def test_report_in_l1_reaches_the_host(l1, request):
    r = l1.run(f"{PROBE} ubsan")
    assert r.status != 0 and "survived" not in r.stdout, r
    reports = sanitizer.expected(request.node.nodeid)
    assert len(reports) == 1, reports
    path, text = reports[0]
    assert path.parent == sanitizer.DIR and path.name.startswith("l1-"), path
    assert "runtime error: signed integer overflow" in text, text
