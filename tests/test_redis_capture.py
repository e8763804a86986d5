"""Distributed-mode capture: query events over a real Redis stream (a redis-server on a free port) to a
separate ``kensaku analytics-consumer`` process."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from analytics.events import FeedbackEvent, QueryEvent, ReturnedResult
from analytics.stream import decode, encode
from tests.conftest import REPO, ROLE, Server, free_port, make_client, put_and_wait, text_doc, wait_active, wait_for
from tests.test_analytics import db_rows

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import redis

    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path_factory.mktemp("redis"))],
                            stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    wait_for(lambda: _pings(redis.Redis.from_url(url)), 10, "redis-server")
    yield url
    proc.terminate()
    proc.wait(10)


def _pings(client: Any) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


def consumer(data_dir: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "kensaku.cli", "analytics-consumer", "--data-dir", str(data_dir)],
                            cwd=REPO, env={**os.environ, **env})


def count(data_dir: Path, table: str) -> int:
    if not (data_dir / "analytics.sqlite3").exists():
        return -1
    try:
        return int(db_rows(data_dir, f"SELECT COUNT(*) FROM {table}")[0][0])
    except sqlite3.OperationalError:  # the consumer has created the file but not its tables yet
        return -1


def test_events_cross_a_redis_stream_to_a_separate_consumer_and_survive_its_crash(
        tmp_path: Path, redis_url: str) -> None:
    env = {"KENSAKU_ANALYTICS_CAPTURE": "redis", "KENSAKU_REDIS_URL": redis_url,
           "KENSAKU_ANALYTICS_STREAM": "test:crash", "KENSAKU_LOG_LEVEL": "warning"}
    api_dir, analytics_dir = tmp_path / "api", tmp_path / "analytics"
    srv = Server(api_dir, env={**env, "KENSAKU_ANALYTICS_CONSUME": "false"}).start()
    worker = consumer(analytics_dir, env)
    try:
        c = make_client(srv.url)
        index_id = c.create_index(Name="redis", RoleArn=ROLE)["Id"]
        wait_active(c, index_id)
        put_and_wait(c, index_id, [text_doc("r1", "stream of events")])
        first = [c.query(IndexId=index_id, QueryText="stream") for _ in range(20)]
        c.submit_feedback(IndexId=index_id, QueryId=first[0]["QueryId"], ClickFeedbackItems=[
            {"ResultId": first[0]["ResultItems"][0]["Id"], "ClickTime": datetime.now(UTC)}])
        wait_for(lambda: count(analytics_dir, "queries") == 20 and count(analytics_dir, "clicks") == 1, 20,
                 "events in the consumer's store")
        assert db_rows(analytics_dir, "SELECT orphaned FROM clicks") == [(0,)]
        assert count(api_dir, "queries") == 0  # the API process wrote nothing itself

        worker.kill()  # SIGKILL: events sent meanwhile wait in the stream
        worker.wait()
        for _ in range(30):
            c.query(IndexId=index_id, QueryText="events")
        worker = consumer(analytics_dir, env)
        wait_for(lambda: count(analytics_dir, "queries") == 50, 20, "events sent while the consumer was down")
    finally:
        srv.stop()
        worker.terminate()
        worker.wait(20)
    assert db_rows(analytics_dir, "SELECT COUNT(DISTINCT query_id) FROM queries") == [(50,)]


def test_queries_are_answered_when_redis_is_down(tmp_path: Path) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    srv = Server(tmp_path, env={"KENSAKU_ANALYTICS_CAPTURE": "redis", "KENSAKU_REDIS_URL": dead}).start()
    try:
        c = make_client(srv.url)
        index_id = c.create_index(Name="noredis", RoleArn=ROLE)["Id"]
        wait_active(c, index_id)
        started = time.monotonic()
        for _ in range(5):
            assert c.query(IndexId=index_id, QueryText="anything")["QueryId"]
        assert time.monotonic() - started < 30  # never waits on Redis (a generous bound, not a benchmark)
    finally:
        srv.stop()


def test_events_round_trip_through_the_stream_encoding() -> None:
    q = QueryEvent("q1", "i" * 36, 1.5, "経費 精算", "経費 精算", ("ja",), "chat", "u", '{"a": 1}', 3, 2.5,
                   (ReturnedResult("q1-r", "d1", 1),), instant_answer=True, best_confidence="LOW")
    f = FeedbackEvent("i" * 36, "q1", "q1-r", 2.0, relevance="RELEVANT")
    assert decode(encode(q)) == q and decode(encode(f)) == f
    # An entry from an older producer (no best_confidence) or a newer one (a member unknown here).
    body = json.loads(encode(q))
    del body["best_confidence"]
    assert decode(json.dumps(body).encode()) == replace(q, best_confidence=None)
    body["mood"] = "curious"
    body["results"][0]["score"] = 0.5
    assert decode(json.dumps(body).encode()) == replace(q, best_confidence=None)
