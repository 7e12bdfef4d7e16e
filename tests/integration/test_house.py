# SPDX-License-Identifier: GPL-2.0-or-later
"""The house (docs/architecture.md): the daemon's files import one way, in
layers, read from what each object file of the build defines and uses (nm),
not from what its #includes say; and no SQL outside the store's files."""

import re
import subprocess
from collections import defaultdict

from framework.artefacts import TOP, build_dir

# Top to bottom: a file may call its own layer's files and the layers below.
LAYERS = [
    ("daemon", {"main"}),
    ("api", {"api", "routes", "routes_vps", "routes_auth", "routes_host", "routes_net",
             "routes_ops", "reply", "ws", "web"}),
    ("core", {"life", "ops", "policy", "reclaim", "usage", "auth", "auth_body"}),
    ("kinds", {"kind", "kind_ct", "kind_vm", "qmp", "vmdisk", "keeper"}),
    ("services", {"net", "caps"}),
    ("base", {"store", "store_sqlite", "store_sqlite_util", "store_sqlite_vps",
              "store_sqlite_plans", "store_sqlite_net", "store_sqlite_auth",
              "store_sqlite_usage", "store_sqlite_ops", "store_pg", "store_pg_util",
              "store_pg_vps", "store_pg_plans", "store_pg_net", "store_pg_auth",
              "store_pg_usage", "store_pg_ops", "vps", "paths", "run", "cidr"}),
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
