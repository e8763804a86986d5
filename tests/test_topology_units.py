"""The distributed topology's parts without servers: index leases, the settings that refuse a topology,
the roles' refusals, and the compose harness refusing what it cannot run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import ValidationError

from services.index import shared
from services.index.store import Store
from services.settings import Settings
from tests.compose_topology import PG_BIN, ComposeError, Topology, load
from tests.conftest import REPO


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "kensaku.sqlite3")


def test_an_index_lease_is_held_by_one_indexer_until_it_expires(store: Store) -> None:
    a = shared.IndexLeases(store, "a", 10.0)
    b = shared.IndexLeases(store, "b", 10.0)
    assert a.claim("i1", now=100.0)
    assert not b.claim("i1", now=105.0)  # a holds it
    assert b.claim("i2", now=105.0)  # another index is free
    assert a.claim("i1", now=109.0)  # renewed: now until 119
    assert not b.claim("i1", now=115.0)
    assert b.claim("i1", now=120.0)  # expired: a died
    with store.write() as conn:
        assert not a.holds(conn, "i1", now=120.0)  # a's late batch is fenced off
        assert b.holds(conn, "i1", now=120.0)
    b.release_all()
    assert a.claim("i2", now=121.0) and a.claim("i1", now=121.0)


def test_the_commit_counter_counts_in_the_callers_transaction(store: Store) -> None:
    assert shared.commits(store, "i1") == 0
    for _ in range(3):
        with store.write() as conn:
            shared.note_commit(conn, "i1")
    with pytest.raises(RuntimeError), store.write() as conn:
        shared.note_commit(conn, "i1")
        raise RuntimeError("rolled back")
    assert shared.commits(store, "i1") == 3


def test_distributed_needs_the_opensearch_engine() -> None:
    with pytest.raises(ValidationError, match="one writing process"):
        Settings.model_validate({"topology": "distributed", "engine": "embedded"})
    assert Settings.model_validate({"topology": "distributed", "engine": "opensearch"}).topology == "distributed"


def _kensaku(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kensaku.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60)


def test_the_roles_refuse_the_embedded_topology(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "KENSAKU_DATA_DIR": str(tmp_path)}
    done = _kensaku("indexer", env=env)
    assert done.returncode == 2 and "KENSAKU_TOPOLOGY=distributed" in done.stderr
    done = _kensaku("serve", env={**env, "KENSAKU_TOPOLOGY": "distributed"})  # on the embedded engine
    assert done.returncode == 2 and "one writing process" in done.stderr
    beat = _kensaku("beat", env={**env, "KENSAKU_TOPOLOGY": "distributed", "KENSAKU_ENGINE": "opensearch"})
    assert beat.returncode == 2 and "KENSAKU_SYNC_MODE=celery" in beat.stderr


def test_the_harness_refuses_a_service_it_cannot_start(tmp_path: Path) -> None:
    compose = tmp_path / "docker-compose.yml"
    spec = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    spec["services"]["nginx"] = {"image": "nginx:1"}
    compose.write_text(yaml.safe_dump(spec), encoding="utf-8")
    with pytest.raises(ComposeError, match="nginx"):
        Topology(tmp_path, "http://127.0.0.1:9200", compose=compose)


def test_the_harness_maps_every_compose_address(tmp_path: Path) -> None:
    topology = Topology(tmp_path, "http://127.0.0.1:9200", database="postgresql")
    env = topology.environment("worker")
    assert env["KENSAKU_SYNC_BROKER_URL"] == f"redis://127.0.0.1:{topology.redis_port}/0"
    assert env["KENSAKU_DATABASE_URL"] == f"postgresql://kensaku:kensaku@127.0.0.1:{topology.pg_port}/kensaku"
    assert env["KENSAKU_OPENSEARCH_URL"] == "http://127.0.0.1:9200"
    assert env["KENSAKU_CONNECTOR_ENDPOINT"] == f"http://127.0.0.1:{topology.api_ports['api-1']}"
    assert env["KENSAKU_CONNECTOR_LOCAL_ROOTS"] == str(tmp_path / "shares")
    assert set(topology.api_ports) == {"api-1", "api-2"}
    services = load()
    assert {n for n, s in services.items() if "volumes" in s and s.get("image", "").startswith("kensaku")} == {
        "api-1", "api-2", "worker"}  # only the read-only shares: no Kensaku service keeps state in a volume


@pytest.mark.skipif(not (PG_BIN / "initdb").exists(), reason="needs PostgreSQL (apt-get install postgresql)")
def test_the_harness_starts_and_restarts_the_compose_postgres(tmp_path: Path) -> None:
    """The PostgreSQL of the compose file as the harness runs it: its user, password and database, and the
    restart hook of the fault test that runs once the PostgreSQL store is merged."""
    topology = Topology(tmp_path, "http://127.0.0.1:9200", database="postgresql")
    url = urlsplit(topology.environment("api-1")["KENSAKU_DATABASE_URL"])
    try:
        topology.start_postgres()
        for _ in range(2):
            ready = subprocess.run([str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(url.port),
                                    "-U", str(url.username), "-d", url.path.lstrip("/")], capture_output=True)
            assert ready.returncode == 0, ready
            topology.restart_postgres()
        dump = subprocess.run([str(PG_BIN / "pg_dump"), "--schema-only", "-h", "127.0.0.1", "-p", str(url.port),
                               "-U", str(url.username), url.path.lstrip("/")], capture_output=True, text=True,
                              env={"PGPASSWORD": str(url.password)})
        assert dump.returncode == 0, dump.stderr  # the password and database of docker-compose.yml
    finally:
        topology.stop()


def test_the_harness_starts_only_kensaku_services_of_the_compose_file(tmp_path: Path) -> None:
    """``start(only=...)`` (bench/topology_throughput.py) names Kensaku services; anything else is refused
    before a process starts."""
    topology = Topology(tmp_path, "http://127.0.0.1:9200", database="postgresql")
    for wrong in (["api-1", "redis"], ["api-1", "indexer-9"]):
        with pytest.raises(ComposeError, match="not Kensaku services"):
            topology.start(only=wrong)
    assert topology.redis is None and topology.pg_dir is None and not topology.processes
