# SPDX-License-Identifier: GPL-2.0-or-later
"""docs/openapi.json (issue 8): the document is sound OpenAPI 3.1 (its
shape, every schema a valid JSON Schema 2020-12, every `$ref` resolves,
every path parameter declared, every example valid), vpsd serves it,
its route table (`vpsd --routes`, the table its dispatcher walks) and the
document list the same routes with the same callers, and a walk through the whole API (the
administrator over the unix socket, a customer over TCP with a cookie and
with a token) gets only answers the spec allows. The security properties
are test_api_auth.py's."""

import json
import re
import subprocess
import time

import pytest
from jsonschema import Draft202012Validator

from framework.ct import ct_enforces
from framework.openapi import SPEC_PATH, Spec, routes_missing, start_vpsd, tcp, unix
from framework.vpsd import VPSD

SPEC = Spec()

# The shape of an OpenAPI 3.1 document, as far as this one uses it (the
# full schema is the OpenAPI Initiative's; test_official_schema uses it when
# openapi-spec-validator is installed).
REF = {"type": "object", "required": ["$ref"], "properties": {"$ref": {"type": "string"}}}
PARAMETER = {"oneOf": [REF, {
    "type": "object", "required": ["name", "in", "schema"],
    "properties": {"name": {"type": "string"},
                   "in": {"enum": ["path", "query", "header", "cookie"]},
                   "required": {"type": "boolean"}, "description": {"type": "string"},
                   "schema": {"type": "object"}},
    "if": {"properties": {"in": {"const": "path"}}},
    "then": {"required": ["required"], "properties": {"required": {"const": True}}},
    "patternProperties": {"^x-": {}}, "additionalProperties": False}]}
MEDIA = {"type": "object", "additionalProperties": {
    "type": "object", "properties": {"schema": {"type": "object"}, "example": {}},
    "additionalProperties": False}}
RESPONSE = {"oneOf": [REF, {
    "type": "object", "required": ["description"],
    "properties": {"description": {"type": "string"}, "content": MEDIA,
                   "headers": {"type": "object", "additionalProperties": {
                       "type": "object", "properties": {"schema": {"type": "object"},
                                                         "required": {"type": "boolean"},
                                                         "description": {"type": "string"}},
                       "additionalProperties": False}}},
    "additionalProperties": False}]}
SECURITY = {"type": "array", "items": {"type": "object", "additionalProperties": {
    "type": "array", "maxItems": 0}}}
OPERATION = {
    "type": "object", "required": ["operationId", "responses", "summary", "tags"],
    "properties": {
        "operationId": {"type": "string"}, "summary": {"type": "string"},
        "description": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}},
        "parameters": {"type": "array", "items": PARAMETER},
        "requestBody": {"type": "object", "required": ["content"],
                        "properties": {"required": {"type": "boolean"}, "content": MEDIA},
                        "additionalProperties": False},
        "responses": {"type": "object", "minProperties": 1,
                      "propertyNames": {"pattern": "^([1-5][0-9][0-9]|[1-5]XX|default)$"},
                      "additionalProperties": RESPONSE},
        "security": SECURITY},
    "patternProperties": {"^x-": {}}, "additionalProperties": False}
DOCUMENT = {
    "type": "object", "required": ["openapi", "info", "paths", "components"],
    "properties": {
        "openapi": {"type": "string", "pattern": r"^3\.1\.\d+$"},
        "jsonSchemaDialect": {"const": "https://json-schema.org/draft/2020-12/schema"},
        "info": {"type": "object", "required": ["title", "version"]},
        "servers": {"type": "array", "items": {"type": "object", "required": ["url"]}},
        "tags": {"type": "array", "items": {"type": "object", "required": ["name"]}},
        "security": SECURITY,
        "paths": {"type": "object", "propertyNames": {"pattern": "^/"}, "additionalProperties": {
            "type": "object",
            "properties": {"parameters": {"type": "array", "items": PARAMETER},
                           **{m: OPERATION for m in ("get", "put", "post", "delete", "patch")}},
            "additionalProperties": False}},
        "components": {"type": "object", "properties": {
            "schemas": {"type": "object", "additionalProperties": {"type": ["object", "boolean"]}},
            "responses": {"type": "object", "additionalProperties": RESPONSE},
            "parameters": {"type": "object", "additionalProperties": PARAMETER},
            "securitySchemes": {"type": "object", "additionalProperties": {
                "type": "object", "required": ["type"],
                "properties": {"type": {"enum": ["apiKey", "http", "mutualTLS", "oauth2",
                                                 "openIdConnect"]}},
                "if": {"properties": {"type": {"const": "apiKey"}}},
                "then": {"required": ["name", "in"],
                         "properties": {"in": {"enum": ["query", "header", "cookie"]}}},
                "else": {"if": {"properties": {"type": {"const": "http"}}},
                         "then": {"required": ["scheme"]}}}}},
            "additionalProperties": False}},
    "additionalProperties": False}


def walk(x, at=""):
    """Every (pointer, dict) in the document."""
    if isinstance(x, dict):
        yield at, x
        for k, v in x.items():
            yield from walk(v, f"{at}/{k}")
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from walk(v, f"{at}/{i}")


def schemas(doc):
    """Every place that holds a schema: (pointer, schema)."""
    for name, s in doc["components"]["schemas"].items():
        yield f"/components/schemas/{name}", s
    for at, d in walk(doc):
        if re.search(r"/(parameters/[^/]+|content/[^/]+|headers/[^/]+)$", at) and "schema" in d:
            yield at + "/schema", d["schema"]


def test_document_shape():
    errors = list(Draft202012Validator(DOCUMENT).iter_errors(SPEC.doc))
    assert not errors, "\n".join(f"/{'/'.join(map(str, e.absolute_path))}: {e.message}"
                                 for e in errors[:20])


def test_schemas_compile():
    for at, s in schemas(SPEC.doc):
        Draft202012Validator.check_schema(s)
        # compiling follows $refs lazily: validate something to follow them
        list(SPEC.validator(s).iter_errors(None))
        list(SPEC.validator(s).iter_errors({}))


def test_refs_resolve():
    n = 0
    for at, d in walk(SPEC.doc):
        if isinstance(d.get("$ref"), str):
            assert d["$ref"].startswith("#/"), f"{at}: only local refs ({d['$ref']})"
            SPEC.resolver.resolve(d["$ref"])  # raises if it does not
            n += 1
    assert n > 50


def test_path_parameters_declared():
    for o in SPEC.operations:
        declared = {p["name"] for p in o.params if p["in"] == "path"}
        assert declared == set(o.path_params), (o, declared, o.path_params)
    ids = [o.id for o in SPEC.operations]
    assert len(ids) == len(set(ids)), "operationIds must be unique"


def test_tags_security_and_errors_consistent():
    doc = SPEC.doc
    tags = {t["name"] for t in doc["tags"]}
    schemes = set(doc["components"]["securitySchemes"])
    for o in SPEC.operations:
        assert set(o.op["tags"]) <= tags, o
        for req in o.op.get("security", doc["security"]):
            assert set(req) <= schemes, o
        rs = o.op["responses"]
        # what every operation can answer, by the contract
        if not o.anonymous:
            assert "401" in rs, f"{o}: 401 not documented"
        if o.admin or o.method != "GET":
            assert "403" in rs, f"{o}: 403 not documented"
        if "requestBody" in o.op:
            assert {"400", "413"} <= set(rs), f"{o}: 400/413 not documented"
        if o.vps_params and any(p["in"] == "path" for p in o.vps_params):
            assert "404" in rs, f"{o}: 404 not documented"
        if o.has_async:
            assert "202" in rs, o
        assert o.admin == (o.op.get("x-role") == "admin")
        assert o.op.get("x-role") in (None, "admin"), o
    # non-GET operations of a cookie session need the CSRF token
    for o in SPEC.operations:
        if o.method != "GET" and not o.anonymous:
            assert {"session": [], "csrf": []} in o.op["security"], o


def test_examples_valid():
    for o in SPEC.operations:
        rb = o.op.get("requestBody")
        if not rb:
            continue
        for media in SPEC.resolve(rb)["content"].values():
            if "example" in media:
                errors = list(SPEC.validator(media["schema"]).iter_errors(media["example"]))
                assert not errors, (o, errors[0].message)
            elif media["schema"].get("format") != "binary" and rb.get("required"):
                pytest.fail(f"{o}: a required JSON body needs an example (the auth tests send it)")


def test_official_schema():
    """The OpenAPI Initiative's own schema, where its validator is installed."""
    try:
        from openapi_spec_validator import validate
    except ImportError:
        pytest.skip("openapi-spec-validator is not installed (no Debian package; "
                    "pip install openapi-spec-validator)")
    validate(SPEC.doc)


# --- against the daemon --------------------------------------------------------------------

def served_routes():
    """vpsd's route table: {(method, path): {"who", "transport"?}}."""
    if not VPSD.exists():
        pytest.skip(f"{VPSD} not built")
    out = subprocess.run([str(VPSD), "--routes"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and not out.stderr, out
    routes = [json.loads(line) for line in out.stdout.splitlines()]
    table = {(r["method"], r["path"]): r for r in routes}
    assert len(table) == len(routes), "a route twice in the table"
    return table


def who_described(o):
    """Who the description lets call o, in the route table's words."""
    if o.anonymous:
        return "anyone"
    if o.admin:
        return "admin"
    if o.op.get("x-transport") == "unix":
        return "host"
    return "user"


def test_routes_and_description_agree():
    """Both ways: every operation described is a route vpsd serves, every
    route it serves is described (else it escapes every test driven by the
    description), and both say the same of who may call it and over what."""
    served = served_routes()
    described = {(o.method, SPEC.base + o.template): o for o in SPEC.operations}
    assert len(served) > 40, served
    not_served = sorted(set(described) - set(served))
    not_described = sorted(set(served) - set(described))
    assert not not_served, f"described, not served: {not_served}"
    assert not not_described, f"served, not described in docs/openapi.json: {not_described}"
    for key, r in served.items():
        o = described[key]
        assert r["who"] == who_described(o), (key, r, o.op.get("x-role"), o.op.get("security"))
        transport = {"host": "unix"}.get(r["who"], r.get("transport"))
        assert o.op.get("x-transport") == transport, (key, r, o.op.get("x-transport"))
        # a VPS named in the path: the daemon checks the caller may see it
        assert r.get("vps", False) == any(p["in"] == "path" for p in o.vps_params), (key, r)
        # the metrics token opens what the description says it opens, and nothing else
        assert r.get("metrics_token", False) == ({"metrics": []} in o.op.get("security", [])), \
            (key, r)


def test_route_table_is_what_is_served(vpsd):
    """The table is the router: a path it lacks is 404 and a method it
    lacks on a known path is 405 naming the ones it has, over both sockets
    (the two below were once served by accident: a second destroy, and a
    create that skipped the customer checks)."""
    admin = unix(vpsd)
    admin.api("POST", "/users", {"name": "tabler", "password": "table table", "role": "admin"},
              expect=201)
    t = admin.api("POST", "/tokens", {"name": "tabler", "expires_in": 600, "user": "tabler"},
                  expect=201)
    admin.api("POST", "/vps", {"name": "tbl1", "kind": "ct", "template": "busybox",
                               "ram": "128M", "disk": "64M"}, expect=201)
    served = served_routes()
    for client in (admin, tcp(vpsd, token=t["token"])):
        for method, path in (("POST", "/vps/tbl1/destroy"),
                             ("POST", "/vps/tbl1/create"),
                             ("GET", "/vps/zz-no-such-name/start/x"), ("GET", "/eventsx"),
                             ("GET", "/users/x/y"), ("POST", "/templates/x/y")):
            body = {"name": "tbl2", "kind": "ct", "template": "busybox", "ram": "128M",
                    "disk": "64M"} if path.endswith("/create") else {}
            r = client.request(method, path, body)
            assert r.status == 404 and r.message.startswith("no such path"), (method, path, r)
        assert [v["name"] for v in admin.api("GET", "/vps")] == ["tbl1"]
        for method, path, allow in (("PUT", "/vps", "GET, POST"),
                                    ("POST", "/vps/zz-no-such-name", "GET, PATCH, DELETE"),
                                    ("DELETE", "/policies", "GET, PUT")):
            r = client.request(method, path, {})
            assert r.status == 405 and r.headers["Allow"] == allow, (method, path, r)
            assert {m for m, p in served if p == SPEC.base + SPEC.match(SPEC.base + path)[0]} \
                == set(allow.split(", "))
    admin.api("DELETE", "/vps/tbl1")
    admin.api("DELETE", f"/tokens/{t['id']}")
    admin.api("DELETE", "/users/tabler")


@pytest.fixture(scope="module")
def vpsd():
    if not VPSD.exists():
        pytest.skip(f"{VPSD} not built")
    d = start_vpsd()
    yield d
    d.cleanup()


def test_every_route_exists(vpsd):
    """Over the unix socket, and over TCP with an administrator's token."""
    admin = unix(vpsd)
    missing = routes_missing(admin)
    admin.api("POST", "/users", {"name": "routes", "password": "routes routes", "role": "admin"},
              expect=201)
    t = admin.api("POST", "/tokens", {"name": "routes", "expires_in": 600, "user": "routes"},
                  expect=201)
    missing += routes_missing(tcp(vpsd, token=t["token"]))
    assert not missing, "routes in the spec the daemon does not know:\n" + "\n".join(
        f"  {o}: {status} {msg}" for o, status, msg in missing)
    admin.api("DELETE", f"/tokens/{t['id']}")
    admin.api("DELETE", "/users/routes")


def test_spec_served(vpsd):
    r = tcp(vpsd).request("GET", "/openapi.json", auth=False)
    assert r.status == 200, r
    assert r.json == json.loads(SPEC_PATH.read_text())
    assert r.headers["Content-Type"].startswith("application/json")


def wait_op(client, accepted):
    """Poll an operation (the answer of a `?async=1` request) until it ends."""
    assert accepted.headers["Location"] == f"/api/v1/operations/{accepted.json['operation']['id']}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        op = client.api("GET", accepted.headers["Location"])
        if op["state"] != "running":
            return op
        time.sleep(0.1)
    raise AssertionError(f"operation still running: {op}")


def test_walk(vpsd):
    """Every operation, the administrator's and a customer's, each answer
    checked against the spec by the client (one container start)."""
    admin = unix(vpsd)
    me = admin.api("GET", "/me")
    assert me["name"] == "root" and me["role"] == "admin" and "csrf" not in me

    # users, plans, policies, templates, host
    admin.api("POST", "/users", {"name": "walker", "password": "walk the walk", "role": "customer"},
              expect=201)
    assert "walker" in [u["name"] for u in admin.api("GET", "/users")]
    admin.api("GET", "/users/walker")
    admin.api("PATCH", "/users/walker", {"role": "customer"})
    admin.api("GET", "/users/nobody", expect=404)
    admin.api("POST", "/plans", {"name": "wsmall", "ram": "128M", "disk": "64M", "cpus": 1,
                                 **({"io_weight": 100} if ct_enforces("io_weight") else {})},
              expect=201)
    admin.api("GET", "/plans")
    admin.api("GET", "/plans/wsmall")
    admin.api("GET", "/plans/nothing", expect=404)
    admin.api("GET", "/host")
    assert "vps_host_cpus " in admin.api("GET", "/metrics")  # text, not JSON (test_metrics.py)
    pol = admin.api("GET", "/policies")
    admin.api("PUT", "/policies", {"memory": pol["memory"]})
    admin.api("PUT", "/policies", {"memory": {"mode": "sideways"}}, expect=400)
    assert admin.api("GET", "/settings") == {"require_2fa": "none"}
    assert admin.api("PATCH", "/settings", {"require_2fa": "none"}) == {"require_2fa": "none"}
    admin.api("PATCH", "/settings", {"require_2fa": "sometimes"}, expect=400)
    admin.api("GET", "/templates")
    admin.api("GET", "/templates/busybox")
    admin.api("GET", "/templates/nothing", expect=404)
    admin.api("POST", "/templates/nothing/build", expect=404)
    admin.api("PUT", "/templates/walked?kind=ct", b"not a tarball", expect=400)
    admin.api("DELETE", "/templates/nothing", expect=404)
    admin.api("POST", "/templates/nothing/from/nobody", expect=404)
    admin.api("GET", "/networks")
    admin.api("GET", "/networks/nothing", expect=404)
    admin.api("POST", "/networks", {"name": "x", "colour": "red"}, expect=400)
    admin.api("DELETE", "/networks/nothing", expect=404)
    nodes = admin.api("GET", "/nodes")  # one host: the host itself
    assert len(nodes) == 1 and nodes[0]["self"] and nodes[0]["state"] == "online", nodes
    admin.api("POST", "/nodes/tokens", {"ttl": 600}, expect=409)  # no cluster to join
    admin.api("POST", "/nodes/tokens", {"ttl": 0}, expect=400)
    admin.api("POST", "/nodes/walk/evacuate", expect=409)  # one host: nowhere to go
    admin.api("POST", "/nodes/walk/restore", expect=409)
    one = admin.api("GET", f"/nodes/{nodes[0]['name']}")
    assert one["self"] and one["vps"] == nodes[0]["vps"] and not one["evacuating"], one
    admin.api("GET", "/nodes/zz-none", expect=404)
    admin.api("DELETE", f"/nodes/{nodes[0]['name']}", expect=409)  # one host: itself
    admin.api("PUT", "/isos/walk", b"not really an ISO", expect=201)
    assert "walk" in [i["name"] for i in admin.api("GET", "/isos")]
    admin.api("DELETE", "/isos/walk")
    admin.api("DELETE", "/isos/walk", expect=404)
    assert [p["name"] for p in admin.api("GET", "/pools")] == ["default"]
    admin.api("POST", "/pools", {"name": "walk", "path": "relative"}, expect=400)
    admin.api("DELETE", "/pools/walk", expect=404)
    admin.api("POST", "/repos", {"name": "walk", "url": str(vpsd.base / "repo")}, expect=201)
    assert [r["name"] for r in admin.api("GET", "/repos")] == ["walk"]
    admin.api("POST", "/repos", {"name": "walk2", "url": "relative"}, expect=400)
    hook = admin.api("POST", "/webhooks", {"url": "http://192.0.2.1/walk"}, expect=201)
    assert [h["id"] for h in admin.api("GET", "/webhooks")] == [hook["id"]]
    admin.api("POST", "/webhooks", {"url": "ftp://192.0.2.1/"}, expect=400)
    admin.api("DELETE", f"/webhooks/{hook['id']}")
    admin.api("DELETE", f"/webhooks/{hook['id']}", expect=404)

    # a container for the customer, started once (asynchronously)
    v = admin.api("POST", "/vps", {"name": "walk1", "kind": "ct", "template": "busybox",
                                   "ram": "128M", "disk": "64M", "owner": "walker"}, expect=201)
    assert v["owner"] == "walker" and v["suspended"] is False
    admin.api("GET", "/vps")
    admin.api("GET", "/vps/walk1")
    admin.api("GET", "/vps/nothing", expect=404)
    admin.api("POST", "/vps", {}, expect=400)
    admin.api("PATCH", "/vps/walk1", {"ram": "160M"})
    admin.api("POST", "/vps/walk1/plan", {"plan": "wsmall"})
    admin.api("POST", "/vps/walk1/migrate", {"to": "b"}, expect=409)  # one host: nowhere to go
    admin.api("POST", "/vps/walk1/migrate", {"to": "b", "x": 1}, expect=400)
    admin.api("PUT", "/migrations/walk1", b"x", expect=403)  # node to node only
    admin.api("GET", "/migrations/walk1", expect=403)  # node to node only
    admin.api("GET", "/migrations/walk1/stream", expect=403)  # node to node only
    admin.api("POST", "/vps/walk1/reinstall", {"template": "busybox"})
    op = wait_op(admin, admin.request("POST", "/vps/walk1/start?async=1"))
    assert op["state"] == "done" and op["result"]["state"] == "running", op
    running = admin.api("GET", "/vps/walk1")
    assert running["state"] == "running"
    assert admin.api("POST", "/vps/walk1/exec", {"args": ["true"]})["status"] == 0
    admin.api("POST", "/vps/walk1/password", {"password": "walk this way"})
    admin.api("GET", "/vps/walk1/console")
    admin.api("GET", "/vps/walk1/usage")
    admin.api("GET", "/vps/walk1/usage?since=0")
    admin.api("POST", "/vps/walk1/start", expect=409)
    assert admin.api("POST", "/vps/walk1/restart")["state"] == "running"
    admin.api("GET", "/events?vps=walk1")
    admin.api("GET", "/events?after=1&limit=5")

    # the customer, over TCP: a cookie session, then a token
    cust = tcp(vpsd)
    cust.request("GET", "/me", auth=False)  # 401, checked
    cust.api("GET", "/openapi.json", auth=False)
    cust.login("walker", "walk the walk")
    me = cust.api("GET", "/me")
    assert me["name"] == "walker" and me["role"] == "customer" and me["csrf"] == cust.csrf
    assert [x["name"] for x in cust.api("GET", "/vps")] == ["walk1"]
    cust.api("GET", "/vps/walk1")
    cust.api("GET", "/vps/walk1/usage")
    fw = cust.api("PUT", "/vps/walk1/firewall", {"policy_in": "drop", "rules": [
        {"direction": "in", "action": "accept", "proto": "tcp", "dport": 22}]})
    fw = cust.api("POST", "/vps/walk1/firewall/rules", {"direction": "out", "action": "drop",
                                                        "proto": "udp", "position": 1},
                  expect=201)
    assert [r["proto"] for r in fw["rules"]] == ["udp", "tcp"], fw
    fw = cust.api("DELETE", "/vps/walk1/firewall/rules/1")
    assert cust.api("GET", "/vps/walk1/firewall") == fw and len(fw["rules"]) == 1
    t = cust.api("GET", "/vps/walk1/traffic")  # no network: a month row of nothing
    assert t["months"] == [{"month": t["month"], "rx": 0, "tx": 0, "action": ""}], t
    assert cust.api("POST", "/vps/walk1/exec", {"args": ["true"]})["status"] == 0
    cust.api("POST", "/vps/walk1/rescue", {"on": "yes"}, expect=400)
    cust.api("POST", "/vps/walk1/rescue", {"on": True})  # a container's: restarted into it
    assert cust.api("GET", "/vps/walk1")["rescue"] is True
    cust.api("POST", "/vps/walk1/rescue", {"on": False})
    ws = cust.request("GET", "/vps/walk1/console/ws", headers={
        "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Host": f"127.0.0.1:{vpsd.port}"})
    assert ws.status == 101 and ws.headers["Sec-WebSocket-Accept"] == \
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", ws  # RFC 6455 section 1.3
    ws = cust.request("GET", "/vps/walk1/console/ws", headers={
        "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Host": f"127.0.0.1:{vpsd.port}",
        "Origin": "http://evil.example"})
    assert ws.status == 403, ws
    # a container has no screen (test_screen.py opens a VM's)
    ws = cust.request("GET", "/vps/walk1/vnc", headers={
        "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Host": f"127.0.0.1:{vpsd.port}",
        "Sec-WebSocket-Protocol": "binary"})
    assert ws.status == 409, ws
    cust.api("POST", "/vps/walk1/stop", {"timeout": 5})
    cust.api("POST", "/vps/walk1/snapshots", {"name": "walked"}, expect=201)
    assert [x["name"] for x in cust.api("GET", "/vps/walk1/snapshots")] == ["walked"]
    cust.api("POST", "/vps/walk1/snapshots", {"name": "../up"}, expect=400)
    cust.api("POST", "/vps/walk1/snapshots/walked/revert")
    cust.api("DELETE", "/vps/walk1/snapshots/walked")
    cust.api("DELETE", "/vps/walk1/snapshots/walked", expect=404)
    cust.api("POST", "/vps/walk1/clone", {"name": "../up"}, expect=400)
    assert cust.api("POST", "/vps/walk1/clone", {"name": "walk2"}, expect=201)["name"] == "walk2"
    cust.api("DELETE", "/vps/walk2")
    cust.api("GET", "/pools", expect=403)
    made = cust.api("POST", "/vps/walk1/backups", {}, expect=201)
    assert [b["id"] for b in cust.api("GET", "/vps/walk1/backups")] == [made["id"]]
    accepted = cust.request("POST", f"/vps/walk1/backups/{made['id']}/restore?async=1", {})
    assert accepted.status == 202, accepted
    assert wait_op(cust, accepted)["state"] == "done"
    restored = cust.api("POST", f"/backups/{made['id']}/restore", {"vps": "walk1", "as": "walk3"})
    assert restored["as"] == "walk3", restored
    cust.api("DELETE", "/vps/walk3")
    cust.api("DELETE", f"/vps/walk1/backups/{made['id']}")
    cust.api("DELETE", f"/vps/walk1/backups/{made['id']}", expect=404)
    cust.api("GET", "/vps/walk1/backup-schedule", expect=404)
    cust.api("PUT", "/vps/walk1/backup-schedule", {"every": 5}, expect=400)  # an admin's only
    cust.api("PUT", "/vps/walk1/backup-schedule", {"daily": "03:00", "keep_daily": 7})
    assert cust.api("GET", "/vps/walk1/backup-schedule")["daily"] == "03:00"
    cust.api("DELETE", "/vps/walk1/backup-schedule")
    cust.api("GET", "/repos", expect=403)
    admin.api("DELETE", "/repos/walk")
    cust.api("PATCH", "/vps/walk1", {"hostname": "walked", "onboot": False})
    cust.api("PATCH", "/vps/walk1", {"ram": "256M"}, expect=403)
    cust.api("POST", "/vps/walk1/suspend", expect=403)
    cust.api("GET", "/host", expect=403)
    cust.api("GET", "/events")
    cust.api("GET", "/plans")
    cust.api("GET", "/plans/wsmall")
    cust.api("GET", "/templates")
    cust.api("PUT", "/templates/mine?kind=ct", b"x", expect=403)
    cust.api("GET", "/isos")
    cust.api("GET", "/policies")
    cust.api("GET", "/settings", expect=403)
    cust.api("PATCH", "/settings", {"require_2fa": "none"}, expect=403)
    # two-factor login: begun, a code that cannot be one refused, nothing to disable
    cust.api("POST", "/me/2fa", {"password": "not the password"}, expect=403)
    assert cust.api("POST", "/me/2fa", {"password": "walk the walk"})["uri"].startswith(
        "otpauth://totp/vps:walker?")
    cust.api("POST", "/me/2fa/confirm", {"code": "not-a-code"}, expect=401)
    cust.api("POST", "/me/2fa/disable", {"code": "123456"}, expect=404)
    made = cust.api("POST", "/tokens", {"name": "walk", "expires_in": 600}, expect=201)
    assert [t["id"] for t in cust.api("GET", "/tokens")] == [made["id"]]
    tok = tcp(vpsd, token=made["token"])
    assert tok.api("GET", "/me")["name"] == "walker"
    acc = tok.request("POST", "/vps?async=1", {"name": "walk2", "kind": "ct",
                                               "template": "busybox", "plan": "wsmall"})
    assert acc.status == 202, acc
    op = wait_op(tok, acc)
    assert op["state"] == "done" and op["user"] == "walker" and op["result"]["name"] == "walk2"
    op = wait_op(tok, tok.request("DELETE", "/vps/walk2?async=1"))
    assert op["state"] == "done", op
    tok.api("GET", "/operations/999999999", expect=404)
    r = tok.request("DELETE", f"/operations/{op['id']}")  # ended: nothing to cancel
    assert r.status == 409 and "ended" in r.message, r
    tok.api("DELETE", "/operations/999999999", expect=404)
    cust.api("DELETE", f"/tokens/{made['id']}")
    tok.api("GET", "/me", expect=401)
    cust.logout()
    cust.api("GET", "/vps", expect=401)

    # the administrator ends it
    admin.api("POST", "/tokens", {"name": "root", "expires_in": 60}, expect=400)  # root: no tokens
    tokens = admin.api("POST", "/tokens", {"name": "for-walker", "expires_in": 60,
                                           "user": "walker"}, expect=201)
    admin.api("GET", "/tokens")
    admin.api("DELETE", f"/tokens/{tokens['id']}")
    admin.api("POST", "/vps/walk1/suspend")
    admin.api("POST", "/vps/walk1/unsuspend")
    admin.api("DELETE", "/users/walker", expect=409)  # owns walk1
    admin.api("DELETE", "/vps/walk1")
    admin.api("DELETE", "/users/walker")
    admin.api("DELETE", "/plans/wsmall")
    audit = admin.api("GET", "/audit?limit=5")
    assert 0 < len(audit) <= 5
    admin.api("GET", f"/audit?after={audit[-1]['id']}")
    admin.api("GET", "/no-such-thing", expect=404)

    seen = {(m, t) for m, t, _ in admin.seen + cust.seen + tok.seen}
    not_walked = [o for o in SPEC.operations if (o.method, o.template) not in seen]
    assert not not_walked, f"operations the walk missed: {not_walked}"
