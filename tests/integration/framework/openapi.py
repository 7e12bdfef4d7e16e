# SPDX-License-Identifier: GPL-2.0-or-later
"""docs/openapi.json as a test oracle: the spec (Spec) finds the operation
for a method and a concrete path (`/api/v1/vps/web1/start` is
`/vps/{name}/start`) and checks an answer against it: the status must be
one the operation documents, the body must match that status's schema
(JSON Schema 2020-12, `$ref`s resolved against the whole document) and the
headers it marks required must be there. Client speaks to a vpsd over its
unix socket (the local administrator) or over TCP with a session cookie
and its CSRF token, or a bearer token, and checks every answer it gets, so
every test that uses it checks the spec too. routes_missing() asks the
daemon for every operation the spec lists and names those it does not
route."""

import http.client
import json
import re
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
from jsonschema import Draft202012Validator

from .ct import TOP
from .vpsd import Vpsd, _UnixHTTP, free_port

SPEC_PATH = TOP / "docs" / "openapi.json"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class SpecError(AssertionError):
    pass


class Operation:
    """One method on one path template, with what the spec says of it."""

    def __init__(self, spec, template, method, op, path_item):
        self.spec = spec
        self.template = template
        self.method = method.upper()
        self.op = op
        self.id = op.get("operationId", f"{method} {template}")
        self.admin = op.get("x-role") == "admin"
        self.anonymous = op.get("security", spec.doc.get("security")) == []
        self.websocket = bool(op.get("x-websocket"))
        self.tcp_only = op.get("x-transport") == "tcp"
        params = {}
        for p in path_item.get("parameters", []) + op.get("parameters", []):
            p = spec.resolve(p)
            params[(p["name"], p["in"])] = p  # the operation's override the path's
        self.params = list(params.values())
        self.path_params = re.findall(r"\{([^}]+)\}", template)

    def __repr__(self):
        return f"{self.method} {self.template}"

    @property
    def vps_params(self):
        """The parameters that name a VPS (`x-vps-name`)."""
        return [p for p in self.params if p.get("x-vps-name")]

    @property
    def has_async(self):
        return any(p["name"] == "async" and p["in"] == "query" for p in self.params)

    def body_example(self):
        rb = self.op.get("requestBody")
        if not rb:
            return None
        rb = self.spec.resolve(rb)
        for ctype, media in rb["content"].items():
            if "example" in media:
                return media["example"]
        return None

    def body_type(self):
        rb = self.op.get("requestBody")
        return next(iter(self.spec.resolve(rb)["content"])) if rb else None

    def path(self, **values):
        """The concrete path under the server's base."""
        p = self.template
        for n in self.path_params:
            p = p.replace("{" + n + "}", str(values[n]))
        return self.spec.base + p

    def response(self, status):
        rs = self.op["responses"]
        r = rs.get(str(status)) or rs.get(f"{str(status)[0]}XX") or rs.get("default")
        return self.spec.resolve(r) if r else None


class Spec:
    def __init__(self, path=SPEC_PATH):
        self.path = Path(path)
        self.doc = json.loads(self.path.read_text())
        self.resolver = jsonschema.RefResolver(base_uri="", referrer=self.doc)
        self.base = urlsplit(self.doc.get("servers", [{"url": ""}])[0]["url"]).path.rstrip("/")
        self.operations = []
        self.path_items = {}
        for template, item in self.doc["paths"].items():
            item = self.resolve(item)
            self.path_items[template] = item
            for m in METHODS:
                if m in item:
                    self.operations.append(Operation(self, template, m, item[m], item))
        self._validators = {}
        self._templates = {}
        for template in self.path_items:
            rx = "".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p)
                         for p in re.split(r"(\{[^}]+\})", template))
            self._templates[template] = (re.compile("^" + rx + "$"),
                                         len(re.sub(r"\{[^}]+\}", "", template)))

    def resolve(self, x):
        while isinstance(x, dict) and "$ref" in x:
            _, x = self.resolver.resolve(x["$ref"])
        return x

    def validator(self, schema):
        key = json.dumps(schema, sort_keys=True)
        if key not in self._validators:
            self._validators[key] = Draft202012Validator(schema, resolver=self.resolver)
        return self._validators[key]

    def match(self, path):
        """(template, {param: value}) for a concrete path, or (None, {}).
        Of two templates that match, the one with more literal text wins."""
        path = urlsplit(path).path
        if not path.startswith(self.base + "/"):
            return None, {}
        rel = path[len(self.base):]
        best = None
        for template, (rx, lit) in self._templates.items():
            m = rx.match(rel)
            if m and (best is None or lit > best[2]):
                best = (template, m.groupdict(), lit)
        return (best[0], best[1]) if best else (None, {})

    def operation(self, method, path):
        template, _ = self.match(path)
        for o in self.operations:
            if o.template == template and o.method == method.upper():
                return o
        return None

    def check(self, method, path, status, headers, body):
        """Raise SpecError unless the answer is one the spec allows.
        headers: a mapping (case-insensitive get), body: parsed JSON or None
        (no body) or a str (not JSON)."""
        o = self.operation(method, path)
        where = f"{method} {path}"
        if o is None:
            # no such route: the spec allows only the error shape
            if status not in (401, 404, 405):
                raise SpecError(f"{where}: not in the spec, yet answered {status}: {body!r}")
            self._check_schema(where, status, {"$ref": "#/components/schemas/Error"}, body)
            return None
        r = o.response(status)
        if r is None:
            raise SpecError(f"{where} ({o.template}): status {status} is not documented "
                            f"(documented: {', '.join(o.op['responses'])}); body {body!r}")
        for name, h in r.get("headers", {}).items():
            h = self.resolve(h)
            if h.get("required") and headers.get(name) is None:
                raise SpecError(f"{where}: {status} lacks the required header {name}")
            if headers.get(name) is not None and "schema" in h:
                v = headers.get(name)
                if h["schema"].get("type") == "integer":
                    try:
                        v = int(v)
                    except ValueError:
                        raise SpecError(f"{where}: header {name}: {v!r} is not an integer")
                self._check_schema(f"{where} header {name}", status, h["schema"], v)
        content = r.get("content")
        if not content:
            if body not in (None, "", {}):
                raise SpecError(f"{where}: {status} documents no body, got {body!r}")
            return o
        media = content.get("application/json")
        if media is None:
            return o
        if isinstance(body, str) or body is None:
            raise SpecError(f"{where}: {status} must be JSON, got {body!r}")
        if "schema" in media:
            self._check_schema(where, status, media["schema"], body)
        return o

    def _check_schema(self, where, status, schema, value):
        errors = sorted(self.validator(schema).iter_errors(value), key=lambda e: list(e.path))
        if errors:
            e = errors[0]
            at = "/".join(str(p) for p in e.absolute_path) or "(top)"
            raise SpecError(f"{where}: {status}: at {at}: {e.message}\n  body: "
                            f"{json.dumps(value)[:2000]}")


_SPEC = None


def spec():
    """The spec, loaded once."""
    global _SPEC
    if _SPEC is None:
        _SPEC = Spec()
    return _SPEC


class Response:
    def __init__(self, status, headers, text):
        self.status = status
        self.headers = headers
        self.text = text
        try:
            self.json = json.loads(text) if text else None
        except json.JSONDecodeError:
            self.json = text

    @property
    def body(self):
        return self.json

    @property
    def code(self):
        """The error code of an error answer."""
        try:
            return self.json["error"]["code"]
        except (TypeError, KeyError):
            return None

    @property
    def message(self):
        try:
            return self.json["error"]["message"]
        except (TypeError, KeyError):
            return None

    def __repr__(self):
        return f"<{self.status} {self.text[:300]}>"


class Client:
    """An API client that checks every answer against the spec.

    Client(unix=PATH): the local administrator over the unix socket.
    Client(tcp=(HOST, PORT)): nobody until login() (a session cookie and its
    CSRF token, sent on every non-GET) or with token=... (a bearer token).
    """

    def __init__(self, unix=None, tcp=None, token=None, validate=True, spec_=None, timeout=300):
        assert (unix is None) != (tcp is None)
        self.unix = unix
        self.tcp = tcp
        self.token = token
        self.cookie = None
        self.csrf = None
        self.validate = validate
        self.spec = spec_ or spec()
        self.timeout = timeout
        self.seen = []  # (method, template, status) of every checked answer

    def _conn(self, timeout):
        if self.unix:
            return _UnixHTTP(self.unix, timeout=timeout)
        return http.client.HTTPConnection(*self.tcp, timeout=timeout)

    def request(self, method, path, body=None, headers=None, csrf=True, auth=True,
                validate=None, timeout=None):
        """One request. `path` is under /api/v1 unless it starts with it or
        with `/` followed by something else (`/` and `/static/...`).
        body: an object (sent as JSON), bytes or str (sent as is).
        csrf=False leaves out X-CSRF-Token; csrf=STR sends STR instead;
        auth=False sends neither cookie nor token."""
        if not path.startswith(self.spec.base + "/") and not path.startswith("/static") \
                and path != "/":
            path = self.spec.base + path
        h = {}
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            h["Content-Type"] = "application/json"
        if auth and self.token:
            h["Authorization"] = f"Bearer {self.token}"
        if auth and self.cookie:
            h["Cookie"] = f"vps_session={self.cookie}"
            if method != "GET" and csrf:
                h["X-CSRF-Token"] = csrf if isinstance(csrf, str) else (self.csrf or "")
        h.update(headers or {})
        c = self._conn(timeout or self.timeout)
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            text = r.read().decode(errors="replace") if r.status != 101 else ""
            resp = Response(r.status, r.headers, text)
        finally:
            c.close()
        check = self.validate if validate is None else validate
        if check and path.startswith(self.spec.base + "/"):
            o = self.spec.check(method, path, resp.status, resp.headers, resp.json)
            self.seen.append((method, o.template if o else None, resp.status))
        return resp

    def api(self, method, path, body=None, expect=200, **kw):
        r = self.request(method, path, body, **kw)
        assert r.status == expect, (method, path, r.status, r.json)
        return r.json

    def login(self, user, password, expect=200):
        r = self.request("POST", "/login", {"user": user, "password": password}, auth=False)
        assert r.status == expect, ("login", user, r.status, r.json)
        if r.status == 200:
            self.take_cookie(r)
            self.csrf = r.json["csrf"]
        return r

    def take_cookie(self, r):
        for value in r.headers.get_all("Set-Cookie") or []:
            c = SimpleCookie()
            c.load(value)
            if "vps_session" in c:
                self.cookie = c["vps_session"].value or None

    def logout(self):
        r = self.api("POST", "/logout")
        self.cookie = self.csrf = None
        return r


def concrete(op, placeholder="zz-no-such-name"):
    """A concrete path for an operation, every path parameter a placeholder."""
    return op.path(**{n: placeholder for n in op.path_params})


def routes_missing(client):
    """The operations of the spec that the daemon does not route: it answers
    404 "no such path" / "no such action", or 405. Every request names
    things that do not exist and sends `{}`, so nothing is made or removed
    (an ISO upload gets an invalid name). Over the unix socket the
    operations for TCP only (`x-transport: tcp`: login, logout) are left out;
    logout goes last."""
    missing = []
    for o in sorted(client.spec.operations, key=lambda o: o.template == "/logout"):
        if o.tcp_only and client.unix:
            continue
        values = {n: "zz-no-such-name" for n in o.path_params}
        if o.template == "/isos/{name}":
            values["name"] = ".zz-invalid"
        body = None
        if o.body_type() == "application/json":
            body = {}
        elif o.body_type():
            body = b""
        r = client.request(o.method, o.path(**values), body, validate=False)
        msg = r.message or ""
        if r.status == 405 or (r.status == 404 and (msg.startswith("no such path") or
                                                    msg.startswith("no such action"))):
            missing.append((o, r.status, msg))
    return missing


def start_vpsd(extra=()):
    """A private vpsd (framework.vpsd) listening on TCP too, at 127.0.0.1:d.port,
    serving this tree's web/ and docs/openapi.json."""
    port = free_port()
    d = Vpsd()
    d.port = port
    try:
        d.start(extra=("--tcp", f"127.0.0.1:{port}", "--web", str(TOP / "web"), *extra))
    except BaseException:
        d.cleanup()
        raise
    return d


def tcp(d, **kw):
    """A client of d over TCP (nobody until it logs in or has a token)."""
    return Client(tcp=("127.0.0.1", d.port), **kw)


def unix(d, **kw):
    """The local administrator's client of d."""
    return Client(unix=d.sock, **kw)
