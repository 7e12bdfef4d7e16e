# SPDX-License-Identifier: GPL-2.0-or-later
"""vps-vmm boots the stock Debian kernel inside the nested test host (L1),
with its paravirtual devices: CPUs and memory as configured, a virtio-blk
disk the host checks byte by byte, virtio-net to a tap in L1, virtio-rng,
the balloon, and reboot, poweroff and the power button each ending the VM
with their own exit status (docs/vmm.md)."""

import json
import re
import uuid
from pathlib import Path

import pytest

from framework import artefacts
from framework.agent import ChannelError
from framework.guest import InitReport, shell_quote
from framework.retry import ATTEMPTS, LAST, retry, triple_fault

VMMCTL = Path(__file__).resolve().parent / "framework" / "vmmctl.py"
LOST = []  # consoles of L2 boots that hung in the emulated SVM, kept for reading


@pytest.fixture
def vmm_boot(l1, guest_kernel, guest_initramfs):
    """boot(append, cpus=1, memory="256M", args=(), script="", timeout=90)
    -> (InitReport, exit status, Result): vps-vmm in L1 with the stock kernel
    and the test initramfs. SCRIPT runs in L1 while the guest runs; it finds
    the control socket in $CTL and the console in $SERIAL.

    Like the QEMU boots (conftest.boot_in_l1), a boot that hangs to TIMEOUT
    (the emulated SVM under TCG lost it), that ends in a triple fault (which
    the same emulation makes of QEMU's guests too), or during which L1 stops
    answering, is kept as a log and tried once more (framework.retry: counted,
    once per test). Any other guest crash or failure is never retried: it
    fails the test (docs/testbench.md, "Retries")."""
    vmm = artefacts.build_dir() / "src" / "vmm" / "vps-vmm"

    def boot(append="", cpus=1, memory="256M", args=(), script="", timeout=90):
        run = f"/tmp/vmm-{uuid.uuid4().hex[:8]}"
        argv = [str(vmm), "--kernel", str(guest_kernel.vmlinuz), "--initrd", str(guest_initramfs),
                "--cmdline", f"console=ttyS0 panic=-1 quiet {append}".strip(),
                "--cpus", str(cpus), "--memory", memory, "--serial", f"file:{run}/serial",
                "--control", f"{run}/ctl", *args]
        cmd = (f"mkdir -p {run}; export CTL={run}/ctl SERIAL={run}/serial; "
               f"{shell_quote(argv)} 2>{run}/stderr & pid=$!; "
               f"{script or ':'}; wait $pid; echo VMM-EXIT: $?; "
               f"cat {run}/serial; cat {run}/stderr >&2; rm -rf {run}")
        for attempt in ATTEMPTS:
            try:
                r = l1.run(cmd, timeout=timeout)
            except ChannelError as e:
                # L1 itself stopped answering: a fresh L1, and one more try
                if attempt == LAST:
                    raise
                retry("vps-vmm boot in L1", f"L1 stopped answering: {str(e).splitlines()[0]}")
                l1.restart()
                continue
            m = re.search(r"^VMM-EXIT: (\d+)$", r.stdout, re.M)
            status = int(m.group(1)) if m else None
            crashed = triple_fault(status, r.stderr)
            if not (r.timed_out or crashed) or attempt == LAST:
                break
            log = l1.workdir / f"l2-vmm-lost-{len(LOST) + 1}.log"
            log.write_text(r.stdout + "\n--- stderr\n" + r.stderr)
            LOST.append(log)
            retry("vps-vmm boot in L1", "triple fault" if crashed
                  else f"hung, killed after {r.seconds:.0f} s", log)
        return InitReport.parse(r.stdout), status, r
    return boot


def wait_for(marker, timeout=60):
    """Shell: wait until the guest's console shows MARKER (or the VM ends)."""
    return (f"for i in $(seq {timeout * 10}); do grep -q '{marker}' $SERIAL 2>/dev/null && break; "
            f"kill -0 $pid 2>/dev/null || break; sleep 0.1; done")


@pytest.mark.parametrize("cpus,memory,mib", [(1, "128M", 128), (4, "2G", 2048)])
def test_boots_with_cpus_and_memory(vmm_boot, timings, cpus, memory, mib):
    report, status, r = vmm_boot("vps.check=rng:64", cpus=cpus, memory=memory)
    timings.append((f"vps-vmm L2 boot to power-off, {cpus} vCPU {memory}", r.seconds))
    assert status == 0, r
    assert report.ok, r.stdout
    assert report.cpus == cpus, report.text
    # MemTotal is RAM less what the kernel keeps for itself: within 64 MiB + 3%.
    assert mib * 1024 * 0.97 - 65536 < report.mem_kib <= mib * 1024, report.text
    assert report.rng == "virtio_rng.0", report.text
    assert report.checks == {"rng:64": "ok"}, report.text


# How queue notifications and MSI-X interrupts travel (docs/vmm.md,
# "Notifications and interrupts"): KVM's ioeventfds and irqfds, which L1's KVM
# has, or the old paths forced (an MMIO exit served on the vCPU, KVM_SIGNAL_MSI).
PATHS = {"eventfds": (), "old": ("--no-ioeventfd", "--no-irqfd")}


def assert_paths(stderr, device, path):
    """vps-vmm's closing line for `device` says every notification and
    interrupt went the way `path` means."""
    m = re.search(rf"virtio-{device} \(slot \d+\): notifications (\d+) by ioeventfd, (\d+) by "
                  rf"exit; interrupts (\d+) by irqfd, (\d+) by KVM_SIGNAL_MSI", stderr)
    assert m, stderr
    by_ioeventfd, by_exit, by_irqfd, by_msi = map(int, m.groups())
    if path == "eventfds":
        assert "queue notifications: ioeventfd" in stderr, stderr
        assert "MSI-X interrupts: irqfd with MSI routes" in stderr, stderr
        assert by_ioeventfd > 0 and by_exit == 0 and by_irqfd > 0 and by_msi == 0, m[0]
    else:
        assert by_ioeventfd == 0 and by_exit > 0 and by_irqfd == 0 and by_msi > 0, m[0]


@pytest.mark.parametrize("path", PATHS)
def test_disk_read_and_write_reach_the_image(vmm_boot, l1, test_disk, path):
    disk, magic = test_disk
    text = uuid.uuid4().hex
    report, status, r = vmm_boot(f"vps.check=disk:/dev/vda:{magic} "
                                 f"vps.check=diskwrite:/dev/vda:{text}",
                                 args=("--disk", f"path={disk},id=vps-test-disk", *PATHS[path]))
    assert status == 0, r
    assert_paths(r.stderr, "blk", path)
    assert report.ok, r.stdout
    assert report.block == ["vda"], report.text
    # The host reads what the guest wrote, at the offset it wrote it.
    host = l1.scratch / Path(disk).name
    want = f"VPSWRITE {text}\n".encode()
    with open(host, "rb") as f:
        f.seek(1 << 20)
        assert f.read(len(want)) == want


def test_readonly_disk_refuses_writes(vmm_boot, l1, test_disk):
    disk, magic = test_disk
    host = l1.scratch / Path(disk).name
    before = host.read_bytes()
    report, status, r = vmm_boot(f"vps.check=disk:/dev/vda:{magic} "
                                 "vps.check=diskwrite:/dev/vda:nope",
                                 args=("--disk", f"path={disk},readonly=on"))
    assert status == 0, r
    assert report.checks[f"disk:/dev/vda:{magic}"] == "ok", report.text
    assert report.checks["diskwrite:/dev/vda:nope"].startswith("fail"), report.text
    assert host.read_bytes() == before


def test_jailed_guest_serves_its_devices_on_io_threads(vmm_boot, l1, test_disk, tap_in_l1):
    """The device I/O threads' seccomp class (jail.c, JAIL_DEVICE) lets a
    jailed monitor serve a disk, a NIC and the rng by ioeventfd and irqfd."""
    disk, magic = test_disk
    report, status, r = vmm_boot(f"vps.net=eth0,192.0.2.2/24 vps.check=ping:192.0.2.1 "
                                 f"vps.check=rng:64 vps.check=disk:/dev/vda:{magic}",
                                 args=("--net", f"tap={tap_in_l1},mac=52:54:00:00:02:03",
                                       "--disk", f"path={disk}", "--io-uring",
                                       "--jail", "uid=3999000"))
    assert status == 0, r
    assert all(v == "ok" for v in report.checks.values()), report.text
    for device in ("blk", "net", "rng"):
        assert_paths(r.stderr, device, "eventfds")
    # the disk's reads went through its io_uring, which the device class may enter
    assert_disk_path(r.stderr, queues=1, uring=True)


def assert_disk_path(stderr, queues, uring):
    """The monitor's lines for disk 0 (docs/vmm.md, "The block path"): how many
    request queues it offered, and whether its requests went through io_uring."""
    start = re.search(r"disk\[0\]: (\d+) request queues?, (.*)", stderr)
    end = re.search(r"disk\[0\]: (\d+) reads, (\d+) writes, (\d+) flushes, (\d+) errors; "
                    r"(\d+) through io_uring", stderr)
    assert start and end, stderr
    assert int(start[1]) == queues, start[0]
    reads, writes, flushes, _, by_uring = map(int, end.groups())
    assert reads > 0, end[0]
    if uring:
        assert start[2] == "io_uring on the I/O thread", start[0]
        assert by_uring == reads + writes + flushes, end[0]
    else:
        assert start[2] == "synchronous pread/pwrite" and by_uring == 0, (start[0], end[0])


@pytest.mark.parametrize("uring", [True, False], ids=["io_uring", "sync"])
def test_disk_with_a_queue_per_vcpu(vmm_boot, l1, test_disk, uring):
    """Two vCPUs, two request queues (VIRTIO_BLK_F_MQ): Linux's virtio_blk
    takes both, and reads and writes reach the image on either path."""
    disk, magic = test_disk
    text = uuid.uuid4().hex
    report, status, r = vmm_boot(f"vps.check=disk:/dev/vda:{magic} "
                                 f"vps.check=diskwrite:/dev/vda:{text}", cpus=2,
                                 args=("--disk", f"path={disk}",
                                       *(("--io-uring",) if uring else ())))
    assert status == 0, r
    assert report.ok, r.stdout
    assert_disk_path(r.stderr, queues=2, uring=uring)
    host = l1.scratch / Path(disk).name
    want = f"VPSWRITE {text}\n".encode()
    with open(host, "rb") as f:
        f.seek(1 << 20)
        assert f.read(len(want)) == want


@pytest.fixture
def tap_in_l1(l1):
    tap = "vpst" + uuid.uuid4().hex[:6]
    l1.run(f"ip tuntap add {tap} mode tap && ip addr add 192.0.2.1/24 dev {tap} && "
           f"ip link set {tap} up", check=True)
    yield tap
    l1.run(f"ip link del {tap}")


@pytest.mark.parametrize("path", PATHS)
def test_ping_over_virtio_net(vmm_boot, l1, tap_in_l1, path):
    report, status, r = vmm_boot("vps.net=eth0,192.0.2.2/24 vps.check=ping:192.0.2.1",
                                 args=("--net", f"tap={tap_in_l1},mac=52:54:00:00:02:02",
                                       *PATHS[path]))
    assert status == 0, r
    assert_paths(r.stderr, "net", path)
    assert report.checks == {"ping:192.0.2.1": "ok"}, report.text
    # The guest's frames arrived on the tap (ARP and ICMP at least).
    rx = l1.run(f"cat /sys/class/net/{tap_in_l1}/statistics/rx_packets", check=True)
    assert int(rx.stdout) >= 4, rx
    # Debian's driver took the offloads; no header of its was refused; a VM
    # that did not move here announced nothing (test_vmm_migrate_linux does)
    assert re.search(r"virtio-net \(slot \d+\): offloads on, .*, 0 refused headers, "
                     r"0 announcements\)", r.stderr), r.stderr[-2000:]


@pytest.fixture
def mq_tap_in_l1(l1):
    tap = "vpsq" + uuid.uuid4().hex[:6]
    l1.run(f"ip tuntap add {tap} mode tap multi_queue && ip addr add 192.0.2.1/24 dev {tap} && "
           f"ip link set {tap} up", check=True)
    yield tap
    l1.run(f"ip link del {tap}")


def test_two_queue_pairs_on_a_multi_queue_tap(vmm_boot, l1, mq_tap_in_l1):
    """Two vCPUs on a multi-queue tap: Debian's virtio_net sees two queue
    pairs (VIRTIO_NET_F_MQ), sets both in use through the control queue, and
    pings through them."""
    report, status, r = vmm_boot("vps.net=eth0,192.0.2.2/24 vps.check=ping:192.0.2.1 "
                                 "vps.check=file:/sys/class/net/eth0/queues/rx-1 "
                                 "vps.check=file:/sys/class/net/eth0/queues/tx-1", cpus=2,
                                 args=("--net", f"tap={mq_tap_in_l1},mac=52:54:00:00:02:06"))
    assert status == 0, r
    assert report.checks == {"ping:192.0.2.1": "ok",
                             "file:/sys/class/net/eth0/queues/rx-1": "ok",
                             "file:/sys/class/net/eth0/queues/tx-1": "ok"}, report.text
    assert f"net[0]: tap `{mq_tap_in_l1}`, 2 queue pairs, user-space path" in r.stderr
    # the driver set both pairs in use with VQ_PAIRS_SET, and no command of its was
    # refused (the poweroff's reset took it back to one before the closing line)
    assert re.search(r"virtio-net \(slot \d+\): offloads on, 2 queue pairs \(at most 2 in use; "
                     r"[1-9]\d* control commands, 0 refused\), user-space path \(rings handed "
                     r"over 0 times\); received [1-9]",
                     r.stderr), r.stderr[-2000:]
    assert "control command refused" not in r.stderr, r.stderr[-2000:]


def test_vhost_net_two_queue_pairs_in_the_jail(vmm_boot, l1, mq_tap_in_l1):
    """vhost=on in L1, which has /dev/vhost-net: opened before the jail, the
    kernel takes both pairs' rings after DRIVER_OK (the device class's
    hand-over ioctls), Debian's guest sees two queue pairs and pings through
    the kernel's path; the tap's counters in L1 show the frames."""
    rx0 = int(l1.run(f"cat /sys/class/net/{mq_tap_in_l1}/statistics/rx_packets",
                     check=True).stdout)
    report, status, r = vmm_boot("vps.net=eth0,192.0.2.2/24 vps.check=ping:192.0.2.1 "
                                 "vps.check=file:/sys/class/net/eth0/queues/rx-1 "
                                 "vps.check=file:/sys/class/net/eth0/queues/tx-1", cpus=2,
                                 args=("--net", f"tap={mq_tap_in_l1},mac=52:54:00:00:02:07,vhost=on",
                                       "--jail", "uid=3999000"))
    assert status == 0, r
    assert report.checks == {"ping:192.0.2.1": "ok",
                             "file:/sys/class/net/eth0/queues/rx-1": "ok",
                             "file:/sys/class/net/eth0/queues/tx-1": "ok"}, report.text
    assert f"net[0]: tap `{mq_tap_in_l1}`, 2 queue pairs, vhost-net" in r.stderr, r.stderr
    # the rings went to the kernel at least once; the monitor moved no frame itself
    m = re.search(r"virtio-net \(slot \d+\): offloads on, 2 queue pairs \(at most 2 in use; "
                  r"[1-9]\d* control commands, 0 refused\), vhost-net \(rings handed over "
                  r"([1-9]\d*) times\); received 0 frames .* sent 0 ", r.stderr)
    assert m, r.stderr[-2000:]
    assert "refused the rings" not in r.stderr, r.stderr[-2000:]
    # Debian's driver gives each queue its own MSI-X vector: vhost interrupts through irqfds
    assert "rings handed to vhost-net; 4 of 4 queues interrupt by irqfd" in r.stderr, r.stderr
    rx = int(l1.run(f"cat /sys/class/net/{mq_tap_in_l1}/statistics/rx_packets",
                    check=True).stdout)
    assert rx - rx0 >= 4, (rx0, rx)  # ARP and ICMP from the guest, through vhost


@pytest.mark.parametrize("vhost", [False, True], ids=["user-space", "vhost-net"])
def test_bulk_send_leaves_as_tso_frames(vmm_boot, l1, tap_in_l1, vhost):
    """A bulk TCP send out of Debian's guest reaches the tap as TSO frames on
    both paths: the driver negotiated HOST_TSO4 and what crosses the tap
    averages far above a 1500-byte MTU (counted on L1's tap, not timed). On
    vhost-net the kernel moved every frame (the monitor none), as QEMU's
    -netdev tap,vhost=on does (docs/vmm.md, "vhost-net")."""
    mib, port = 16, 5301 + vhost
    got = f"/tmp/{tap_in_l1}.got"
    # one connection, read to its end; its byte count in `got`
    l1.run(f"setsid python3 -c 'import socket; s = socket.create_server((\"192.0.2.1\", {port})); "
           f"c = s.accept()[0]; n = 0\nwhile (b := c.recv(1 << 20)): n += len(b)\n"
           f"open(\"{got}\", \"w\").write(str(n))' >/dev/null 2>&1 < /dev/null &", check=True)
    stats = f"/sys/class/net/{tap_in_l1}/statistics"
    before = l1.run(f"cat {stats}/rx_packets {stats}/rx_bytes", check=True).stdout.split()
    net = f"tap={tap_in_l1},mac=52:54:00:00:02:08" + (",vhost=on" if vhost else "")
    report, status, r = vmm_boot(f"vps.net=eth0,192.0.2.2/24 "
                                 f"vps.check=tcpsend:192.0.2.1:{port}:{mib}",
                                 args=("--net", net), timeout=150)
    after = l1.run(f"cat {stats}/rx_packets {stats}/rx_bytes", check=True).stdout.split()
    assert status == 0, r
    assert report.checks == {f"tcpsend:192.0.2.1:{port}:{mib}": "ok"}, report.text
    n = l1.run(f"for i in $(seq 50); do [ -s {got} ] && break; sleep 0.1; done; cat {got}")
    assert n.stdout.strip() == str(mib << 20), n
    frames, nbytes = int(after[0]) - int(before[0]), int(after[1]) - int(before[1])
    # 16 MiB in 1514-byte frames would be over 11000 of them
    assert nbytes > mib << 20 and nbytes / frames > 8000, (frames, nbytes)
    assert re.search(r"virtio-net \(slot \d+\): offloads on, ", r.stderr), r.stderr[-2000:]
    if vhost:
        assert "rings handed to vhost-net; 2 of 2 queues interrupt by irqfd" in r.stderr, r.stderr
        assert re.search(r"vhost-net \(rings handed over [1-9]\d* times\); received 0 frames "
                         r".* sent 0 ", r.stderr), r.stderr[-2000:]
    else:
        # the monitor wrote them: most of what it sent was segmentation-offloaded
        m = re.search(r"user-space path .* sent (\d+) \((\d+) segmentation-offloaded", r.stderr)
        assert m and int(m[2]) > int(m[1]) // 2, r.stderr[-2000:]


def test_ping_without_net_offloads(vmm_boot, l1, tap_in_l1):
    """--no-net-offloads: the old path (plain frames, one buffer each) still works."""
    report, status, r = vmm_boot("vps.net=eth0,192.0.2.2/24 vps.check=ping:192.0.2.1",
                                 args=("--net", f"tap={tap_in_l1},mac=52:54:00:00:02:04",
                                       "--no-net-offloads"))
    assert status == 0, r
    assert report.checks == {"ping:192.0.2.1": "ok"}, report.text
    assert re.search(r"virtio-net \(slot \d+\): offloads off, 1 queue pairs \(at most 1 in "
                     r"use; 0 control commands, 0 refused\), user-space path \(rings handed over 0 "
                     r"times\); received [1-9]\d* frames "
                     r"\(0 over several buffers", r.stderr), r.stderr[-2000:]


def test_guest_reboot_exits_with_reboot_status(vmm_boot):
    report, status, r = vmm_boot("vps.then=reboot")
    assert report.ok, r.stdout
    assert status == 3, r


def test_power_button_shuts_the_guest_down(vmm_boot):
    report, status, r = vmm_boot(
        "vps.then=wait",
        script=f"{wait_for('VPS-INIT: waiting')}; python3 {VMMCTL} $CTL '{{\"cmd\":\"shutdown\"}}'")
    assert '{"ok": true}' in r.stdout, r
    assert status == 0, r
    assert "power button" in report.lines, r.stdout


def test_balloon_takes_memory_from_the_guest(vmm_boot):
    target = 128 << 20  # leave the 384 MiB guest 128 MiB
    report, status, r = vmm_boot(
        "vps.then=wait", memory="384M",
        script=(f"{wait_for('VPS-INIT: waiting')}; "
                f"python3 {VMMCTL} $CTL '{{\"cmd\":\"stats\"}}' | sed 's/^/BEFORE: /'; "
                f"python3 {VMMCTL} $CTL balloon {target} 60 | sed 's/^/AFTER: /'; "
                f"python3 {VMMCTL} $CTL '{{\"cmd\":\"shutdown\"}}'"),
        timeout=150)
    assert status == 0, r
    before = json.loads(re.search(r"^BEFORE: (.*)$", r.stdout, re.M).group(1))
    after = json.loads(re.search(r"^AFTER: (.*)$", r.stdout, re.M).group(1))
    want_pages = (384 - 128) * 256
    assert after["balloon"]["target_pages"] == want_pages, after
    assert after["balloon"]["actual_pages"] == want_pages, after
    # The guest's own view: its free memory dropped by about what it gave.
    free_before = before["balloon"].get("free_memory")
    free_after = after["balloon"]["free_memory"]
    assert free_before is not None, before
    assert free_before - free_after > 200 << 20, (before, after)
