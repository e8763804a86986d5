"""docker-compose.yml run as local processes: the test harness of the distributed topology.

No container engine runs here, so :class:`Topology` reads docker-compose.yml and starts each service
the way its container would run it, so the file cannot drift from what is tested:

* every Kensaku service (image ``kensaku``): its ``command`` with its ``environment``, ``kensaku`` being
  ``python -m kensaku.cli`` of this checkout;
* ``redis``: Debian's redis-server with the service's command line; ``postgres``: PostgreSQL 15's
  initdb / pg_ctl with the service's user, password and database;
* ``opensearch-node1..3``: the 3-node test cluster of tests/conftest.py (``kensaku opensearch-dev``).

What a container would have for free is given explicitly, and nothing else is changed: the compose
network's host names become 127.0.0.1 and a free port (:meth:`Topology.addresses`), a folder mounted
into containers becomes a local folder, each process listens on 127.0.0.1 and a port of its own. Test
tunings (short leases and timeouts, an index prefix on the shared cluster) are the ``tunings`` given to
the constructor. A service the harness does not know how to start fails the test.

The store: ``DATABASE`` says which. "postgresql" gives every process the compose file's
KENSAKU_DATABASE_URL (the PostgreSQL store, as deployed); "sqlite" drops it and gives every process one
shared data folder (the SQLite store also works across processes on one machine).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml

from kensaku.local_server import free_port

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker-compose.yml"
# Where the kensaku services keep their state: "postgresql" (KENSAKU_DATABASE_URL, as in the compose file) or
# "sqlite" (one data folder shared by every service).
DATABASE = "postgresql"
KENSAKU_IMAGE = "kensaku"
OPENSEARCH_IMAGE = "opensearchproject/opensearch"
OPENSEARCH_NODES = ("opensearch-node1", "opensearch-node2", "opensearch-node3")
# Debian's PostgreSQL (the compose file's postgres service), whichever major version is installed.
PG_BIN = max(Path("/usr/lib/postgresql").glob("*/bin"), default=Path("/usr/lib/postgresql/15/bin"),
             key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
API_PORT = 8000  # the port the API listens on in its container (the image's KENSAKU_PORT)


class ComposeError(Exception):
    """docker-compose.yml has something this harness cannot run as processes."""


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.1)


def load(path: Path = COMPOSE) -> dict[str, dict[str, Any]]:
    """The services of a compose file (YAML anchors and merge keys resolved)."""
    services: dict[str, dict[str, Any]] = yaml.safe_load(path.read_text(encoding="utf-8"))["services"]
    return services


def kind_of(name: str, service: dict[str, Any]) -> str:
    """"kensaku", "redis", "postgres" or "opensearch": how the harness starts the service."""
    image = str(service.get("image", ""))
    if image.split(":")[0] == KENSAKU_IMAGE:
        return "kensaku"
    if name == "redis" and image.startswith("redis:"):
        return "redis"
    if name == "postgres" and image.startswith("postgres:"):
        return "postgres"
    if name in OPENSEARCH_NODES and image.startswith(OPENSEARCH_IMAGE + ":"):
        return "opensearch"
    raise ComposeError(f"docker-compose.yml: the harness does not know how to start service {name!r} ({image})")


def _command(service: dict[str, Any]) -> list[str]:
    command = service.get("command")
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command or []]


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


@dataclass
class Process:
    """One service's process (its own process group: a kill reaches the children, as a container's)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    port: int | None = None  # an API's
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.argv, cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_healthy(self, timeout: float = 120) -> None:
        """The image's HEALTHCHECK: GET /health answers 200."""
        def healthy() -> bool:
            if not self.running:
                raise RuntimeError(f"{self.name} exited ({self.proc and self.proc.returncode}):\n{self.tail()}")
            try:
                return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        _wait(healthy, timeout, f"{self.name} /health")

    def kill(self) -> None:
        """kill -9 of the whole process group (no shutdown code runs, nothing is acknowledged)."""
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()

    def stop(self) -> None:
        """docker stop: SIGTERM, then SIGKILL after a grace period."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class Topology:
    """Every service of docker-compose.yml as local processes (see the module's docstring)."""

    def __init__(self, work: Path, opensearch_url: str, tunings: dict[str, str] | None = None,
                 compose: Path = COMPOSE, database: str = DATABASE) -> None:
        self.work = work
        self.opensearch_url = opensearch_url
        self.tunings = dict(tunings or {})
        self.database = database
        self.services = load(compose)
        self.kinds = {name: kind_of(name, s) for name, s in self.services.items()}  # ComposeError first
        missing = set(OPENSEARCH_NODES) - {n for n, k in self.kinds.items() if k == "opensearch"}
        if missing:
            raise ComposeError(f"docker-compose.yml: the 3-node cluster lacks {sorted(missing)}")
        self.processes: dict[str, Process] = {}
        self.shared_data = work / "kensaku-data"  # the shared SQLite store (DATABASE "sqlite")
        self.redis: Process | None = None
        self.redis_port = free_port()
        self.pg_port = free_port()
        self.pg_dir: Path | None = None
        self.api_ports = {name: free_port() for name, kind in self.kinds.items()
                          if kind == "kensaku" and self._is_api(name)}

    def _is_api(self, name: str) -> bool:
        return _command(self.services[name])[:2] == ["kensaku", "serve"]

    # -- addresses -----------------------------------------------------------------------------

    def addresses(self) -> dict[str, str]:
        """Compose network ``host:port`` -> where the process of that service listens here."""
        os_url = urlsplit(self.opensearch_url)
        out = {"redis:6379": f"127.0.0.1:{self.redis_port}", "postgres:5432": f"127.0.0.1:{self.pg_port}",
               **{f"{node}:9200": f"{os_url.hostname}:{os_url.port}" for node in OPENSEARCH_NODES}}
        out.update({f"{name}:{API_PORT}": f"127.0.0.1:{port}" for name, port in self.api_ports.items()})
        return out

    def mounts(self, service: dict[str, Any]) -> dict[str, str]:
        """A service's bind mounts: container path -> the local folder (created under the work folder)."""
        out: dict[str, str] = {}
        for volume in service.get("volumes") or []:
            source, target = str(volume).split(":")[:2]
            if not source.startswith("./"):
                raise ComposeError(f"a Kensaku service has a named volume {volume!r}: state belongs in the stores")
            folder = self.work / source[2:]
            folder.mkdir(parents=True, exist_ok=True)
            out[target] = str(folder)
        return out

    def environment(self, name: str) -> dict[str, str]:
        """The environment of a Kensaku service's process: the compose file's, translated."""
        service = self.services[name]
        env = _environment(service)
        addresses = self.addresses()
        names = "|".join(re.escape(n) for n in self.services)
        for key, value in env.items():
            for compose_address, local in addresses.items():
                value = value.replace(f"//{compose_address}", f"//{local}").replace(f"@{compose_address}", f"@{local}")
            if re.search(rf"(//|@)({names})[:/]", value):
                raise ComposeError(f"{name}: {key}={value} names a service at an address the harness does not map")
            env[key] = value
        # A folder mounted into every container that reads it (KENSAKU_CONNECTOR_LOCAL_ROOTS: /shares).
        mounts = self.mounts(service)
        if "KENSAKU_CONNECTOR_LOCAL_ROOTS" in env:
            roots = [r.strip() for r in env["KENSAKU_CONNECTOR_LOCAL_ROOTS"].split(",") if r.strip()]
            env["KENSAKU_CONNECTOR_LOCAL_ROOTS"] = ",".join(mounts.get(r, r) for r in roots)
        # What the container has for free: its own address and port, its own scratch folder.
        env["KENSAKU_HOST"] = "127.0.0.1"
        env["KENSAKU_PORT"] = str(self.api_ports.get(name, API_PORT))
        env["KENSAKU_DATA_DIR"] = str(self.work / "scratch" / name)
        if self.database == "sqlite":
            env.pop("KENSAKU_DATABASE_URL", None)
            env["KENSAKU_DATA_DIR"] = str(self.shared_data)
        elif "KENSAKU_DATABASE_URL" not in env:
            raise ComposeError(f"{name}: no KENSAKU_DATABASE_URL")
        return {**os.environ, "PYTHONPATH": str(REPO), **env, **self.tunings}

    def argv(self, name: str) -> list[str]:
        command = _command(self.services[name])
        if not command or command[0] != "kensaku":
            raise ComposeError(f"{name}: the command {command} is not a kensaku command")
        return [sys.executable, "-m", "kensaku.cli", *command[1:]]

    # -- infrastructure ------------------------------------------------------------------------

    def start_redis(self) -> None:
        command = _command(self.services["redis"]) or ["redis-server"]
        if command[0] != "redis-server":
            raise ComposeError(f"redis: the command {command} is not redis-server")
        folder = self.work / "redis"
        folder.mkdir(exist_ok=True)
        argv = [shutil.which("redis-server") or "redis-server", *command[1:], "--port", str(self.redis_port),
                "--bind", "127.0.0.1", "--dir", str(folder), "--save", ""]
        self.redis = Process("redis", argv, dict(os.environ), self.work / "redis.log")
        self.redis.start()
        _wait(lambda: subprocess.run(["redis-cli", "-p", str(self.redis_port), "ping"], capture_output=True,
                                     text=True).stdout.strip() == "PONG", 20, "redis-server")

    def stop_redis(self) -> None:
        assert self.redis is not None
        self.redis.stop()

    def _as_postgres(self, argv: list[str]) -> list[str]:
        """PostgreSQL refuses to run as root: then as the postgres system user."""
        return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv

    def start_postgres(self) -> None:
        env = _environment(self.services["postgres"])
        user, password = env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]
        db = env.get("POSTGRES_DB", user)
        self.pg_dir = Path(tempfile.mkdtemp(prefix="kensaku-pg-"))  # not under pytest's 0700 root
        pwfile = self.pg_dir / "pw"
        pwfile.write_text(password)
        if os.geteuid() == 0:
            shutil.chown(self.pg_dir, "postgres")
            shutil.chown(pwfile, "postgres")
        data = self.pg_dir / "data"
        subprocess.run(self._as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-U", user, f"--pwfile={pwfile}",
                                          "--auth=scram-sha-256", "-E", "UTF8"]),
                       check=True, capture_output=True)
        self._pg_ctl("start")
        subprocess.run([str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", user, db],
                       check=True, capture_output=True, env={**os.environ, "PGPASSWORD": password})

    def _pg_ctl(self, action: str) -> None:
        assert self.pg_dir is not None
        options = f"-p {self.pg_port} -k {self.pg_dir} -c listen_addresses=127.0.0.1"
        subprocess.run(self._as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.pg_dir / "data"), "-o", options,
                                          "-l", str(self.pg_dir / "postgres.log"), "-w", action]),
                       check=True, capture_output=True)

    def restart_postgres(self) -> None:
        """The fault hook: PostgreSQL restarted under the running services."""
        self._pg_ctl("restart")

    # -- the whole topology --------------------------------------------------------------------

    def start(self, only: Collection[str] | None = None) -> None:
        """Redis, PostgreSQL and the Kensaku services (``only``: those of them; the others can be started
        later with :meth:`restart`)."""
        unknown = set(only or ()) - {name for name, kind in self.kinds.items() if kind == "kensaku"}
        if unknown:
            raise ComposeError(f"not Kensaku services of docker-compose.yml: {sorted(unknown)}")
        self.work.mkdir(parents=True, exist_ok=True)
        self.shared_data.mkdir(exist_ok=True)
        httpx.get(self.opensearch_url, timeout=10).raise_for_status()  # the three opensearch-node services
        self.start_redis()
        self.start_postgres()
        for name, kind in self.kinds.items():
            if kind == "kensaku":
                self.processes[name] = Process(name, self.argv(name), self.environment(name),
                                               self.work / f"{name}.log", self.api_ports.get(name))
        chosen = [p for p in self.processes.values() if only is None or p.name in only]
        apis = [p for p in chosen if p.port is not None]
        if not apis:
            raise ComposeError(f"no API service among {sorted(only or [])}")
        # One API first: the first process makes the store's tables; the rest start side by side.
        apis[0].start()
        apis[0].wait_healthy()
        for process in chosen:
            if process is not apis[0]:
                process.start()
        for api in apis[1:]:
            api.wait_healthy()

    def restart(self, name: str, overrides: dict[str, str] | None = None) -> None:
        """compose's ``restart: unless-stopped`` after a kill (with ``overrides`` of its environment, if
        given; a later restart without them goes back to the compose file's)."""
        process = self.processes[name]
        process.stop()
        process.env = {**self.environment(name), **(overrides or {})}
        process.start()
        if process.port is not None:
            process.wait_healthy()

    def stop(self) -> None:
        for process in self.processes.values():
            process.stop()
        if self.redis is not None:
            self.redis.stop()
        if self.pg_dir is not None:
            try:
                self._pg_ctl("stop")
            except subprocess.CalledProcessError:
                pass
            shutil.rmtree(self.pg_dir, ignore_errors=True)

    def logs(self) -> str:
        """The last lines of every process's log (for a failing test's report)."""
        return "\n".join(f"--- {p.name}\n{p.tail()}" for p in [*self.processes.values(), *filter(None, [self.redis])])
