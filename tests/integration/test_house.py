# SPDX-License-Identifier: GPL-2.0-or-later
"""The house (docs/architecture.md): the daemon's files import one way, in
layers, read from what each object file of the build defines and uses (nm),
not from what its #includes say; no SQL outside the store's files; and no
kind or engine told apart outside the kind files."""

import re
import subprocess
from collections import defaultdict

from framework.artefacts import TOP, build_dir

# Top to bottom: a file may call its own layer's files and the layers below.
LAYERS = [
    ("daemon", {"main"}),
    ("api", {"api", "routes", "routes_vps", "routes_auth", "routes_host", "routes_net",
             "routes_nodes", "routes_ops", "routes_pools", "routes_backup", "reply", "ws",
             "web"}),
    ("core", {"life", "ops", "policy", "reclaim", "usage", "auth", "auth_2fa", "auth_limit", "auth_body", "caps", "node",
              "metrics", "standby", "pool", "snapshot", "clone", "backup", "backup_sched", "webhook", "migrate", "migrate_live",
              "peer", "peer_stream", "settings"}),
    ("kinds", {"kind", "kind_ct", "kind_vm", "qmp", "vmdisk", "keeper"}),
    ("services", {"net", "tmpl", "firewall", "traffic", "migrate_blocks"}),
    ("base", {"store", "store_sqlite", "store_sqlite_util", "store_sqlite_vps",
              "store_sqlite_plans", "store_sqlite_net", "store_sqlite_auth",
              "store_sqlite_usage", "store_sqlite_ops", "store_sqlite_pools", "store_pg", "store_pg_util",
              "store_pg_vps", "store_pg_plans", "store_pg_net", "store_pg_auth",
              "store_pg_usage", "store_pg_ops", "store_pg_nodes", "store_sqlite_nodes",
              "store_pg_pools", "store_pg_hooks", "store_sqlite_hooks", "store_steps", "vps",
              "paths", "run", "cidr"}),
]


def symbols(archive):
    """{file: (defined, used)} of the archive's members."""
    out = subprocess.run(["nm", "-A", str(archive)], capture_output=True, text=True,
                         check=True).stdout
    files = defaultdict(lambda: (set(), set()))
    for line in out.splitlines():
        # ARCHIVE:MEMBER:VALUE TYPE NAME (a thin archive names its members by path)
        cut = line.find(".c.o:")
        member = line[:cut].rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        if cut < 0 or member.startswith(".._common_"):
            continue
        f, rest = member, line[cut + 5:]
        parts = rest.split()
        if len(parts) == 3 and parts[1] in "TDBRV":
            files[f][0].add(parts[2])
        elif len(parts) == 2 and parts[0] == "U":
            files[f][1].add(parts[1])
    return files


def graph():
    host = build_dir() / "src" / "host"
    files = symbols(host / "libvpshost.a")
    files.update(symbols(next((host / "vpsd.p").glob("main.c.o"))))
    where = {s: f for f, (defs, _) in files.items() for s in defs}
    edges = defaultdict(set)
    for f, (_, uses) in files.items():
        for s in uses:
            if s in where and where[s] != f:
                edges[f].add(where[s])
    return files, edges


def circles(edges):
    """The strongly connected components of more than one file (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_import_circle():
    _, edges = graph()
    assert edges, "no calls found between the daemon's files: is the build there?"
    assert circles(edges) == [], {f: sorted(e) for f, e in edges.items()}


def test_layers_import_one_way():
    files, edges = graph()
    layer = {f: i for i, (_, fs) in enumerate(LAYERS) for f in fs}
    unplaced = sorted(set(files) - set(layer))
    assert not unplaced, f"files in no layer of LAYERS (docs/architecture.md): {unplaced}"
    upward = [f"{a} ({LAYERS[layer[a]][0]}) -> {b} ({LAYERS[layer[b]][0]})"
              for a, bs in edges.items() for b in bs if layer[b] < layer[a]]
    assert not upward, upward


def test_the_check_sees_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


SQL = re.compile(r'"\s*(SELECT\b.*\bFROM|INSERT (OR \w+ )?INTO|UPDATE \w+ SET|DELETE FROM|'
                 r'(CREATE|DROP|ALTER) (TABLE|INDEX)|BEGIN (IMMEDIATE|TRANSACTION)|PRAGMA \w+)')


def test_no_sql_outside_the_store():
    """Every statement lives behind store.h, in the store backends' files."""
    outside = []
    for f in sorted((TOP / "src").rglob("*.[ch]")):
        if f.name.startswith(("store_sqlite", "store_pg")):
            continue
        text = f.read_text()
        for n, line in enumerate(text.splitlines(), 1):
            if "sqlite3" in line or "libpq-fe.h" in line or "PGconn" in line or SQL.search(line):
                outside.append(f"{f.relative_to(TOP)}:{n}: {line.strip()}")
    assert not outside, outside


# A kind's or an engine's name compared, in C (strcmp, ==, case) or in the panel's JavaScript.
NAMES = r"(?:ct|vm|ctm|vmm|qemu)"
C_NAME = rf'"{NAMES}"'
C_COMPARE = re.compile(rf"\bstr(?:case)?n?cmp\s*\([^;]*{C_NAME}|[=!]=\s*{C_NAME}|"
                       rf"{C_NAME}\s*[=!]=|\bcase\s+{C_NAME}")
# The enums' values: a branch on them (==, switch, a table by them) is telling kinds apart.
C_ENUM = re.compile(r"\bVPS_(?:CT|VM|CTM|VMM|QEMU)\b")
# ...except in the one table of their names (vps.c) and the enums' own lines (vps.h).
C_ENUM_EDGE = re.compile(r'^\s*(\[VPS_\w+\] = "\w*",|enum vps_(kind|engine) \{.*\};)\s*$')
JS_COMPARE = re.compile(rf"""[=!]==?\s*(['"`]){NAMES}\1|(['"`]){NAMES}\2\s*[=!]==?|"""
                        rf"""\bcase\s+(['"`]){NAMES}\3""")


def kind_branches(path, text):
    """The lines of a file outside the kind files that tell a kind or an engine by name."""
    found = []
    for n, line in enumerate(text.splitlines(), 1):
        code = line.split("//", 1)[0] if path.suffix == ".js" else line
        if path.suffix == ".js":
            hit = JS_COMPARE.search(code)
        else:
            hit = C_COMPARE.search(code) or (C_ENUM.search(code) and not C_ENUM_EDGE.match(code))
        if hit:
            found.append(f"{path.relative_to(TOP)}:{n}: {line.strip()}")
    return found


def outside_the_kinds():
    files = [f for f in sorted((TOP / "src" / "host").glob("*.[ch]"))
             if not f.name.startswith("kind_")]
    return files + sorted((TOP / "src" / "cli").glob("*.[ch]")) + sorted((TOP / "web").glob("*.js"))


def test_no_kind_named_outside_the_kinds():
    """kind.h's promise: the daemon, the CLI and the panel never branch on a kind or
    an engine; kind_*.c do, behind struct kind_ops and struct kind_family."""
    files = outside_the_kinds()
    assert any(f.name == "life.c" for f in files) and any(f.suffix == ".js" for f in files)
    found = [line for f in files for line in kind_branches(f, f.read_text())]
    assert not found, found


def test_the_kind_check_sees_a_branch():
    c, js = TOP / "src" / "host" / "x.c", TOP / "web" / "x.js"
    for line in ('if (!strcmp(v->kind, "ct"))', 'bool ct = !strcmp("vm", kind);',
                 'if (strncmp(e, "qemu", 4) == 0)', 'x = kind == "vm";', 'case "vmm":',
                 "if (v->kind == VPS_CT)", "case VPS_QEMU:", "v->engine = VPS_VMM;"):
        assert kind_branches(c, line), line
    for line in ("if (v.kind === 'ct') x();", 'const vm = e !== "vm";', "case 'qemu':",
                 "if ('ct' == k) y();"):
        assert kind_branches(js, line), line
    # JSON keys, the name table, messages and names of other things are not branches
    for line in ('json_pack("{s:s}", "kind", vps_kind_name(v->kind))', '[VPS_CT] = "ct",',
                 "enum vps_kind { VPS_KIND_NONE, VPS_CT, VPS_VM, NR_VPS_KINDS };",
                 'err_make(err, EINVAL, "`iso`: only for kind vm");', '.only_with = "kind=vm" },',
                 'if (!strcmp(k, "vmmem"))', "f->kind == kind"):
        assert not kind_branches(c, line), line
    for line in ("const KIND_WORDS = { ct: 'container', vm: 'virtual machine' };",
                 "templates.filter((t) => t.kind === kind.input.value)", "// if kind === 'ct'"):
        assert not kind_branches(js, line), line
