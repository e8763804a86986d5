"""Shared fixtures: a real ``kensaku serve`` process on a free port and real boto3 clients."""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

from kensaku.local_server import LocalServer, free_port
from tests.shapes import check_shape

pytest_plugins = ["tests.browser", "tests.web_site"]

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("KENSAKU_SHARED_DIR", REPO.parent / "shared"))
ROLE = "arn:aws:iam::000000000000:role/kendra"
TEST_MAX_DOCUMENT_BYTES = 2 * 1024 * 1024
# BM25 ranking judged by the share of the query's words alone (tests/confidence_words_only.json), for
# tests that need results of a known ScoreConfidence whatever the shipped calibration's fit says.
WORDS_ONLY = {"KENSAKU_SEARCH_MODE": "lexical",
              "KENSAKU_CONFIDENCE_CALIBRATION": str(Path(__file__).with_name("confidence_words_only.json"))}
JA = {"EqualsTo": {"Key": "_language_code", "Value": {"StringValue": "ja"}}}


# The outbound policy of test servers: their connectors read the local test servers (MediaWiki, the
# Confluence stand-in, moto, web sites, all on 127.0.0.1) and folders in the system's temporary
# directory or the shared corpora. Tests of the policy itself start servers with ``outbound={}``
# (the product's defaults: public addresses only, no local folder).
TEST_OUTBOUND = {"KENSAKU_CONNECTOR_ALLOWED_NETWORKS": "public,127.0.0.0/8,::1/128",
                 "KENSAKU_CONNECTOR_LOCAL_ROOTS": f"{Path(tempfile.gettempdir()).resolve()},{SHARED.resolve()}"}


class Server(LocalServer):
    """A ``kensaku serve`` child process with the test settings (fast index state changes, the test
    outbound policy, warnings only); ``env`` adds to them, ``outbound`` replaces the policy."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, *,
                 outbound: dict[str, str] = TEST_OUTBOUND) -> None:
        super().__init__(data_dir, {
            "KENSAKU_INDEX_CREATING_SECONDS": "0.05",
            "KENSAKU_INDEX_DELETING_SECONDS": "0.3",
            "KENSAKU_COMMIT_INTERVAL_SECONDS": "0.05",
            "KENSAKU_MAX_DOCUMENT_BYTES": str(TEST_MAX_DOCUMENT_BYTES),
            "KENSAKU_LOG_LEVEL": "warning",
            **outbound,
            **(env or {}),
        })


def make_client(url: str, *, check_responses: bool = True, **kwargs: Any) -> Any:
    client = boto3.client(
        "kendra", endpoint_url=url, region_name="us-east-1",
        aws_access_key_id=kwargs.pop("key", "test"), aws_secret_access_key=kwargs.pop("secret", "test"),
        config=kwargs.pop("config", Config(retries={"mode": "standard", "max_attempts": 3})), **kwargs,
    )
    if check_responses:

        def check(http_response: Any, model: Any = None, **_: Any) -> None:
            if http_response.status_code == 200 and model is not None and model.output_shape is not None:
                check_shape(model.output_shape, json.loads(http_response.content or b"{}"), model.name)

        client.meta.events.register("after-call.kendra.*", check)
    return client


ENGINES = ["embedded", "opensearch"]


DATABASES = ["sqlite", "postgresql"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests of a module marked ``engines`` run once on each engine (those that use a server, or ask for
    ``engine_env``); every other test runs on the embedded engine. Likewise ``databases``: once with the
    state in SQLite files (embedded mode), once in PostgreSQL (``KENSAKU_DATABASE_URL``)."""
    engines = "engine" in metafunc.fixturenames and metafunc.definition.get_closest_marker("engines")
    databases = "database" in metafunc.fixturenames and metafunc.definition.get_closest_marker("databases")
    if engines and databases:  # PostgreSQL with OpenSearch only: the distributed configuration
        metafunc.parametrize(("engine", "database"), [(e, "sqlite") for e in ENGINES] + [("opensearch", "postgresql")],
                             indirect=True, scope="session", ids=[*ENGINES, "opensearch-postgresql"])
    elif engines:
        metafunc.parametrize("engine", ENGINES, indirect=True, scope="session")
    elif databases:
        metafunc.parametrize("database", DATABASES, indirect=True, scope="session")


@pytest.fixture(scope="session")
def engine(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "embedded"))


@pytest.fixture(scope="session")
def database(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "sqlite"))


# The PostgreSQL server of this session (``postgres``), started on first use.
_POSTGRES: dict[str, Any] = {}


@pytest.fixture(scope="session")
def postgres() -> Any:
    """A PostgreSQL server for the session (tests/postgres.py); skipped when its binaries are missing."""
    from tests.postgres import PostgresServer, binaries

    if "server" not in _POSTGRES:
        if binaries() is None:
            pytest.skip("PostgreSQL is not installed (initdb, pg_ctl: apt-get install postgresql)")
        _POSTGRES["server"] = PostgresServer(free_port()).start()
    return _POSTGRES["server"]


def _database_env(request: pytest.FixtureRequest, database: str) -> dict[str, str]:
    if database == "sqlite":
        return {}
    return {"KENSAKU_DATABASE_URL": request.getfixturevalue("postgres").new_database()}


@pytest.fixture(scope="module")
def database_env(request: pytest.FixtureRequest, database: str) -> dict[str, str]:
    """The settings of a module's own server keeping its state in ``database``: SQLite (none), or a new
    PostgreSQL database (of its own: servers sharing one would share their queues)."""
    return _database_env(request, database)


# The test cluster this session started (``opensearch_url``), or why it could not.
_CLUSTER: dict[str, Any] = {}


def free_port_range(width: int) -> int:
    """A port P with P .. P + width - 1 free (a dev cluster's HTTP ports, and its transport ports from
    P + 100 on)."""
    for _ in range(100):
        base = random.randrange(20_000, 40_000)
        ports = [*range(base, base + width), *range(base + 100, base + 200)]
        try:
            for port in ports:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free range of ports for the test cluster")


def opensearch_url() -> str:
    """The test OpenSearch cluster: KENSAKU_TEST_OPENSEARCH_URL when set, else three nodes this session
    starts once with ``kensaku opensearch-dev`` (stopped at the end); the tests that need it are
    skipped when Java or Maven are missing."""
    url = os.environ.get("KENSAKU_TEST_OPENSEARCH_URL")
    if url:
        httpx.get(url, timeout=10).raise_for_status()
        return url
    if "skip" in _CLUSTER:
        pytest.skip(_CLUSTER["skip"])
    if "url" not in _CLUSTER:
        if shutil.which("java") is None or shutil.which("mvn") is None:
            _CLUSTER["skip"] = "the OpenSearch tests need Java 17+ and Maven (kensaku opensearch-dev)"
            pytest.skip(_CLUSTER["skip"])
        port, folder = free_port_range(3), tempfile.mkdtemp(prefix="kensaku-test-opensearch-")
        proc = subprocess.Popen(
            [sys.executable, "-m", "kensaku.cli", "opensearch-dev", "--nodes", "3", "--port", str(port),
             "--data-dir", folder, "--heap", "1536m"], cwd=REPO, stdout=subprocess.PIPE, text=True)
        _CLUSTER.update(proc=proc, folder=folder)
        assert proc.stdout is not None
        line = ""
        while not line.startswith("READY"):  # the first run builds the launcher (Maven Central)
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                raise RuntimeError(f"the test cluster exited with {proc.returncode}")
        _CLUSTER["url"] = line.split()[1]
    return str(_CLUSTER["url"])


def pytest_sessionfinish(session: pytest.Session) -> None:
    if "server" in _POSTGRES:
        _POSTGRES.pop("server").remove()
    proc = _CLUSTER.get("proc")
    if proc is not None:
        proc.terminate()
        proc.wait(timeout=60)
        shutil.rmtree(_CLUSTER["folder"], ignore_errors=True)


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    """A local S3-compatible store: moto's ``moto_server`` (the S3 API) on a free port, for a module."""
    port = free_port()
    proc = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.HTTPError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def drop_opensearch_indexes(url: str, prefix: str) -> None:
    found = httpx.get(f"{url}/_cat/indices/{prefix}*", params={"format": "json"}, timeout=30).json()
    for row in found:
        httpx.delete(f"{url}/{row['index']}", timeout=30)


# Indexes of this test session's servers on the test cluster (deleted at the end of the session).
OPENSEARCH_PREFIX = f"kensaku-t{os.getpid()}-"


@pytest.fixture(scope="session")
def engine_env(engine: str) -> dict[str, str]:
    """The settings of a server on ``engine`` (OpenSearch: the test cluster, under this session's prefix)."""
    if engine == "embedded":
        return {}
    return {"KENSAKU_ENGINE": "opensearch", "KENSAKU_OPENSEARCH_URL": opensearch_url(),
            "KENSAKU_OPENSEARCH_INDEX_PREFIX": OPENSEARCH_PREFIX}


@pytest.fixture(scope="session")
def _servers() -> Iterator[dict[str, Server]]:
    """The shared servers, one per engine: kept across the switches of the ``engine`` parameter."""
    servers: dict[str, Server] = {}
    with tempfile.TemporaryDirectory(prefix="kensaku-test-") as tmp:
        servers["_root"] = Server(Path(tmp))  # not started: holds the folder the servers' data go in
        yield servers
        for srv in servers.values():
            srv.stop()
        if "opensearch" in servers:
            drop_opensearch_indexes(servers["opensearch"].env["KENSAKU_OPENSEARCH_URL"], OPENSEARCH_PREFIX)


@pytest.fixture(scope="session")
def server(_servers: dict[str, Server], engine: str, engine_env: dict[str, str], database: str,
           request: pytest.FixtureRequest) -> Server:
    key = engine if database == "sqlite" else f"{engine}-{database}"
    srv = _servers.get(key)
    if srv is None:
        env = {**engine_env, **_database_env(request, database)}
        srv = _servers[key] = Server(_servers["_root"].data_dir / key, env).start()
    return srv


@pytest.fixture(scope="session")
def kendra(server: Server) -> Any:
    return make_client(server.url)


def state_rows(server: Server, component: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read a server's state directly, wherever it keeps it: ``component``'s SQLite file of its data folder
    (services.database.FILES), or its PostgreSQL database (a Kensaku-only view for tests)."""
    url = server.env.get("KENSAKU_DATABASE_URL")
    if url:
        import psycopg

        from services.database.postgres import translate

        with psycopg.connect(url) as conn:
            return [tuple(r) for r in conn.execute(translate(sql), params)]
    from services.database import FILES

    with closing(sqlite3.connect(server.data_dir / FILES[component])) as db:
        return list(db.execute(sql, params))


def wait_for(predicate: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def wait_active(client: Any, index_id: str) -> None:
    wait_for(lambda: client.describe_index(Id=index_id)["Status"] == "ACTIVE", what="ACTIVE index")


def wait_indexed(client: Any, index_id: str, ids: list[str], timeout: float = 60) -> list[dict[str, Any]]:
    def done() -> list[dict[str, Any]] | None:
        statuses: list[dict[str, Any]] = []
        for i in range(0, len(ids), 10):
            r = client.batch_get_document_status(
                IndexId=index_id, DocumentInfoList=[{"DocumentId": d} for d in ids[i : i + 10]]
            )
            statuses.extend(r["DocumentStatusList"])
        finished = all(s["DocumentStatus"] in ("INDEXED", "UPDATED", "FAILED") for s in statuses)
        return statuses if finished else None

    result: list[dict[str, Any]] = wait_for(done, timeout, "documents indexed")
    return result


@pytest.fixture
def new_index(kendra: Any) -> Callable[..., str]:
    """Creates an ACTIVE index (deleted after the test)."""
    created: list[str] = []

    def make(**kwargs: Any) -> str:
        index_id: str = kendra.create_index(Name=f"t-{uuid.uuid4().hex[:8]}", RoleArn=ROLE, **kwargs)["Id"]
        created.append(index_id)
        wait_active(kendra, index_id)
        return index_id

    yield make  # type: ignore[misc]
    for index_id in created:
        kendra.delete_index(Id=index_id)


def S(v: str) -> dict[str, Any]:
    """A STRING attribute value, as the Kendra API writes it."""
    return {"StringValue": v}


def attr(key: str, value: dict[str, Any]) -> dict[str, Any]:
    """A document attribute, as the Kendra API writes it."""
    return {"Key": key, "Value": value}


def text_doc(doc_id: str, text: str, title: str | None = None, lang: str | None = None,
             attributes: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"Id": doc_id, "Blob": text.encode("utf-8"), "ContentType": "PLAIN_TEXT", **extra}
    if title is not None:
        doc["Title"] = title
    attrs = list(attributes or [])
    if lang is not None:
        attrs.append({"Key": "_language_code", "Value": {"StringValue": lang}})
    if attrs:
        doc["Attributes"] = attrs
    return doc


def put_and_wait(client: Any, index_id: str, docs: list[dict[str, Any]]) -> None:
    for i in range(0, len(docs), 10):
        r = client.batch_put_document(IndexId=index_id, Documents=docs[i : i + 10])
        assert r["FailedDocuments"] == [], r["FailedDocuments"]
    statuses = wait_indexed(client, index_id, [d["Id"] for d in docs])
    assert all(s["DocumentStatus"] in ("INDEXED", "UPDATED") for s in statuses), statuses


def ids_of(response: dict[str, Any]) -> list[str]:
    return [item["DocumentId"] for item in response["ResultItems"]]
