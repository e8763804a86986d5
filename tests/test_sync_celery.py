"""Distributed mode: a real redis-server (Debian package) and real Celery worker processes
(`kensaku worker`) syncing into a real server that shares their data folder."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import JA, REPO, Server, free_port, ids_of, make_client, wait_for
from tests.sync_helpers import create_source, markdown_count, metrics, sync, vue_repo, wait_job
from tests.sync_helpers import git as run_git

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="apt-get install redis-server")


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(folder)], stdout=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        wait_for(lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True,
                                        text=True).stdout.strip() == "PONG", 20, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Worker:
    """A `kensaku worker` process group (the Celery main process and its pool)."""

    def __init__(self, env: dict[str, str], concurrency: int = 2) -> None:
        log = open(Path(env["KENSAKU_DATA_DIR"]) / f"worker-{time.time_ns()}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kensaku.cli", "worker", "--concurrency", str(concurrency)],
            cwd=REPO, env={**env, "KENSAKU_LOG_LEVEL": "info"}, start_new_session=True, stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)  # the whole group: no shutdown, no acks
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="module")
def distributed(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("kensaku-celery")
    sync_env = {"KENSAKU_SYNC_MODE": "celery", "KENSAKU_SYNC_BROKER_URL": redis_url,
                "KENSAKU_SYNC_VISIBILITY_TIMEOUT": "4", "KENSAKU_SYNC_BATCH_SIZE": "5",
                "KENSAKU_SYNC_SOURCE_CONCURRENCY": "2", "KENSAKU_SYNC_SUPERVISOR_INTERVAL_SECONDS": "0.2"}
    server = Server(data, env=sync_env).start()
    worker_env = {**server.env, "KENSAKU_DATA_DIR": str(data), "KENSAKU_CONNECTOR_ENDPOINT": server.url}
    try:
        yield {"server": server, "client": make_client(server.url), "env": worker_env}
    finally:
        server.stop()


def _new_index(c: Any) -> str:
    index: str = c.create_index(Name=f"celery-{time.time_ns()}", RoleArn="arn:aws:iam::000000000000:role/kendra")["Id"]
    wait_for(lambda: c.describe_index(Id=index)["Status"] == "ACTIVE")
    return index


def test_two_celery_workers_sync_filesystem_and_gitwiki_sources(distributed: dict[str, Any], tmp_path: Path) -> None:
    c = distributed["client"]
    workers = [Worker(distributed["env"], 1), Worker(distributed["env"], 1)]
    try:
        index = _new_index(c)
        root = tmp_path / "share"
        root.mkdir()
        for i in range(12):
            (root / f"page{i:02}.txt").write_text(f"page {i} of the lemur handbook\n")
        fs = create_source(c, index, "share", "FILESYSTEM", path=str(root))
        assert metrics(sync(c, index, fs)) == {"Added": 12, "Modified": 0, "Deleted": 0, "Failed": 0, "Scanned": 12}
        assert c.query(IndexId=index, QueryText="lemur")["TotalNumberOfResults"] == 12

        (root / "page00.txt").write_text("page 0 now about tapirs\n")
        os.utime(root / "page00.txt", (time.time() + 5, time.time() + 5))
        (root / "page01.txt").unlink()
        (root / "page99.txt").write_text("a new page about tapirs\n")
        job = sync(c, index, fs)
        assert metrics(job) == {"Added": 1, "Modified": 1, "Deleted": 1, "Failed": 0, "Scanned": 12}
        assert c.query(IndexId=index, QueryText="lemur")["TotalNumberOfResults"] == 10
        assert c.query(IndexId=index, QueryText="tapirs")["TotalNumberOfResults"] == 2

        repo = vue_repo(tmp_path / "wiki", "api")
        pages = markdown_count(repo)
        git = create_source(c, index, "vue-api", "GITWIKI", repositoryUrl=str(repo))
        job = sync(c, index, git, timeout=300)
        assert metrics(job) == {"Added": pages, "Modified": 0, "Deleted": 0, "Failed": 0, "Scanned": pages}
        assert ids_of(c.query(IndexId=index, QueryText="defineComponent", AttributeFilter=JA))

        md = sorted(repo.rglob("*.md"))
        md[0].write_text(md[0].read_text() + "\n\nオカピの説明を追記。\n")
        gone = md[1].relative_to(repo).as_posix()
        run_git(repo, "rm", "-q", gone)
        (repo / "gerbil.md").write_text("# Gerbil\n\nThe gerbil page of the API docs.\n")
        run_git(repo, "add", "-A")
        run_git(repo, "commit", "-q", "-m", "edit, delete, add")
        job = sync(c, index, git)
        assert metrics(job) == {"Added": 1, "Modified": 1, "Deleted": 1, "Failed": 0, "Scanned": 2}
        assert c.query(IndexId=index, QueryText="gerbil")["TotalNumberOfResults"] == 1
        assert len(ids_of(c.query(IndexId=index, QueryText="オカピ", AttributeFilter=JA))) == 1
        assert not [i for i in ids_of(c.query(IndexId=index, QueryText="Vue", AttributeFilter=JA, PageSize=100))
                    if i.endswith("/" + gone)]
    finally:
        for w in workers:
            w.stop()


def test_killed_worker_mid_sync_ends_with_every_document_indexed_once(distributed: dict[str, Any],
                                                                     tmp_path: Path) -> None:
    c = distributed["client"]
    index = _new_index(c)
    root = tmp_path / "many"
    root.mkdir()
    total = 300
    for i in range(total):
        (root / f"doc{i:03}.txt").write_text(f"document {i} in the pangolin archive, item {i * 7919}\n")
    ds = create_source(c, index, "many", "FILESYSTEM", path=str(root))
    ex = c.start_data_source_sync_job(Id=ds, IndexId=index)["ExecutionId"]  # queued: no worker yet

    def scanned() -> int:
        job = c.list_data_source_sync_jobs(Id=ds, IndexId=index)["History"][0]
        return int(job["Metrics"]["DocumentsScanned"])

    first = Worker(distributed["env"], 1)
    try:
        wait_for(lambda: scanned() >= 20, 120, "the first worker to make progress")
    finally:
        first.kill()
    progress = scanned()
    assert progress < total, "the sync must still be running when its worker is killed"
    second = Worker(distributed["env"], 2)
    try:
        job = wait_job(c, index, ds, ex, timeout=90)
    finally:
        second.stop()
    assert job["Status"] == "SUCCEEDED", job
    assert metrics(job) == {"Added": total, "Modified": 0, "Deleted": 0, "Failed": 0, "Scanned": total}
    r = c.query(IndexId=index, QueryText="pangolin", PageSize=100)
    assert r["TotalNumberOfResults"] == total
    stats = c.describe_index(Id=index)["IndexStatistics"]["TextDocumentStatistics"]
    assert stats["IndexedTextDocumentsCount"] == total


def test_stopped_sync_resumes_without_losing_or_resending(distributed: dict[str, Any], tmp_path: Path) -> None:
    c = distributed["client"]
    index = _new_index(c)
    root = tmp_path / "stop"
    root.mkdir()
    total = 600  # large enough that the stop lands while batches remain
    for i in range(total):
        (root / f"doc{i:03}.txt").write_text(f"document {i} in the civet archive\n")
    ds = create_source(c, index, "stop", "FILESYSTEM", path=str(root))
    ex = c.start_data_source_sync_job(Id=ds, IndexId=index)["ExecutionId"]
    worker = Worker(distributed["env"], 1)
    try:
        wait_for(lambda: int(c.list_data_source_sync_jobs(Id=ds, IndexId=index)["History"][0]["Metrics"]
                             ["DocumentsScanned"]) >= 20, 120, "progress")
        c.stop_data_source_sync_job(Id=ds, IndexId=index)
        first = wait_job(c, index, ds, ex, timeout=60)
        assert first["Status"] == "ABORTED", first
        sent = int(first["Metrics"]["DocumentsAdded"])
        assert 0 < sent < total
        second = sync(c, index, ds)
    finally:
        worker.stop()
    assert second["Status"] == "SUCCEEDED", second
    # Only what the stopped job had not delivered is sent; everything else counts as scanned, unchanged.
    assert metrics(second) == {"Added": total - sent, "Modified": 0, "Deleted": 0, "Failed": 0, "Scanned": total}
    assert c.query(IndexId=index, QueryText="civet")["TotalNumberOfResults"] == total


def test_source_leases_cap_concurrent_batches_and_expire(redis_url: str) -> None:
    import redis

    from connectors.distributed import SourceLeases

    leases = SourceLeases(redis.Redis.from_url(redis_url), limit=2, ttl=10)
    assert leases.acquire("ds-a", "w1", now=100) and leases.acquire("ds-a", "w2", now=100)
    assert not leases.acquire("ds-a", "w3", now=101)  # the source's limit
    assert leases.acquire("ds-b", "w3", now=101)  # other sources are not held back
    leases.release("ds-a", "w1")
    assert leases.acquire("ds-a", "w3", now=102)
    assert not leases.acquire("ds-a", "w4", now=105)
    assert leases.acquire("ds-a", "w4", now=112.5)  # w2 and w3 died: their leases expired
