# SPDX-License-Identifier: GPL-2.0-or-later
"""vps-vmm's control socket, driven against a spinning micro-guest on /dev/kvm.

One JSON object per line each way: state, pause, resume, stop, stats; bad
requests get {"ok": false, "error": ...} and the VM keeps running.
"""
import os
import stat
import subprocess
import time

import pytest

from framework.vmm import JAIL, MICRO, VMM, Control, needs_kvm, start_spin


pytestmark = needs_kvm



@pytest.fixture
def spinning_vm(tmp_path, request):
    """A running spin64 guest with a control socket, jailed unless the test
    is parametrized with jail=False; yields (process, Control, socket path)."""
    p, sock = start_spin(tmp_path, *(JAIL if getattr(request, "param", True) else ()))
    ctl = Control(sock)
    yield p, ctl, sock
    ctl.close()
    if p.poll() is None:
        p.kill()
    p.wait(timeout=10)


def test_state_and_socket_is_private(spinning_vm):
    p, ctl, sock = spinning_vm
    r = ctl("state")
    assert r == {"ok": True, "state": "running", "vcpus": 1, "memory": 512 * 2**20,
                 "reserve": False}
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600


def test_pause_stops_vcpu_time_and_resume_restarts_it(spinning_vm):
    p, ctl, _ = spinning_vm
    assert ctl("pause") == {"ok": True, "state": "paused"}
    assert ctl("state")["state"] == "paused"
    t1 = ctl("stats")["vcpu_time_ns"][0]
    time.sleep(0.3)
    t2 = ctl("stats")["vcpu_time_ns"][0]
    # A parked vCPU thread burns (almost) nothing; a spinning one burns ~all of 0.3 s.
    assert t2 - t1 < 50_000_000
    assert ctl("resume") == {"ok": True, "state": "running"}
    time.sleep(0.3)
    t3 = ctl("stats")["vcpu_time_ns"][0]
    assert t3 - t2 > 50_000_000


def test_stats_report_rss(spinning_vm):
    _, ctl, _ = spinning_vm
    s = ctl("stats")
    assert s["ok"] is True and s["state"] == "running"
    assert 1 * 2**20 < s["rss_bytes"] < 512 * 2**20
    assert len(s["vcpu_time_ns"]) == 1


@pytest.mark.parametrize("spinning_vm", [True, False], ids=["jailed", "unjailed"],
                         indirect=True)
def test_stop_is_hard_and_has_its_own_status(spinning_vm, request):
    p, ctl, sock = spinning_vm
    assert ctl("stop") == {"ok": True}
    assert p.wait(timeout=10) == 5
    # unjailed, the monitor removes its socket; jailed, the host's paths are
    # out of its reach and whoever started it does (vpsd empties the run dir)
    assert sock.exists() == request.node.callspec.params["spinning_vm"]


@pytest.mark.parametrize("line,needle", [
    (b"not json", "expected {\"cmd\""),
    (b"[1,2]", "expected {\"cmd\""),
    (b'{"cmd": 5}', "expected {\"cmd\""),
    (b'{"cmd": "reboot-the-host"}', "unknown command `reboot-the-host`"),
    (b'{"cmd": "balloon", "target": 1099511627776}', "above the VM's 536870912 bytes"),
    (b'{"cmd": "balloon", "target": -1}', "`target`: expected a byte count"),
    (b'{"cmd": "balloon"}', "`target`: expected a byte count"),
])
def test_bad_requests_get_errors_and_vm_runs_on(spinning_vm, line, needle):
    p, ctl, _ = spinning_vm
    r = ctl.raw(line)
    assert r["ok"] is False and needle in r["error"]
    assert ctl("state")["state"] == "running"
    assert p.poll() is None


def test_overlong_request_drops_only_that_client(spinning_vm):
    p, ctl, sock = spinning_vm
    r = ctl.raw(b"x" * 5000)
    assert r["ok"] is False and "longer than 4096" in r["error"]
    other = Control(sock)
    assert other("state")["state"] == "running"
    other.close()
    assert p.poll() is None


def test_existing_socket_path_is_refused(tmp_path):
    sock = tmp_path / "ctl.sock"
    sock.write_text("not a socket")
    r = subprocess.run([str(VMM), "--micro", str(MICRO / "hello16.bin"), "--control",
                        str(sock)], capture_output=True, text=True, timeout=20)
    assert r.returncode == 2
    assert "control socket" in r.stderr and "Address already in use" in r.stderr
    assert sock.read_text() == "not a socket"


def test_stale_socket_is_replaced_live_one_refused(tmp_path):
    """A socket nobody listens on (a jailed monitor cannot remove its own
    at exit; the keeper's next start after a guest reboot finds it) is
    replaced; one that someone listens on is refused and left alone."""
    import socket as so
    sock = tmp_path / "ctl.sock"
    s = so.socket(so.AF_UNIX, so.SOCK_STREAM)
    s.bind(str(sock))
    s.close()  # the file stays, nobody listens
    r = subprocess.run([str(VMM), "--micro", str(MICRO / "hello16.bin"), "--control",
                        str(sock), *JAIL], capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r
    live = so.socket(so.AF_UNIX, so.SOCK_STREAM)
    sock.unlink(missing_ok=True)
    live.bind(str(sock))
    live.listen(1)
    try:
        r = subprocess.run([str(VMM), "--micro", str(MICRO / "hello16.bin"), "--control",
                            str(sock)], capture_output=True, text=True, timeout=20)
        assert r.returncode == 2 and "Address already in use" in r.stderr, r
        c = so.socket(so.AF_UNIX, so.SOCK_STREAM)
        c.connect(str(sock))  # still ours
        c.close()
    finally:
        live.close()


def test_shutdown_presses_the_acpi_power_button(tmp_path):
    """pwrbtn16 polls PM1a_STS for PWRBTN_STS, clears it, then powers off via S5."""
    sock, serial = tmp_path / "ctl.sock", tmp_path / "serial.log"
    p = subprocess.Popen([str(VMM), "--micro", str(MICRO / "pwrbtn16.bin"), "--exit-port",
                          "--serial", f"file:{serial}", "--control", str(sock), *JAIL],
                         stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while b"W\n" not in (serial.read_bytes() if serial.exists() else b""):
            assert p.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        ctl = Control(sock)
        assert ctl("state")["state"] == "running"  # still polling: nothing pressed yet
        assert ctl("shutdown") == {"ok": True}
        assert p.wait(timeout=20) == 0
        assert serial.read_text() == "W\nP\n"
        ctl.close()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
