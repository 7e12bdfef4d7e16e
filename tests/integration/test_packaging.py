# SPDX-License-Identifier: GPL-2.0-or-later
"""The Debian packages (docs/packaging.md, issue 23), as a provider meets
them: built with `dpkg-buildpackage -b -us -uc` from a copy of the tree,
installed with dpkg into a fresh Debian 12 root that debootstrap makes from
the mirror this machine's apt uses, and checked inside it: every file where
docs/packaging.md says, the unit through `systemd-analyze verify`, the
programs of the package run (`vps --version`, `vpsd --help`), every key of
the shipped vpsd.conf accepted and bad lines refused by number, the man pages
against each program's --help, the bash completion against the CLI's command
table, the logrotate file through logrotate. And, without a package, a
build outside the source tree taking the template tools and the panel from
where `meson install` puts them.

Slow the first time (the build, then debootstrap: minutes); both are cached
under /var/cache/vps/pkgtest, the packages by a hash of the tree, the root
by its package list, so a second session costs a copy of the root and a
dpkg -i. Marked `slow`; its fixtures are per session, so the test command
builds and installs once."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

TOP = Path(__file__).resolve().parents[2]
CACHE = Path("/var/cache/vps/pkgtest")
SUITE = "bookworm"
OURS = ("vps", "vpsd", "vps-runtime", "vps-templates")
# what the checks themselves run inside the root, beside what our packages
# pull in: systemd-analyze, man (the unit's Documentation=), logrotate
CHECK_TOOLS = ("systemd", "man-db", "logrotate")


def run(argv, timeout=600, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)


def tree_files():
    """The tree a package is built from: git's files (tracked and new, not
    ignored) and the panel's vendored files (scripts/web-vendor). Not tests/
    and bench/: the package build does not enter them (-Dtests=false), so a
    change of a test does not cost a new build."""
    r = run(["git", "-C", str(TOP), "ls-files", "-z", "--cached", "--others",
             "--exclude-standard"])
    assert r.returncode == 0, r.stderr
    files = [f for f in r.stdout.split("\0") if f and (TOP / f).is_file() and
             not f.startswith(("tests/", "bench/"))]
    vendor = TOP / "web" / "vendor"
    if vendor.is_dir():
        files += [str(p.relative_to(TOP)) for p in sorted(vendor.rglob("*")) if p.is_file()]
    return sorted(set(files))


def tree_key(files):
    h = hashlib.sha256()
    for f in files:
        h.update(f.encode() + b"\0" + (TOP / f).read_bytes() + b"\0")
    return h.hexdigest()[:16]


def debian_mirror():
    """The mirror apt uses for bookworm (as mktemplate finds it)."""
    if os.environ.get("VPS_DEBIAN_MIRROR"):
        return os.environ["VPS_DEBIAN_MIRROR"]
    apt = Path("/etc/apt")
    for f in [apt / "sources.list"] + sorted((apt / "sources.list.d").glob("*")):
        if not f.is_file():
            continue
        text = f.read_text()
        for stanza in re.split(r"\n\s*\n", text):  # deb822 .sources
            uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
            suites = re.search(r"^Suites:(.*)$", stanza, re.M)
            if uris and suites and SUITE in suites.group(1).split():
                return uris.group(1)
        for line in text.splitlines():  # one-line .list: deb [opts] URI SUITE COMP...
            w = line.split()
            if w and w[0] == "deb" and SUITE in w:
                return next(x for x in w[1:] if "://" in x)
    pytest.fail(f"no Debian mirror for {SUITE} in /etc/apt/sources.list*; "
                "set VPS_DEBIAN_MIRROR")


def depends(deb):
    """The names a package depends on (first alternatives, no versions)."""
    r = run(["dpkg-deb", "-f", str(deb), "Depends"])
    assert r.returncode == 0, r.stderr
    return {re.sub(r"\s*\(.*", "", d.split("|")[0]).strip()
            for d in r.stdout.split(",") if d.strip()}


@pytest.fixture(scope="session")
def debs(timings):
    """Our four packages, built once per tree (cached by its hash)."""
    files = tree_files()
    out = CACHE / "debs" / tree_key(files)
    found = {p: sorted(out.glob(f"{p}_*.deb")) for p in OURS}
    if not all(found.values()):
        t0 = time.monotonic()
        shutil.rmtree(CACHE / "debs", ignore_errors=True)  # older trees' builds
        (CACHE / "debs").mkdir(parents=True)
        work = Path(tempfile.mkdtemp(prefix=".build-", dir=CACHE / "debs"))
        src = work / "vps"
        for f in files:
            (src / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(TOP / f, src / f)
        r = run(["dpkg-buildpackage", "-b", "-us", "-uc"], cwd=src, timeout=1800)
        assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
        out.mkdir()
        for deb in work.glob("*.deb"):
            deb.rename(out / deb.name)
        shutil.rmtree(work)
        timings.append(("dpkg-buildpackage -b (packaging test)", time.monotonic() - t0))
        found = {p: sorted(out.glob(f"{p}_*.deb")) for p in OURS}
    for p, f in found.items():
        assert len(f) == 1, f"{p}: {f}"
    return {p: f[0] for p, f in found.items()}


@pytest.fixture(scope="session")
def base_root(debs, timings):
    """A Debian 12 root (debootstrap minbase) holding what our packages
    depend on, cached by that list and the mirror: dpkg -i then needs
    nothing from the network, and a Depends the packages lack shows up as a
    failed install rather than being fetched quietly."""
    need = set(CHECK_TOOLS)
    for deb in debs.values():
        need |= depends(deb)
    need -= set(OURS)
    mirror = debian_mirror()
    key = hashlib.sha256((" ".join(sorted(need)) + " " + mirror).encode()).hexdigest()[:16]
    root = CACHE / "roots" / key
    if not (root / "etc" / "debian_version").is_file():
        t0 = time.monotonic()
        shutil.rmtree(CACHE / "roots", ignore_errors=True)  # other package lists'
        (CACHE / "roots").mkdir(parents=True)
        tmp = Path(tempfile.mkdtemp(prefix=".root-", dir=CACHE / "roots"))
        r = run(["debootstrap", "--variant=minbase", "--include=" + ",".join(sorted(need)),
                 SUITE, str(tmp), mirror], timeout=1800)
        assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
        tmp.rename(root)
        timings.append(("debootstrap (packaging test)", time.monotonic() - t0))
    return root


@pytest.fixture(scope="session")
def root(debs, base_root, timings, tmp_path_factory):
    """A fresh copy of the base root with our packages installed by dpkg."""
    t0 = time.monotonic()
    r = tmp_path_factory.mktemp("pkgroot") / "root"
    cp = run(["cp", "-a", "--reflink=auto", str(base_root), str(r)])
    assert cp.returncode == 0, cp.stderr
    # no service starts inside a chroot (Debian's policy-rc.d convention)
    policy = r / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    (r / "tmp/debs").mkdir()
    for deb in debs.values():
        shutil.copy2(deb, r / "tmp/debs" / deb.name)
    inst = run(["chroot", str(r), "dpkg", "-i"] + [f"/tmp/debs/{d.name}" for d in debs.values()])
    assert inst.returncode == 0, inst.stdout + inst.stderr
    policy.unlink()
    timings.append(("copy root + dpkg -i (packaging test)", time.monotonic() - t0))
    yield r
    shutil.rmtree(r, ignore_errors=True)


def chroot(root, *argv, timeout=60):
    """ARGV in the root, with a /proc of its own (a mount namespace of its
    own, so nothing is left mounted): vpsd finds itself through
    /proc/self/exe, bash's process substitution through /proc/self/fd."""
    script = 'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"'
    return run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script,
                str(root)] + list(argv), timeout=timeout,
               env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8"})


def doc_table():
    """docs/packaging.md's table: | `path` | package | why |"""
    rows = re.findall(r"^\| `(/[^`]+)` \| `?([a-z-]+)`? \|", (TOP / "docs/packaging.md").read_text(),
                      re.M)
    assert len(rows) >= 10, "docs/packaging.md lost its table of files"
    return rows


def test_files_land_where_docs_say(root):
    rows = doc_table()
    for path, pkg in rows:
        assert pkg in OURS, f"{path}: `{pkg}` is not one of our packages"
        assert os.path.lexists(str(root) + path), f"{path} ({pkg}) is not installed"
        r = chroot(root, "dpkg", "-S", path.rstrip("/"))
        owners = r.stdout.split(":")[0].split(", ") if r.returncode == 0 else []
        assert pkg in owners, f"{path}: dpkg -S says {r.stdout}{r.stderr}"
    # and every file the packages install is in the table (or under a
    # directory in it): the docs cannot leave one out
    listed = [p for p, _ in rows]
    for pkg in OURS:
        r = chroot(root, "dpkg", "-L", pkg)
        assert r.returncode == 0, r.stderr
        for f in r.stdout.split():
            if f.startswith("/usr/share/doc/") or not os.path.isfile(str(root) + f):
                continue
            assert any(f == p or (p.endswith("/") and f.startswith(p)) for p in listed), \
                f"{pkg} installs {f}, which docs/packaging.md does not list"
    # the panel is whole: its own files and the vendored ones it loads
    web = root / "usr/share/vps/web"
    for f in ("index.html", "app.js", "openapi.json", "vendor/xterm.mjs", "vendor/uPlot.esm.js"):
        assert (web / f).is_file(), f"the panel lacks {f} (scripts/web-vendor before the build)"


def test_unit_verifies_and_is_enabled(root):
    unit = "/lib/systemd/system/vpsd.service"
    r = chroot(root, "systemd-analyze", "verify", unit)
    assert r.returncode == 0 and not r.stderr.strip(), r.stdout + r.stderr
    text = (root / unit.lstrip("/")).read_text()
    assert re.search(r"^After=.*\blxcfs\.service\b", text, re.M), text
    assert re.search(r"^After=.*\bnetwork-online\.target\b", text, re.M), text
    assert re.search(r"^ExecStart=/usr/sbin/vpsd --config /etc/vps/vpsd\.conf$", text, re.M)
    assert re.search(r"^KillMode=process$", text, re.M), "a restart of vpsd would kill VPSes"
    # dh_installsystemd enabled it: the host starts it at boot
    assert (root / "etc/systemd/system/multi-user.target.wants/vpsd.service").is_symlink()


def test_installed_programs_run(root, debs):
    version = run(["dpkg-deb", "-f", str(debs["vps"]), "Version"]).stdout.strip()
    r = chroot(root, "vps", "--version")
    assert r.returncode == 0 and r.stdout == f"vps {version}\n", r.stdout + r.stderr
    r = chroot(root, "vpsd", "--help")
    assert r.returncode == 0 and "--config FILE" in r.stdout, r.stdout + r.stderr
    r = chroot(root, "vps-ct", "--version")
    assert r.returncode == 0 and version in r.stdout, r.stdout + r.stderr
    # installed, vpsd finds the monitors beside it and the template builders
    # and panel where the packages put them, not in a build tree
    r = chroot(root, "vpsd", "--config", "/etc/vps/vpsd.conf", "--check")
    assert r.returncode == 0, r.stdout + r.stderr
    found = dict(line.split(": ", 1) for line in r.stdout.splitlines()[1:])
    assert found == {"programs": "/usr/sbin", "mktemplate": "/usr/libexec/vps/mktemplate",
                     "mkvmtemplate": "/usr/libexec/vps/mkvmtemplate",
                     "web": "/usr/share/vps/web", "api": "/usr/share/vps/web/openapi.json"}, found
    for prog in ("vps-ct", "vps-ctm", "vps-vmm"):
        assert os.access(root / "usr/sbin" / prog, os.X_OK)
    # the installed template builder works with what its package depends on
    r = chroot(root, "/usr/libexec/vps/mktemplate", "busybox", "--cache", "/tmp/templates")
    assert r.returncode == 0, r.stderr
    tarball = r.stdout.strip()
    assert tarball.startswith("/tmp/templates/busybox-") and (root / tarball[1:]).is_file(), tarball
    shutil.rmtree(root / "tmp/templates")
    r = chroot(root, "/usr/libexec/vps/mkvmtemplate", "nonesuch")
    assert r.returncode == 1 and "unknown VM template `nonesuch`" in r.stderr, r.stderr


def value_flags(help_text):
    """vpsd's flags that take a value, from its --help: `--data DIR`."""
    return set(re.findall(r"--([a-z][a-z-]*) [A-Z]", help_text)) - {"config"}


def test_config_every_key_accepted(root):
    keys = value_flags(chroot(root, "vpsd", "--help").stdout)
    assert {"data", "tcp", "pids-limit", "reclaim-below"} <= keys, keys
    shipped = (root / "etc/vps/vpsd.conf").read_text()
    lines = re.findall(r"^#([a-z-]+ = .+)$", shipped, re.M)
    assert {line.split(" = ")[0] for line in lines} == keys, \
        "vpsd.conf must carry every flag of vpsd that takes a value, once"
    # every key set at once, as written in the file (uncommented)
    conf = dict(line.split(" = ", 1) for line in lines)
    for f in ("cert", "key"):  # --check reads them
        p = root / conf[f].lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("pem\n")
    p = root / conf["metrics-token-file"].lstrip("/")  # and this one, its owner's alone
    p.write_text("0123456789abcdef" * 4 + "\n")
    p.chmod(0o600)
    (root / "tmp/all.conf").write_text("\n".join(lines) + "\n")
    r = chroot(root, "vpsd", "--config", "/tmp/all.conf", "--check")
    assert r.returncode == 0 and r.stdout.startswith("vpsd: the settings are valid"), \
        r.stdout + r.stderr
    # a flag overrides the file: the file's web is replaced, and a bad one shows it counts
    r = chroot(root, "vpsd", "--config", "/tmp/all.conf", "--web", "/nonesuch", "--check")
    assert r.returncode == 2 and "--web `/nonesuch`" in r.stderr, r.stderr


@pytest.mark.parametrize("text,line,words", [
    ("data = /var/lib/vps\nbogus = 1\n", 2, ["unknown key `bogus`"]),
    ("# a comment\n\ndata /var/lib/vps\n", 3, ["expected KEY = VALUE"]),
    ("tcp = 127.0.0.1:8006\ntcp = 127.0.0.1:8007\n", 2, ["`tcp` again"]),
    ("usage-keep =\n", 1, ["`usage-keep` has no value"]),
    ("routes = 1\n", 1, ["unknown key `routes`"]),
    ("config = /etc/other.conf\n", 1, ["unknown key `config`"]),
])
def test_config_bad_line_refused(root, text, line, words):
    (root / "tmp/bad.conf").write_text(text)
    r = chroot(root, "vpsd", "--config", "/tmp/bad.conf")
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"`/tmp/bad.conf` line {line}:" in r.stderr, r.stderr
    for w in words:
        assert w in r.stderr, r.stderr
    # refused before vpsd touched anything: no data directory, no socket
    assert not (root / "var/lib/vps").exists() and not (root / "run/vps").exists()


def test_config_bad_value_refused(root):
    (root / "tmp/bad.conf").write_text("pids-limit = 3\n")
    r = chroot(root, "vpsd", "--config", "/tmp/bad.conf", "--check")
    assert r.returncode == 2 and "--pids-limit: expected 16 to 4194304" in r.stderr, r.stderr
    (root / "tmp/bad.conf").write_text("tcp = 127.0.0.1\n")
    r = chroot(root, "vpsd", "--config", "/tmp/bad.conf", "--check")
    assert r.returncode == 2 and "--tcp: expected ADDR:PORT" in r.stderr, r.stderr
    r = chroot(root, "vpsd", "--config", "/tmp/none.conf")
    assert r.returncode == 2 and "--config `/tmp/none.conf`: No such file" in r.stderr, r.stderr


def man_text(root, page):
    r = chroot(root, "sh", "-c", f"zcat /usr/share/man/man*/{page}.gz")
    assert r.returncode == 0, r.stderr
    return r.stdout.replace("\\-", "-")


@pytest.mark.parametrize("prog,page,help_argv", [
    ("vpsd", "vpsd.8", ["vpsd", "--help"]),
    ("vps-ct", "vps-ct.8", ["vps-ct", "--help"]),
    ("vps-ctm", "vps-ctm.8", ["vps-ctm", "--help"]),
    ("vps-vmm", "vps-vmm.8", ["vps-vmm", "--help"]),
    ("vps", "vps.1", ["vps", "help"]),
])
def test_man_page_matches_help(root, prog, page, help_argv):
    r = chroot(root, *help_argv)
    text = r.stdout + r.stderr
    assert "usage" in text, text
    man = man_text(root, page)
    flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-[a-zA-Z])\b", text))
    missing = sorted(f for f in flags if f not in man)
    assert not missing, f"{page} lacks {missing} of `{' '.join(help_argv)}`"
    if prog == "vps":  # and every command of the table
        for c in table_commands():
            assert re.search(rf"^\.B .*(?<![\w-]){c}(?![\w-])", man, re.M), \
                f"vps.1 lacks `{c}`"
    section = page.rsplit(".", 1)[1]
    r = chroot(root, "man", "--warnings", "-l", f"/usr/share/man/man{section}/{page}.gz")
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr


def table_commands():
    """The top-level commands of src/cli/commands.c's table."""
    src = (TOP / "src/cli/commands.c").read_text()
    table = src[src.index("const struct command commands[] = {"):]
    names = re.findall(r'^\t\{ "([a-z]+)"', table, re.M)
    assert len(names) > 15, names
    return names


def complete(root, *words):
    """What bash completion offers after `vps WORDS...` (the last word is the
    one being typed), with the installed script and vps."""
    ws = " ".join(f"'{w}'" for w in words)
    script = ("source /usr/share/bash-completion/completions/vps; "
              f"COMP_WORDS=(vps {ws}); COMP_CWORD={len(words)}; _vps; "
              "printf '%s\\n' \"${COMPREPLY[@]}\"")
    r = chroot(root, "bash", "-c", script)
    assert r.returncode == 0, r.stderr
    return set(r.stdout.split())


def test_bash_completion_follows_command_table(root):
    cmds = set(table_commands())
    assert cmds | {"help"} <= complete(root, "")
    assert complete(root, "pl") == {"plan"}
    assert complete(root, "plan", "") == {"list", "show", "create", "delete"}
    assert complete(root, "create", "--kind", "") == {"ct", "vm"}
    assert complete(root, "list", "--format", "") == {"table", "json"}
    assert {"--ram", "--kind", "--template", "--network"} <= complete(root, "create", "web1", "--")
    # a command the table does not have offers nothing
    assert complete(root, "nonesuch", "") == set()


def test_logrotate_reads_its_file(root):
    log = root / "run/vps/vps/web1/monitor.log"
    log.parent.mkdir(parents=True)
    log.write_bytes(b"x" * (2 << 20))
    r = chroot(root, "logrotate", "-d", "/etc/logrotate.d/vpsd")
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "error" not in out.lower(), out
    assert "/run/vps/vps/web1/monitor.log" in out and "needs rotating" in out, out
    shutil.rmtree(root / "run/vps")


def test_build_elsewhere_takes_the_installed_tools(tmp_path):
    """A build outside the source tree (BUILD/src/host/vpsd with no tree
    above BUILD) finds the template builders and the panel where `meson
    install` of that same build puts them, not in a tree it does not have:
    the paths vpsd --check prints are the ones meson's install plan names.
    No package needed: the test build's vpsd, copied to such a place."""
    build = Path(os.environ.get("VPS_BUILD", TOP / "build-test"))
    vpsd = tmp_path / "build" / "src" / "host" / "vpsd"
    vpsd.parent.mkdir(parents=True)
    shutil.copy(build / "src" / "host" / "vpsd", vpsd)
    r = run([str(vpsd), "--check"])
    assert r.returncode == 0, r.stdout + r.stderr
    found = dict(line.split(": ", 1) for line in r.stdout.splitlines()[1:])
    r = run(["meson", "introspect", "--installed", str(build)])
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    for key, src in (("mktemplate", "src/ct/templates/mktemplate"),
                     ("mkvmtemplate", "src/host/templates/mkvmtemplate"),
                     ("web", "web")):
        installed = plan.get(str(TOP / src))
        assert installed, f"meson does not install {src}"
        assert found[key] == installed, (key, found, installed)
        assert not found[key].startswith(str(TOP)), found
