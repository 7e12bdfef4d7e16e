# SPDX-License-Identifier: GPL-2.0-or-later
"""OCI image layouts as container templates (docs/templates.md, "OCI image
layouts"): layouts built here with umoci from the busybox template, no
network. One round-trips into a running container; hostile layouts (a blob
whose digest lies, `..`, absolute paths and devices in a layer, a manifest
digest that names a path, a huge declared size, a symlink blob, a layer
that unpacks past the cap, a file owned by a host id) are each refused or
tamed, nothing lands outside the store and the host's files are unchanged.
A customer cannot import."""

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

from framework.ct import BUILD
from framework.openapi import tcp, unix
from framework.vpsd import VPSD, raise_spec_errors
# the module's vpsd (its unpacked-size cap) and the busybox template as a tar: test_templates'
from test_templates import add_zeros, busybox_tar, vpsd  # noqa: F401

pytestmark = pytest.mark.skipif(not VPSD.exists() or not shutil.which("umoci"),
                                reason=f"{VPSD} not built or no umoci")

VPS = BUILD / "src" / "cli" / "vps"
PWNED = [Path("/tmp/vps-pwned-oci-dotdot"), Path("/tmp/vps-pwned-oci-abs"),
         Path("/vps-pwned-oci-abs"), Path("/tmp/vps-pwned-oci-link")]


def umoci(*a):
    r = subprocess.run(["umoci", *map(str, a)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r
    return r


def layer(path, entries):
    """A tar of (TarInfo, bytes or None) for `umoci raw add-layer`."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        for i, data in entries:
            if data is not None:
                i.size = len(data)
            t.addfile(i, io.BytesIO(data) if data is not None else None)
    return path


def entry(name, data=b"x", **kw):
    i = tarfile.TarInfo(name)
    for k, v in kw.items():
        setattr(i, k, v)
    return i, data


def make_layout(d, rootfs_tar, tags=("latest",), extra=None, marker="oci"):
    """An OCI layout at D: busybox's rootfs as one layer, /etc/marker and
    EXTRA's entries as a second, an Entrypoint, Cmd and Env; one manifest
    per tag."""
    umoci("init", "--layout", d)
    top = layer(d.parent / f"{d.name}-top.tar",
                [entry("etc/marker", marker.encode(), mode=0o644)] + (extra or []))
    for tag in tags:
        umoci("new", "--image", f"{d}:{tag}")
        umoci("raw", "add-layer", "--image", f"{d}:{tag}", rootfs_tar)
        umoci("raw", "add-layer", "--image", f"{d}:{tag}", top)
        umoci("config", "--image", f"{d}:{tag}", "--config.entrypoint", "/bin/sh",
              "--config.cmd", "-c", "--config.cmd", "echo hi", "--config.env", "OCI_TEST=1",
              "--config.workingdir", "/root")
    umoci("gc", "--layout", d)
    return d


def tar_of(d, out):
    subprocess.run(["tar", "-C", str(d), "-cf", str(out), "."], check=True)
    return out


def index(d):
    return json.loads((d / "index.json").read_text())


def blob(d, digest):
    return d / "blobs" / "sha256" / digest.split(":")[1]


def manifest(d, i=0):
    return json.loads(blob(d, index(d)["manifests"][i]["digest"]).read_text())


def rewrite_manifest(d, m):
    """Write manifest M as a new blob and point index.json at it (a layout
    whose manifest is well-formed and whose descriptors are hostile)."""
    raw = json.dumps(m).encode()
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    blob(d, digest).write_bytes(raw)
    idx = index(d)
    idx["manifests"][0].update(digest=digest, size=len(raw))
    (d / "index.json").write_text(json.dumps(idx))


def snapshot(d):
    """What an import may change: the store's and the uploads' trees."""
    out = set()
    for top in (d.data / "templates", d.data / "uploads"):
        if top.exists():
            out |= {str(p) for p in top.rglob("*")}
    return out


def host_state():
    out = {}
    for f in ("/etc/shadow", "/etc/passwd", "/dev/null"):
        st = os.lstat(f)
        out[f] = (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns)
    return out


def no_scratch_left(vpsd):
    """No scratch filesystem of an import is mounted or on a loop device."""
    loops = subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout
    mounts = Path("/proc/self/mountinfo").read_text()
    up = str(vpsd.data / "uploads")
    return up not in loops and up not in mounts


def put(d, name, path, ref=None):
    q = "?kind=ct&format=oci" + (f"&ref={ref}" if ref else "")
    return d.request("PUT", f"/api/v1/templates/{name}{q}", Path(path).read_bytes())


def listing(vpsd, name, v):
    f = vpsd.data / "templates" / name / str(v["version"]) / v["file"]
    return subprocess.run(["tar", "--numeric-owner", "-tvf", str(f)], capture_output=True,
                          text=True, check=True).stdout


def test_oci_layout_boots(vpsd, busybox_tar, tmp_path):
    """A layout made here imports (as a tar over the API, and as a directory
    through the CLI); the version records the manifest's digest and the
    image's Entrypoint, Cmd and Env; a container made from it runs busybox
    init as PID 1 and answers exec."""
    d = make_layout(tmp_path / "L", busybox_tar)
    digest = index(d)["manifests"][0]["digest"]
    code, v = put(vpsd, "ocibb", tar_of(d, tmp_path / "L.tar"))
    assert code == 201, v
    assert v["oci"]["digest"] == digest and v["oci"]["ref"] == "latest", v
    assert v["oci"]["entrypoint"] == ["/bin/sh"] and v["oci"]["cmd"] == ["-c", "echo hi"], v
    assert "OCI_TEST=1" in v["oci"]["env"] and v["oci"]["workdir"] == "/root", v
    assert v["init"] == "busybox" and v["kinds"] == ["ct"], v
    assert v["source"] == f"imported OCI image (ref `latest`, {digest})", v
    assert "./etc/marker" in listing(vpsd, "ocibb", v)
    assert not list((vpsd.data / "uploads").iterdir()) and no_scratch_left(vpsd)
    vpsd.api("POST", "/vps", {"name": "toci1", "kind": "ct", "template": "ocibb", "ram": "128M",
                              "disk": "64M", "start": True}, expect=201)
    r = vpsd.api("POST", "/vps/toci1/exec", {"args": ["sh", "-c", "cat /etc/marker; echo; "
                                                       "readlink /proc/1/exe"]})
    assert r["status"] == 0 and r["stdout"].split() == ["oci", "/bin/busybox"], r
    vpsd.api("DELETE", "/vps/toci1")

    # the CLI through a proxy that checks each answer against docs/openapi.json
    env = dict(os.environ, VPS_SOCKET=str(vpsd.checked().sock))
    r = subprocess.run([str(VPS), "template", "import", "ocibb", str(d)], capture_output=True,
                       text=True, env=env, timeout=600)
    raise_spec_errors()
    assert r.returncode == 0 and r.stdout == "imported template ocibb version 2\n", r
    show = vpsd.api("GET", "/templates/ocibb")
    assert show["version"] == 2 and show["oci"]["digest"] == digest, show
    r = subprocess.run([str(VPS), "template", "import", "ocibb", str(tmp_path / "L.tar"),
                        "--image-format", "oci", "--ref", "latest"], capture_output=True,
                       text=True, env=env, timeout=600)
    assert r.returncode == 0 and r.stdout == "imported template ocibb version 3\n", r
    r = subprocess.run([str(VPS), "template", "import", "ocibb", str(tmp_path / "L.tar"),
                        "--ref", "nope"], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 1 and "no ref `nope`: the layout's refs are `latest`" in r.stderr, r
    raise_spec_errors()
    vpsd.api("DELETE", "/templates/ocibb")


def test_oci_ref_choice(vpsd, busybox_tar, tmp_path):
    """Two manifests and none `latest`: no ref is an error naming both;
    --ref picks one; an unknown ref is an error; a ref of odd characters is
    refused before anything runs."""
    d = make_layout(tmp_path / "L", busybox_tar, tags=("alpha", "beta"))
    src = tar_of(d, tmp_path / "L.tar")
    before = snapshot(vpsd)
    code, j = put(vpsd, "ociref", src)
    assert code == 400 and j["error"]["message"].endswith(
        "several manifests and none is `latest`: the layout's refs are `alpha`, `beta`; "
        "name one with --ref"), j
    code, j = put(vpsd, "ociref", src, ref="gamma")
    assert code == 400 and "no ref `gamma`: the layout's refs are `alpha`, `beta`" in \
        j["error"]["message"], j
    code, j = put(vpsd, "ociref", src, ref="a%2Fb")
    assert code == 400 and "`ref`" in j["error"]["message"], j
    assert snapshot(vpsd) == before
    code, v = put(vpsd, "ociref", src, ref="beta")
    assert code == 201 and v["oci"]["ref"] == "beta", v
    assert v["oci"]["digest"] == next(m["digest"] for m in index(d)["manifests"]
                                      if m["annotations"]["org.opencontainers.image.ref.name"]
                                      == "beta")
    code, j = vpsd.request("PUT", "/api/v1/templates/ociref?kind=ct&ref=beta",
                           src.read_bytes())
    assert code == 400 and "only with format=oci" in j["error"]["message"], j
    vpsd.api("DELETE", "/templates/ociref")


def hostile_digest(d):
    """A layer blob changed after its digest was taken."""
    b = blob(d, manifest(d)["layers"][1]["digest"])
    raw = gzip.decompress(b.read_bytes()).replace(b"oci", b"bad")
    b.write_bytes(gzip.compress(raw))
    return "digest"


def hostile_manifest_path(d):
    m = manifest(d)
    m["layers"][0]["digest"] = "sha256:../../../../../../etc/shadow"
    rewrite_manifest(d, m)
    return "not sha256:<64 hex>"


def hostile_index_path(d):
    idx = index(d)
    idx["manifests"][0]["digest"] = "sha256:/etc/shadow"
    (d / "index.json").write_text(json.dumps(idx))
    return "not sha256:<64 hex>"


def hostile_size(d):
    m = manifest(d)
    m["layers"][0]["size"] = 1 << 50
    rewrite_manifest(d, m)
    return "declared size 1125899906842624"


def hostile_symlink_blob(d):
    b = blob(d, manifest(d)["layers"][1]["digest"])
    b.unlink()
    b.symlink_to("/etc/shadow")
    return "a symlink in the layout: refused"


def hostile_nested_index(d):
    idx = index(d)
    idx["manifests"][0]["mediaType"] = "application/vnd.oci.image.index.v1+json"
    (d / "index.json").write_text(json.dumps(idx))
    return "not an image manifest"


def hostile_duplicate_ref(d):
    idx = index(d)
    idx["manifests"].append(dict(idx["manifests"][0]))
    (d / "index.json").write_text(json.dumps(idx))
    return "ref `latest` names more than one manifest"


def hostile_not_a_layout(d):
    (d / "oci-layout").unlink()
    return "no `oci-layout` file"


def hostile_host_owner(d):
    """Rebuilt with a set-uid file owned by uid 100000 (a host id)."""
    return "outside the container's ids 0-65535"


def hostile_bomb(d):
    return "a size bomb or too big"


def hostile_bomb_many(d):
    return "no space left on device"


HOSTILE = {
    "digest-mismatch": (hostile_digest, None),
    "manifest-digest-is-a-path": (hostile_manifest_path, None),
    "index-digest-is-a-path": (hostile_index_path, None),
    "huge-declared-size": (hostile_size, None),
    "symlink-blob": (hostile_symlink_blob, None),
    "not-a-layout": (hostile_not_a_layout, None),
    "nested-index": (hostile_nested_index, None),
    "duplicate-ref": (hostile_duplicate_ref, None),
    "host-owner": (hostile_host_owner,
                   [entry("usr/bin/evil", b"x", mode=0o4755, uid=100000, gid=0)]),
    "size-bomb": (hostile_bomb, "bomb"),
    "size-bomb-many-files": (hostile_bomb_many, "bombs"),
}


def bomb_layer(path, files):
    """Files of zeros (one of 128 MiB: past the cap of 64 MiB; or several
    each under the cap and past it together) in a tar that umoci raw
    add-layer gzips to a few hundred KiB."""
    with tarfile.open(path, "w") as t:
        for n, size in enumerate(files):
            add_zeros(t, f"zeros{n}", size)
    return path


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_oci_hostile_layout_refused(vpsd, busybox_tar, tmp_path, case):
    make, extra = HOSTILE[case]
    small = layer(tmp_path / "small.tar", [entry("sbin/init", None, type=tarfile.SYMTYPE,
                                                 linkname="/bin/busybox")])
    d = make_layout(tmp_path / "L", small, extra=extra if isinstance(extra, list) else None)
    if extra in ("bomb", "bombs"):
        # one file past the cap (RLIMIT_FSIZE), or four of 48 MiB, each under
        # it: the scratch filesystem (the upload and the cap) fills up
        sizes = (128 << 20,) if extra == "bomb" else (48 << 20,) * 4
        umoci("raw", "add-layer", "--image", f"{d}:latest",
              bomb_layer(tmp_path / "b.tar", sizes))
        umoci("gc", "--layout", d)
        assert sum(f.stat().st_size for f in (d / "blobs" / "sha256").iterdir()) < 2 << 20
    words = make(d)
    src = tar_of(d, tmp_path / "evil.tar")
    before, host = snapshot(vpsd), host_state()
    code, j = put(vpsd, "ocievil", src)
    assert code == 400 and words in j["error"]["message"], (code, j)
    assert snapshot(vpsd) == before and host_state() == host and no_scratch_left(vpsd)
    assert not any(p.exists() for p in PWNED)
    assert vpsd.request("GET", "/api/v1/templates/ocievil")[0] == 404


def test_oci_hostile_entries_tamed(vpsd, busybox_tar, tmp_path):
    """A layer with `../`, absolute paths, a device node and a symlink to
    the host's /tmp then a file through it: all land inside the template
    (umoci resolves every path inside the root it unpacks into), the
    device is an empty regular file, and the host is unchanged."""
    dev = entry("dev/sda", None, type=tarfile.BLKTYPE, devmajor=8, devminor=0)
    d = make_layout(tmp_path / "L", busybox_tar, extra=[
        entry("../../../../tmp/vps-pwned-oci-dotdot", b"dotdot"),
        entry("/tmp/vps-pwned-oci-abs", b"abs"),
        entry("/vps-pwned-oci-abs", b"abs"),
        dev,
        entry("hostlink", None, type=tarfile.SYMTYPE, linkname="/tmp"),
        entry("hostlink/vps-pwned-oci-link", b"link"),
    ])
    host = host_state()
    code, v = put(vpsd, "ocitame", tar_of(d, tmp_path / "t.tar"))
    assert host_state() == host and not any(p.exists() for p in PWNED)
    assert code == 201, v
    files = listing(vpsd, "ocitame", v)
    rows = {line.split()[-1]: line for line in files.splitlines() if " -> " not in line}
    assert rows["./tmp/vps-pwned-oci-dotdot"].startswith("-"), files
    assert rows["./tmp/vps-pwned-oci-abs"].startswith("-"), files
    assert rows["./vps-pwned-oci-abs"].startswith("-"), files
    assert rows["./tmp/vps-pwned-oci-link"].startswith("-"), files
    assert rows["./dev/sda"].startswith("-") and " 0 " in rows["./dev/sda"], files
    assert v["import"]["devices"] == 0, v
    vpsd.api("DELETE", "/templates/ocitame")


def test_oci_owners_kept(vpsd, busybox_tar, tmp_path):
    """umoci --rootless writes every file as the importer's; the layer's
    owners and set-uid bits come back (a set-uid root file stays root's,
    a user's file stays the user's)."""
    d = make_layout(tmp_path / "L", busybox_tar, extra=[
        entry("usr/bin/suid", b"x", mode=0o4755, uid=0, gid=0),
        entry("home/u/f", b"x", mode=0o2640, uid=1000, gid=1001),
        entry("home/u/g", b"x", mode=0o644, uid=1000, gid=0),
        entry("home/u/h", b"x", mode=0o2755, uid=0, gid=50),
    ])
    v = vpsd.api("PUT", "/templates/ociown?kind=ct&format=oci",
                 tar_of(d, tmp_path / "o.tar").read_bytes(), expect=201)
    rows = {line.split()[-1]: line.split() for line in listing(vpsd, "ociown", v).splitlines()}
    assert rows["./usr/bin/suid"][:2] == ["-rwsr-xr-x", "0/0"], rows["./usr/bin/suid"]
    assert rows["./home/u/f"][:2] == ["-rw-r-S---", "1000/1001"], rows["./home/u/f"]
    assert rows["./home/u/g"][:2] == ["-rw-r--r--", "1000/0"], rows["./home/u/g"]
    assert rows["./home/u/h"][:2] == ["-rwxr-sr-x", "0/50"], rows["./home/u/h"]
    vpsd.api("DELETE", "/templates/ociown")


def test_oci_application_image_refused(vpsd, busybox_tar, tmp_path):
    """An image with no /sbin/init (an application image) is refused, named
    as such, nothing kept."""
    bare = layer(tmp_path / "bare.tar", [entry("bin/app", b"#!/bin/sh\n", mode=0o755)])
    d = make_layout(tmp_path / "L", bare)
    before = snapshot(vpsd)
    code, j = put(vpsd, "ociapp", tar_of(d, tmp_path / "a.tar"))
    assert code == 400 and "no /sbin/init" in j["error"]["message"], j
    assert snapshot(vpsd) == before


def test_oci_customer_cannot_import(vpsd, busybox_tar, tmp_path):
    admin = unix(vpsd)
    admin.api("POST", "/users", {"name": "ocicust", "password": "ocicust ocicust",
                                 "role": "customer"}, expect=201)
    cust = tcp(vpsd)
    cust.login("ocicust", "ocicust ocicust")
    d = make_layout(tmp_path / "L", busybox_tar)
    before = snapshot(vpsd)
    cust.api("PUT", "/templates/custoci?kind=ct&format=oci",
             tar_of(d, tmp_path / "c.tar").read_bytes(), expect=403)
    assert snapshot(vpsd) == before


def odd_config(d, **fields):
    m = manifest(d)
    cfg = json.loads(blob(d, m["config"]["digest"]).read_text())
    cfg["config"].update(fields)
    raw = json.dumps(cfg).encode()
    m["config"].update(digest="sha256:" + hashlib.sha256(raw).hexdigest(), size=len(raw))
    blob(d, m["config"]["digest"]).write_bytes(raw)
    rewrite_manifest(d, m)


def test_oci_odd_config(vpsd, busybox_tar, tmp_path):
    """A config whose Env is a string (the image spec says a list) is
    refused by umoci's parser; one with a 5000-byte Cmd and 300 Env entries
    imports, and the record keeps null for those rather than the image's
    bulk."""
    d = make_layout(tmp_path / "L", busybox_tar)
    odd_config(d, Env="A=1")
    before = snapshot(vpsd)
    code, j = put(vpsd, "ociodd", tar_of(d, tmp_path / "o.tar"))
    assert code == 400 and "ImageConfig.config.Env" in j["error"]["message"], j
    assert snapshot(vpsd) == before
    d = make_layout(tmp_path / "L2", busybox_tar)
    odd_config(d, Cmd=["x" * 5000], Env=[f"V{i}=1" for i in range(300)])
    code, v = put(vpsd, "ociodd", tar_of(d, tmp_path / "o2.tar"))
    assert code == 201, v
    assert v["oci"]["cmd"] is None and v["oci"]["env"] is None, v
    assert v["oci"]["entrypoint"] == ["/bin/sh"] and v["oci"]["workdir"] == "/root", v
    vpsd.api("DELETE", "/templates/ociodd")


def test_oci_unpacker_is_jailed():
    """vps-tmpl-oci started by root as vpsd starts it: in its jail it is
    root of a namespace whose root is host uid 934464; the host's
    /etc/shadow and old root are not there, /usr is read-only, there is no
    network, the programs it runs cannot get CAP_SYS_ADMIN back, and what
    it makes in WORK is owned by uid 934464 on the host."""
    top = Path(tempfile.mkdtemp(prefix="vps-oci-probe-", dir="/tmp"))
    try:
        top.chmod(0o711)  # reached, not listed: as vpsd's DATA/uploads
        work = top / "w"
        (work / "fs").mkdir(parents=True)
        for p in (work, work / "fs"):
            os.chown(p, 934464, 934464)
        work.chmod(0o700)
        probe(work)
    finally:
        shutil.rmtree(top)


def probe(work):
    r = subprocess.run([str(BUILD / "src" / "tmpl" / "vps-tmpl-oci"), str(work), "--probe"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r
    assert json.loads(r.stdout) == {
        "uid": 0, "shadow": "No such file or directory", "usr": "Read-only file system",
        "net": "Network is unreachable", "old_root": "No such file or directory",
        "cap_sys_admin": 0, "work": "made"}, r.stdout
    st = os.stat(work / "fs" / "probe")
    assert (st.st_uid, st.st_gid) == (934464, 934464), st
    assert not Path("/usr/vps-probe").exists()
