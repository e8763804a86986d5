"""A real PostgreSQL server for the tests, from the machine's binaries (Debian's ``postgresql`` package):
initdb into a temporary folder, ``pg_ctl`` on a free port. As root (CI), the server runs as the
``postgres`` user (or ``nobody``): PostgreSQL refuses to run as root."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg


def binaries() -> Path | None:
    """The folder of initdb and pg_ctl: on PATH, else the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).parent
    folders = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name)
                     if p.parent.name.isdigit() else 0)
    return next((f for f in reversed(folders) if (f / "pg_ctl").exists() and (f / "initdb").exists()), None)


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root and no user to run PostgreSQL as")


class PostgresServer:
    """One PostgreSQL server in its own folder; ``url(db)`` for a database of it."""

    def __init__(self, port: int) -> None:
        found = binaries()
        if found is None:
            raise FileNotFoundError("PostgreSQL's initdb and pg_ctl are not installed (apt-get install postgresql)")
        self.bin = found
        self.port = port
        self.user = _run_as()
        self.folder = Path(tempfile.mkdtemp(prefix="kensaku-pg-"))
        self.folder.chmod(0o755)
        self.data = self.folder / "data"
        if self.user is not None:
            shutil.chown(self.folder, self.user)
        self._pg("initdb", "-D", str(self.data), "-U", "kensaku", "-A", "trust", "-E", "UTF8", "--locale=C",
                 "--no-sync")

    def _pg(self, tool: str, *args: str) -> None:
        done = subprocess.run([str(self.bin / tool), *args], user=self.user, capture_output=True, text=True,
                              cwd=self.folder, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stdout}{done.stderr}")

    def start(self) -> PostgresServer:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c fsync=off"
                   " -c synchronous_commit=off -c full_page_writes=off -c max_connections=400")
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-w", "-t", "60", "-o", options,
                 "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def remove(self) -> None:
        try:
            self.stop("immediate")
        except RuntimeError:
            pass  # not running
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://kensaku@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A new, empty database; its URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)
