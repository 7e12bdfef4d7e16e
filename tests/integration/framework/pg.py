# SPDX-License-Identifier: GPL-2.0-or-later
"""A private PostgreSQL for a test (issue 19, docs/cluster.md): initdb into
a temporary directory as the unprivileged user `nobody` (PostgreSQL
refuses to run as root), a server that listens on a unix socket in that
directory only (no TCP port: listen_addresses is empty), local
connections trusted (the directory is 0700, nobody's: root and nobody
reach the socket, no one else), and a clean-up that stops it and removes
the directory.

Also a wrapper for the C unit tests (tests/unit/meson.build):
  python3 pg.py PROGRAM ARGS...
runs PROGRAM with VPS_TEST_PG set to the conninfo of a fresh server, or
without it (the program skips its PostgreSQL cases) when the machine
cannot run one (no binaries: scripts/lib.sh installs postgresql-15)."""

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

USER = "nobody"  # the server's owner: any user but root does
DB_USER = "vps"  # the superuser initdb makes


def bindir():
    """The newest installed PostgreSQL's binaries, or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                   else 0)
    return found[-1].parent if found else None


def why_not():
    """None if a server can start here, else why not."""
    if not bindir():
        return "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin): apt-get install postgresql-15"
    try:
        pwd.getpwnam(USER)
    except KeyError:
        return f"no user `{USER}` to run PostgreSQL as"
    if os.geteuid() != 0:
        return "not root: cannot run initdb as another user"
    return None


class Postgres:
    def __init__(self):
        self.bin = bindir()
        ent = pwd.getpwnam(USER)
        self.uid, self.gid = ent.pw_uid, ent.pw_gid
        self.base = Path(tempfile.mkdtemp(prefix="pg-", dir="/var/tmp"))
        self.dir = self.base / "data"
        self.log = self.base / "pg.log"
        os.chown(self.base, self.uid, self.gid)
        self.started = False

    def _as_user(self, *args, check=True):
        return subprocess.run([str(self.bin / args[0]), *args[1:]], user=self.uid,
                              group=self.gid, extra_groups=[], cwd=self.base,
                              capture_output=True, text=True, check=check,
                              env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"})

    def start(self):
        self._as_user("initdb", "-D", str(self.dir), "-U", DB_USER, "--auth=trust",
                      "--encoding=UTF8", "--no-sync")
        self.resume()
        return self

    def resume(self):
        """Start the server (again, after pause())."""
        # the socket in the data directory (0700, nobody's), no TCP at all
        opts = f"-k {self.dir} -c listen_addresses= -c fsync=off -c max_connections=40"
        r = self._as_user("pg_ctl", "-D", str(self.dir), "-l", str(self.log), "-o", opts,
                          "-w", "-t", "60", "start", check=False)
        if r.returncode != 0:
            raise AssertionError(f"pg_ctl start: {r.stdout}{r.stderr}\n"
                                 f"{self.log.read_text() if self.log.exists() else ''}")
        self.started = True

    def pause(self):
        """Stop the server, keeping its data (the database away, for a while)."""
        self._as_user("pg_ctl", "-D", str(self.dir), "-m", "fast", "-w", "stop")
        self.started = False

    def conninfo(self, db="postgres"):
        return f"host={self.dir} user={DB_USER} dbname={db}"

    def psql(self, sql, db="postgres"):
        """sql's output (unaligned, tuples only), run as the superuser."""
        r = subprocess.run([str(self.bin / "psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                            "-d", self.conninfo(db), "-c", sql],
                           capture_output=True, text=True)
        assert r.returncode == 0, (sql, r.stderr)
        return r.stdout.strip()

    def createdb(self, name):
        self.psql(f'CREATE DATABASE "{name}"')
        return self.conninfo(name)

    def stop(self):
        if self.started or self.dir.exists():
            self._as_user("pg_ctl", "-D", str(self.dir), "-m", "immediate", "-w", "stop",
                          check=False)
            self.started = False
        shutil.rmtree(self.base, ignore_errors=True)


def main(argv):
    why = why_not()
    if why:
        print(f"pg.py: no PostgreSQL for this test: {why}", file=sys.stderr)
        return subprocess.run(argv).returncode
    pg = Postgres()
    try:
        pg.start()
        env = dict(os.environ, VPS_TEST_PG=pg.conninfo())
        return subprocess.run(argv, env=env).returncode
    finally:
        pg.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
