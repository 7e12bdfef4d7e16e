# SPDX-License-Identifier: GPL-2.0-or-later
"""What the suite says about itself: a retry is recorded and a second one in
the same test refused (framework/retry.py), and scripts/summary.py's closing
line counts retries and the sanitizer reports no test took."""

import subprocess
import sys

import pytest

from framework import artefacts
from framework import retry as retry_mod
from framework.retry import RetryRefused, retry

SUMMARY = artefacts.TOP / "scripts" / "summary.py"


def test_third_retry_in_a_test_is_refused(monkeypatch, tmp_path):
    monkeypatch.setattr(retry_mod, "FILE", tmp_path / "retries.txt")
    monkeypatch.setattr(retry_mod, "RETRIES", [])
    retry("L2 boot", "hung, killed after 60 s", "/tmp/l2-hang-1.log")
    retry("L2 boot", "reset before its init's result (triple fault)")
    with pytest.raises(RetryRefused, match="retried 2 times already .L2 boot: hung.*; L2 boot: reset"):
        retry("cycle in L1", "L1 stopped answering")
    lines = (tmp_path / "retries.txt").read_text().splitlines()
    assert len(lines) == 2 and lines[0].split("\t")[1:] == [
        "L2 boot", "hung, killed after 60 s", "/tmp/l2-hang-1.log"], lines
    assert lines[1].split("\t")[1:] == [
        "L2 boot", "reset before its init's result (triple fault)", ""], lines
    assert all(line.startswith("tests/integration/test_results.py::") for line in lines), lines


def test_closing_line_counts_retries_and_stray_reports(tmp_path):
    (tmp_path / "style").write_text("pass\n")
    (tmp_path / "unit.json").write_text(
        '{"result": "OK", "stdout": "ok 1 - a\\nnot ok 2 - b\\n"}\n'
        '{"result": "EXPECTEDFAIL", "stdout": ""}\n')
    (tmp_path / "fuzz.tap").write_text("ok 1 - fuzz_ws\n")
    (tmp_path / "integration.xml").write_text(
        '<testsuites><testsuite><testcase name="a"/><testcase name="b"><skipped/></testcase>'
        '<testcase name="c"><failure/></testcase></testsuite></testsuites>')
    (tmp_path / "retries.txt").write_text("t::a\tL2 boot\thung\t\nt::c\tcycle\tL1 lost\t\n")
    san = tmp_path / "sanitizer"
    san.mkdir()
    for name in ("san.vpsd.1", "san.vps-ct.2", "san.vps.3"):
        (san / name).write_text("runtime error\n")
    # one taken by a test (which failed), one after the last test, one not listed
    (tmp_path / "sanitizer.txt").write_text(f"t::c\t{san}/san.vpsd.1\n-\t{san}/san.vps-ct.2\n")
    r = subprocess.run([sys.executable, str(SUMMARY), str(tmp_path)], capture_output=True,
                       text=True)
    assert r.stdout.splitlines()[-1] == "5 passed, 4 failed, 1 skipped, 2 retried", r.stdout
    assert "san.vps-ct.2" in r.stdout and "san.vps.3" in r.stdout, r.stdout
    assert r.returncode == 1


def test_missing_stage_counts_as_a_failure(tmp_path):
    (tmp_path / "style").write_text("pass\n")
    (tmp_path / "unit.json").write_text('{"result": "OK", "stdout": "ok 1 - a\\n"}\n')
    (tmp_path / "integration.xml").write_text(
        '<testsuites><testsuite><testcase name="a"/></testsuite></testsuites>')
    r = subprocess.run([sys.executable, str(SUMMARY), str(tmp_path)], capture_output=True,
                       text=True)
    assert "fuzz targets: no results" in r.stdout, r.stdout
    assert r.stdout.splitlines()[-1] == "3 passed, 1 failed, 0 skipped, 0 retried", r.stdout
    assert r.returncode == 1


def test_what_failed_outside_pytest_is_named_above_the_closing_line(tmp_path):
    """CI shows a log's tail: a failing unit case, a crashed or timed-out unit
    program, a fuzz target's crash and the style check are named there."""
    (tmp_path / "style").write_text("fail\n")
    (tmp_path / "unit.json").write_text(
        '{"name": "virtio_scsi", "result": "FAIL", "stdout": "ok 1 - a\\nnot ok 2 - sense\\n"}\n'
        '{"name": "sys_tty", "result": "TIMEOUT", "stdout": "ok 1 - a\\n"}\n'
        '{"name": "sanitizer_halts", "result": "EXPECTEDFAIL", "stdout": "not ok 1 - halts\\n"}\n')
    (tmp_path / "fuzz.tap").write_text("ok 1 - ws\nnot ok 2 - virtio_scsi crashed: crash-f8\n")
    (tmp_path / "integration.xml").write_text(
        '<testsuites><testsuite><testcase name="a"/></testsuite></testsuites>')
    r = subprocess.run([sys.executable, str(SUMMARY), str(tmp_path)], capture_output=True,
                       text=True)
    lines = r.stdout.splitlines()
    assert lines[-1] == "5 passed, 4 failed, 0 skipped, 0 retried", r.stdout
    assert lines[-5:-1] == ["failed: style: clang-format disagrees",
                            "failed: unit virtio_scsi: 2 - sense",
                            "failed: unit sys_tty: TIMEOUT",
                            "failed: fuzz 2 - virtio_scsi crashed: crash-f8"], r.stdout
    assert r.returncode == 1
