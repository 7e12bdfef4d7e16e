# SPDX-License-Identifier: GPL-2.0-or-later
"""A firewall per VPS (issue 23, docs/networks.md "Firewall") through a
private vpsd: two customers' busybox containers on one network, each serving
HTTP; the owner's rules block and allow real connections (from the other
container's network namespace and from the host), replies to the VPS's own
connections pass a default drop, a rule follows the VPS across its restart.
Attacks: the VPS's own root (its user and network namespaces) cannot see
or remove the rules, which are the host's; the other customer cannot read
or change the firewall (404), a
customer's rules never touch another VPS's or the host's traffic, hostile
strings and too many rules are refused with the ruleset unchanged. Traffic
stays between the host and its containers."""

import json
import os
import re
import shutil
import socket
import subprocess
import uuid

import pytest

from framework.openapi import start_vpsd, tcp
from framework.ct import BUILD
from framework.vpsd import VPSD, raise_spec_errors
from test_net import init_pid

pytestmark = [
    pytest.mark.skipif(not VPSD.exists(), reason=f"{VPSD} not built"),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (bridges, nftables)"),
    pytest.mark.skipif(not shutil.which("nft", path="/usr/sbin:/sbin"),
                       reason="nft is not installed (Debian package nftables)"),
]

NFT = shutil.which("nft", path="/usr/sbin:/sbin")
VPS = BUILD / "src" / "cli" / "vps"
GW = "10.231.187.1"
PW = {"fwa": "fwa's long secret", "fwb": "fwb's long secret"}


def ruleset():
    return subprocess.run([NFT, "list", "table", "inet", "vps"], capture_output=True,
                          text=True).stdout


class Env:
    def __init__(self, d):
        self.d = d
        self.net = "fw" + uuid.uuid4().hex[:6]
        d.api("POST", "/networks", {"name": self.net, "ipv4": f"{GW}/24",
                                    "ipv6": "fd77:231:187::1/64", "nat": False}, expect=201)
        d.api("POST", "/plans", {"name": "fwp", "ram": "128M", "disk": "64M", "cpus": 1},
              expect=201)
        self.c = {}
        self.ip = {}
        for user, vps in (("fwa", "va"), ("fwb", "vb")):
            d.api("POST", "/users", {"name": user, "password": PW[user], "role": "customer"},
                  expect=201)
            d.api("PATCH", f"/users/{user}", {"networks": [self.net]})
            c = tcp(d)
            c.login(user, PW[user])
            self.c[user] = c
            v = c.api("POST", "/vps", {"name": vps, "kind": "ct", "template": "busybox",
                                       "plan": "fwp", "network": self.net, "start": True},
                      expect=201)
            self.ip[vps] = v["ipv4"]
            self.serve(vps)

    def serve(self, vps):
        """HTTP on 8080 and 8081 inside the VPS."""
        out = self.d.api("POST", f"/vps/{vps}/exec", {"args": ["sh", "-c",
                         "mkdir -p /dev/shm/www && echo hello > /dev/shm/www/x && "
                         "httpd -p 8080 -h /dev/shm/www && httpd -p 8081 -h /dev/shm/www"]})
        assert out["status"] == 0, out

    def fetch(self, frm, to, port):
        """Whether VPS frm gets http://to:port/x (busybox nc, 2 s; its wget -T crashes)."""
        out = self.d.api("POST", f"/vps/{frm}/exec", {"args": [
            "sh", "-c", f"printf 'GET /x HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {self.ip[to]} {port}"]},
            timeout=60)
        return out["stdout"].startswith("HTTP/1.1 200") and out["stdout"].endswith("hello\n")

    def host_fetch(self, to, port):
        """Whether the host (from the gateway address) connects to to:port."""
        s = socket.socket()
        s.settimeout(2)
        try:
            s.connect((self.ip[to], port))
            s.sendall(b"GET /x HTTP/1.0\r\n\r\n")
            got = b""
            while (b := s.recv(4096)):
                got += b
            return got.startswith(b"HTTP/1.1 200") and got.endswith(b"hello\n")
        except OSError:
            return False
        finally:
            s.close()


@pytest.fixture(scope="module")
def env():
    d = start_vpsd()
    e = None
    try:
        e = Env(d)
        yield e
        for v in d.api("GET", "/vps"):
            d.request("DELETE", f"/api/v1/vps/{v['name']}")
        assert "fwi_" not in ruleset() and "fwo_" not in ruleset()
        d.api("DELETE", f"/networks/{e.net}")
        d.destroy_all_and_stop()  # a sanitizer's report fails the module
    finally:
        if e and d.proc:  # a failure above: the bridge goes too
            for v in d.api("GET", "/vps"):
                d.request("DELETE", f"/api/v1/vps/{v['name']}")
            d.request("DELETE", f"/api/v1/networks/{e.net}")
        d.cleanup()


def test_rules_block_and_allow_real_traffic(env):
    a = env.c["fwa"]
    assert a.api("GET", "/vps/va/firewall") == {"policy_in": "accept", "policy_out": "accept",
                                               "rules": []}
    assert env.fetch("vb", "va", 8080) and env.host_fetch("va", 8081)

    # inbound: only vb, only 8080
    fw = a.api("PUT", "/vps/va/firewall", {"policy_in": "drop", "rules": [
        {"direction": "in", "action": "accept", "proto": "tcp", "dport": 8080,
         "source": env.ip["vb"], "comment": "from vb"}]})
    assert fw["rules"] == [{"n": 1, "direction": "in", "action": "accept", "proto": "tcp",
                            "dport": "8080", "source": env.ip["vb"] + "/32",
                            "comment": "from vb"}], fw
    assert env.fetch("vb", "va", 8080)
    assert not env.fetch("vb", "va", 8081)
    assert not env.host_fetch("va", 8080)  # the host's address is not vb's
    # replies to va's own connections pass the inbound drop
    assert env.fetch("va", "vb", 8080)

    # a rule added at the front opens 8081 to anyone; removed, it is shut again
    fw = a.api("POST", "/vps/va/firewall/rules", {"direction": "in", "action": "accept",
                                                  "proto": "tcp", "dport": "8081-8081",
                                                  "position": 1}, expect=201)
    assert [r["n"] for r in fw["rules"]] == [1, 2] and fw["rules"][0]["dport"] == "8081"
    assert env.host_fetch("va", 8081)
    a.api("DELETE", "/vps/va/firewall/rules/1")
    assert not env.host_fetch("va", 8081)
    a.api("DELETE", "/vps/va/firewall/rules/9", expect=404)

    # outbound: va may not reach vb's 8080, still its 8081
    a.api("POST", "/vps/va/firewall/rules", {"direction": "out", "action": "drop",
                                             "proto": "tcp", "dport": 8080,
                                             "destination": env.ip["vb"] + "/32"},
          expect=201)
    assert not env.fetch("va", "vb", 8080)
    assert env.fetch("va", "vb", 8081)

    # across its restart: the rules are the VPS's, made again at its start
    env.d.api("POST", "/vps/va/stop", {"force": True})
    assert "fwi_" not in ruleset()
    env.d.api("POST", "/vps/va/start")
    env.serve("va")
    assert env.fetch("vb", "va", 8080) and not env.fetch("vb", "va", 8081)
    assert not env.fetch("va", "vb", 8080)

    # open again: no chains left for it
    a.api("PUT", "/vps/va/firewall", {})
    assert "fwi_" not in ruleset() and env.host_fetch("va", 8081)


def test_vps_root_cannot_remove_its_firewall(env):
    """The rules live in the host's network namespace: root inside the VPS,
    with every capability its user namespace gives over its own network,
    flushes the only ruleset it can reach (its own, empty) and names the
    host's table in vain; the host's chains and their effect stay."""
    a = env.c["fwa"]
    a.api("PUT", "/vps/va/firewall", {"policy_in": "drop", "rules": [
        {"direction": "in", "action": "accept", "proto": "tcp", "dport": 8080}]})
    assert env.host_fetch("va", 8080) and not env.host_fetch("va", 8081)
    before = ruleset()
    pid = init_pid(env.d, "va")
    root = ["nsenter", "-t", pid, "-U", "-n", "--"]
    r = subprocess.run([*root, NFT, "list", "ruleset"], capture_output=True, text=True)
    assert r.returncode == 0 and "fwi_" not in r.stdout and "vps" not in r.stdout, r
    r = subprocess.run([*root, NFT, "flush", "ruleset"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr  # its own namespace's: allowed, and empty
    r = subprocess.run([*root, NFT, "delete", "table", "inet", "vps"], capture_output=True,
                       text=True)
    assert r.returncode != 0, "the host's table is reachable from inside the VPS"
    assert ruleset() == before and "fwi_" in before
    assert env.host_fetch("va", 8080) and not env.host_fetch("va", 8081)
    a.api("PUT", "/vps/va/firewall", {})
    assert env.host_fetch("va", 8081)


def test_other_customer_cannot_read_or_change_it(env):
    a, b = env.c["fwa"], env.c["fwb"]
    a.api("PUT", "/vps/va/firewall", {"policy_in": "drop", "rules": [
        {"direction": "in", "action": "accept", "proto": "tcp", "dport": 8080}]})
    before, nft_before = a.api("GET", "/vps/va/firewall"), ruleset()
    for method, path, body in [("GET", "/vps/va/firewall", None),
                               ("PUT", "/vps/va/firewall", {}),
                               ("POST", "/vps/va/firewall/rules",
                                {"direction": "in", "action": "accept"}),
                               ("DELETE", "/vps/va/firewall/rules/1", None)]:
        r = b.request(method, path, body)
        assert r.status == 404, (method, path, r)
    assert a.api("GET", "/vps/va/firewall") == before and ruleset() == nft_before
    a.api("PUT", "/vps/va/firewall", {})


def test_rules_only_touch_their_own_vps(env):
    """va's owner names vb's address and the host's in every rule it can: vb
    and the host are reached as before; only va's own packets are judged."""
    a = env.c["fwa"]
    a.api("PUT", "/vps/va/firewall", {"policy_in": "drop", "policy_out": "drop", "rules": [
        {"direction": "in", "action": "drop", "destination": env.ip["vb"]},
        {"direction": "out", "action": "drop", "source": env.ip["vb"]},
        {"direction": "in", "action": "drop", "source": GW},
        {"direction": "out", "action": "accept", "proto": "any"},  # an accept of its own
        {"direction": "in", "action": "drop", "source": "0.0.0.0/0"},
        {"direction": "in", "action": "drop", "source": "::/0"}]})
    assert env.host_fetch("vb", 8080)  # the host to vb
    out = env.d.api("POST", "/vps/vb/exec", {"args": ["sh", "-c", f"ping -c 1 -W 2 {GW}"]})
    assert out["status"] == 0, out  # vb to the host
    # the rules sit in va's chains, reached only through va's addresses
    nft = ruleset()
    maps = re.findall(r"(\S+) : jump (fw[io]_\S+)", nft)
    assert maps and all(addr in (env.ip["va"], env.d.api("GET", "/vps/va")["ipv6"])
                        for addr, _ in maps), maps
    assert not env.fetch("vb", "va", 8080)  # va's own inbound policy
    a.api("PUT", "/vps/va/firewall", {})


HOSTILE = [
    {"direction": "in", "action": "accept", "source": "10.0.0.0/8; flush ruleset"},
    {"direction": "in", "action": "accept", "source": "10.0.0.0/8 } ; add rule inet vps x"},
    {"direction": "in", "action": "accept", "source": "10.0.0.0/33"},
    {"direction": "in", "action": "accept", "source": "fd00::/129"},
    {"direction": "in", "action": "accept", "source": "1.2.3.4", "destination": "fd00::1"},
    {"direction": "in", "action": "accept", "proto": "tcp", "dport": "22; drop"},
    {"direction": "in", "action": "accept", "proto": "tcp", "dport": "0"},
    {"direction": "in", "action": "accept", "proto": "tcp", "dport": 65536},
    {"direction": "in", "action": "accept", "proto": "tcp", "dport": "90-80"},
    {"direction": "in", "action": "accept", "proto": "tcp", "dport": "-1"},
    {"direction": "in", "action": "accept", "proto": "tcp", "dport": "1e3"},
    {"direction": "in", "action": "accept", "dport": 22},  # a port needs tcp or udp
    {"direction": "in", "action": "accept", "proto": "icmp", "source": "fd00::/8"},
    {"direction": "in", "action": "accept", "proto": "tcp } accept"},
    {"direction": "sideways", "action": "accept"},
    {"direction": "in", "action": "jump fwi_vps1"},
    {"direction": "in"},
    {"action": "accept"},
    {"direction": "in", "action": "accept", "comment": "x\"; flush ruleset"},
    {"direction": "in", "action": "accept", "comment": "x" * 65},
    {"direction": "in", "action": "accept", "chain": "fw_input"},
    {"direction": "in", "action": "accept", "source": "10.0.0.1\n"},
]


@pytest.mark.parametrize("rule", HOSTILE)
def test_hostile_rules_are_refused(env, rule):
    a = env.c["fwa"]
    before, nft_before = a.api("GET", "/vps/va/firewall"), ruleset()
    r = a.request("POST", "/vps/va/firewall/rules", rule, validate=False)
    assert r.status == 400, (rule, r)
    r = a.request("PUT", "/vps/va/firewall", {"rules": [rule]}, validate=False)
    assert r.status == 400 and "rule 1" in r.json["error"]["message"], (rule, r)
    assert a.api("GET", "/vps/va/firewall") == before and ruleset() == nft_before


def test_rule_count_is_capped(env):
    a = env.c["fwa"]
    rule = {"direction": "in", "action": "accept", "proto": "udp", "dport": 53}
    r = a.request("PUT", "/vps/va/firewall", {"rules": [rule] * 65}, validate=False)
    assert r.status == 400 and "at most 64" in r.json["error"]["message"], r
    a.api("PUT", "/vps/va/firewall", {"rules": [rule] * 64})
    r = a.request("POST", "/vps/va/firewall/rules", rule)
    assert r.status == 400 and "at most 64" in r.json["error"]["message"], r
    assert len(a.api("GET", "/vps/va/firewall")["rules"]) == 64
    assert ruleset().count("udp dport 53") == 64
    for bad in ({"policy_in": "reject"}, {"policy_out": 1}, {"rules": {}}, {"extra": 1}, []):
        r = a.request("PUT", "/vps/va/firewall", bad, validate=False)
        assert r.status == 400, (bad, r)
    a.api("PUT", "/vps/va/firewall", {})


def cli(env, *args):
    """The `vps` CLI as the administrator, its answers checked against docs/openapi.json."""
    r = subprocess.run([str(VPS), *args], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, VPS_SOCKET=str(env.d.checked().sock)),
                       stdin=subprocess.DEVNULL)
    raise_spec_errors()
    return r


def test_cli(env):
    r = cli(env, "firewall", "add", "vb", "--direction", "in", "--action", "drop", "--proto",
            "tcp", "--port", "8081", "--comment", "no 8081")
    assert r.returncode == 0 and r.stdout == "rule added to vb's firewall (1 rules)\n", r
    assert env.fetch("va", "vb", 8080) and not env.fetch("va", "vb", 8081)
    r = cli(env, "firewall", "list", "vb")
    assert r.returncode == 0 and r.stdout.startswith("vb: policy in accept, out accept\n"), r
    assert re.search(r"^1\s+in\s+drop\s+tcp\s+8081\s+-\s+-\s+no 8081\s*$", r.stdout, re.M), r
    r = cli(env, "firewall", "policy", "vb", "--in", "drop")
    assert r.returncode == 0 and "policy in drop, out accept" in r.stdout, r
    assert not env.fetch("va", "vb", 8080)
    fw = json.loads(cli(env, "firewall", "list", "vb", "--format", "json").stdout)
    assert fw["policy_in"] == "drop" and len(fw["rules"]) == 1
    r = cli(env, "firewall", "add", "vb", "--direction", "in", "--action", "accept",
            "--source", "10.0.0.0/8; flush ruleset")
    assert r.returncode == 1 and "`source`" in r.stderr, r
    r = cli(env, "firewall", "rm", "vb", "1")
    assert r.returncode == 0 and r.stdout == "rule 1 removed from vb's firewall\n", r
    r = cli(env, "firewall", "rm", "vb", "1")
    assert r.returncode == 1 and "no rule 1" in r.stderr, r
    assert cli(env, "firewall", "policy", "vb", "--in", "accept").returncode == 0
    assert env.fetch("va", "vb", 8081)
    assert "fwi_" not in ruleset()
