"""Shared plumbing of the benchmarks: start/stop a Kensaku server, a boto3 ``kendra`` client, index
lifecycle (create, wait ACTIVE, put documents, wait INDEXED) and small statistics helpers.

Only the public Kendra API is used (an unmodified boto3 client), so the same code runs against a server
started here (``python -m kensaku.cli serve``) or any endpoint given with ``--endpoint``.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import math
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.append(str(REPO_ROOT))  # last: bench/analytics.py is not the analytics package

from kensaku.local_server import LocalServer as _LocalServer  # noqa: E402
from kensaku.local_server import ServerFailed  # noqa: E402
from kensaku.local_server import free_port as free_port  # noqa: E402  (the benchmarks import it from here)

ROLE_ARN = "arn:aws:iam::000000000000:role/kendra"
DONE_STATUSES = {"INDEXED", "UPDATED"}
FAILED_STATUSES = {"FAILED", "UPDATE_FAILED"}
RETRYABLE_CODES = {"ThrottlingException", "ServiceQuotaExceededException"}


class BenchError(RuntimeError):
    """A benchmark step failed (usually: the server answered something unexpected)."""


# ------------------------------------------------------------------------------------------- client


def make_client(endpoint: str, pool: int = 16, read_timeout: float = 300.0):
    """A plain boto3 Kendra client. botocore's own retries are off: errors must be seen, not hidden
    (``call`` below retries throttling only, and counts it)."""
    return boto3.client(
        "kendra",
        endpoint_url=endpoint,
        region_name="ap-northeast-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(
            retries={"total_max_attempts": 1},
            max_pool_connections=pool,
            connect_timeout=10,
            read_timeout=read_timeout,
        ),
    )


class Counters:
    """Thread-safe counters (throttling retries, errors) collected while a benchmark runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.values: dict[str, int] = {}
        self.examples: dict[str, str] = {}

    def add(self, key: str, n: int = 1, example: str | None = None) -> None:
        with self._lock:
            self.values[key] = self.values.get(key, 0) + n
            if example and key not in self.examples:
                self.examples[key] = example[:500]


COUNTERS = Counters()


def call(fn: Callable[..., Any], /, retries: int = 8, **kwargs: Any) -> Any:
    """``fn(**kwargs)``, retrying only Kendra's throttling errors (with backoff); other errors raise."""
    delay = 0.1
    for attempt in range(retries + 1):
        try:
            return fn(**kwargs)
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            if code in RETRYABLE_CODES and attempt < retries:
                COUNTERS.add(f"retried {code}", example=str(e))
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            raise
    raise AssertionError("unreachable")


def error_text(e: BaseException) -> str:
    if isinstance(e, ClientError):
        err = e.response.get("Error", {})
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return f"{err.get('Code')} (HTTP {status}): {err.get('Message')}"
    return f"{type(e).__name__}: {e}"


# ------------------------------------------------------------------------------------------- server


class LocalServer(_LocalServer):
    """``<python> -m kensaku.cli serve --host 127.0.0.1 --port <free> --data-dir <tempdir>/data``
    (:class:`kensaku.local_server.LocalServer`), its output in ``<tempdir>/server.log``.

    Used as a context manager; waits until ``/health`` answers, stops the server on exit and deletes the
    folder unless ``keep_data``.
    """

    def __init__(self, ready_timeout: float = 180.0, keep_data: bool = False, extra_args: Sequence[str] = (),
                 env: dict[str, str] | None = None, tmp: Path | None = None):
        """``env``: extra KENSAKU_* settings; ``tmp``: reuse the folder (data) of an earlier server."""
        self.tmp = tmp or Path(tempfile.mkdtemp(prefix="kensaku-bench-"))
        self.settings = dict(env or {})
        super().__init__(self.tmp / "data", {"PYTHONUNBUFFERED": "1", **self.settings},
                         args=["--host", "127.0.0.1", *extra_args], ready_timeout=ready_timeout, stop_timeout=30)
        self.keep_data = keep_data
        self.log_path = self.tmp / "server.log"
        self.endpoint = self.url
        self._log: IO[bytes] | None = None
        self.returncode: int | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def __enter__(self) -> LocalServer:
        self._log = self.log_path.open("ab")
        settings = " ".join(f"{k}={v}" for k, v in self.settings.items())
        print(f"# starting server on {self.endpoint}: {settings} (log: {self.log_path})", file=sys.stderr)
        t0 = time.monotonic()
        try:
            self.start(output=self._log)
        except ServerFailed as e:
            self.__exit__(None, None, None)
            raise BenchError(f"{e}\n--- server log (tail) ---\n{self.log_tail()}") from None
        except BaseException:
            self.__exit__(None, None, None)
            raise
        print(f"# server ready after {time.monotonic() - t0:.1f} s (pid {self.pid})", file=sys.stderr)
        return self

    def log_tail(self, n: int = 40) -> str:
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n:])

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self.proc is not None:
            self.returncode = self.proc.returncode
        if self._log:
            self._log.close()
        if not self.keep_data:
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            print(f"# server data and log kept in {self.tmp}", file=sys.stderr)


# ------------------------------------------------------------------------------------------- engines

ENGINES = ("embedded", "opensearch")
DEFAULT_OPENSEARCH_URL = "http://127.0.0.1:9200"


def parse_engines(value: str) -> list[str]:
    """``--engine embedded,opensearch`` -> the engine names, in order; ValueError for an unknown one."""
    engines = [e.strip() for e in value.split(",") if e.strip()]
    for e in engines:
        if e not in ENGINES:
            raise ValueError(f"unknown engine {e!r} (available: {', '.join(ENGINES)})")
    if not engines or len(set(engines)) != len(engines):
        raise ValueError(f"give each engine once, from {', '.join(ENGINES)}")
    return engines


def opensearch_prefix(bench: str) -> str:
    """A fresh index-name prefix for one benchmark run's servers (KENSAKU_OPENSEARCH_INDEX_PREFIX)."""
    return f"kbench-{bench}-{os.getpid()}-{int(time.time())}-"


def engine_env(engine: str, opensearch_url: str, prefix: str) -> dict[str, str]:
    """The KENSAKU_* settings of a server on ``engine`` (the OpenSearch ones only for OpenSearch)."""
    if engine == "embedded":
        return {"KENSAKU_ENGINE": "embedded"}
    return {"KENSAKU_ENGINE": "opensearch", "KENSAKU_OPENSEARCH_URL": opensearch_url,
            "KENSAKU_OPENSEARCH_INDEX_PREFIX": prefix}


def _opensearch(url: str, path: str, method: str = "GET", timeout: float = 60.0) -> Any:
    req = urllib.request.Request(url.rstrip("/") + path, method=method)
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.load(resp)


def delete_opensearch_indexes(url: str, prefix: str) -> list[str]:
    """Delete every OpenSearch index named ``<prefix>*`` (one by one: clusters may refuse wildcard
    deletes); the names deleted."""
    names = [row["index"] for row in _opensearch(url, f"/_cat/indices/{prefix}*?format=json&h=index"
                                                     "&expand_wildcards=all")]
    for name in names:
        _opensearch(url, f"/{name}", method="DELETE")
    return names


def opensearch_indexes(url: str, prefix: str) -> list[dict]:
    """``_cat/indices`` rows (index, docs.count, store.size, pri, rep) of the indexes named ``<prefix>*``."""
    rows: list[dict] = _opensearch(url, f"/_cat/indices/{prefix}*?format=json&bytes=mb"
                                        "&h=index,pri,rep,docs.count,store.size&s=index")
    return rows


def opensearch_merges(url: str, prefix: str) -> int:
    """Segment merges running in the indexes named ``<prefix>*`` (every copy)."""
    stats = _opensearch(url, f"/{prefix}*/_stats/merge?filter_path=_all.total.merges.current")
    return int(stats.get("_all", {}).get("total", {}).get("merges", {}).get("current", 0))


def wait_opensearch_merges(url: str, prefix: str, timeout: float = 1800.0, poll: float = 2.0) -> float:
    """Wait until no merge runs in the indexes named ``<prefix>*`` (twice in a row: one merge may start
    another); the seconds waited. After a bulk load the cluster merges segments in the background, and
    merging vectors (rebuilding HNSW graphs) takes the CPU that queries would be timed on."""
    t0 = time.monotonic()
    quiet = 0
    while quiet < 2 and time.monotonic() - t0 < timeout:
        quiet = quiet + 1 if opensearch_merges(url, prefix) == 0 else 0
        if quiet < 2:
            time.sleep(poll)
    return time.monotonic() - t0


def opensearch_memory(url: str) -> str:
    """The cluster's JVM heap (used / max) and, when it runs on this machine, the JVM's RSS and peak RSS
    (VmHWM), one entry per JVM process (the dev cluster runs its nodes in one), as one line."""
    try:
        stats = _opensearch(url, "/_nodes/stats/jvm")["nodes"]
        info = _opensearch(url, "/_nodes/process")["nodes"]
    except OSError as e:
        return f"OpenSearch memory: n/a ({e})"
    by_pid: dict[int, list[str]] = {}
    for node_id in stats:
        by_pid.setdefault(info.get(node_id, {}).get("process", {}).get("id", -1), []).append(node_id)
    parts = []
    for pid, node_ids in sorted(by_pid.items()):
        mem = stats[node_ids[0]]["jvm"]["mem"]
        rss, hwm = proc_status_kb(pid, "VmRSS"), proc_status_kb(pid, "VmHWM")
        where = f"RSS {rss / 1024:.0f} MiB, peak RSS {(hwm or 0) / 1024:.0f} MiB" if rss else "RSS n/a"
        parts.append(f"JVM pid {pid} ({len(node_ids)} nodes): heap {mem['heap_used_in_bytes'] / 2**20:.0f}"
                     f" of {mem['heap_max_in_bytes'] / 2**20:.0f} MiB used, {where}")
    return "OpenSearch " + "; ".join(parts)


class LoadSampler:
    """The 1-minute load average, sampled every ``interval`` seconds in a thread while used as a context
    manager (other work shares the cores: every timing is printed with the load it ran under)."""

    def __init__(self, interval: float = 5.0) -> None:
        self.interval = interval
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            self.samples.append(os.getloadavg()[0])
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])

    def summary(self) -> str:
        xs = self.samples or [os.getloadavg()[0]]
        return f"{sum(xs) / len(xs):.1f} (min {min(xs):.1f}, max {max(xs):.1f})"


# ------------------------------------------------------------------------------------------- process stats


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                text = Path(f"/proc/{pid}/task/{tid}/children").read_text()
            except OSError:
                continue
            out.extend(int(c) for c in text.split())
    except OSError:
        pass
    return out


def process_tree(pid: int) -> list[int]:
    seen, todo = [], [pid]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.append(p)
        todo.extend(_children(p))
    return seen


def proc_status_kb(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def dir_size(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


# ------------------------------------------------------------------------------------------- index lifecycle


def wait_index_active(client, index_id: str, timeout: float = 300.0) -> dict:
    t0 = time.monotonic()
    while True:
        desc = call(client.describe_index, Id=index_id)
        status = desc.get("Status")
        if status == "ACTIVE":
            return desc
        if status in ("FAILED", "SYSTEM_UPDATING_FAILED") or desc.get("ErrorMessage"):
            raise BenchError(f"index {index_id} status {status}: {desc.get('ErrorMessage')}")
        if time.monotonic() - t0 > timeout:
            raise BenchError(f"index {index_id} not ACTIVE after {timeout:.0f} s (status {status})")
        time.sleep(0.1)


def create_index(client, name: str, timeout: float = 300.0) -> str:
    resp = call(client.create_index, Name=name, RoleArn=ROLE_ARN)
    index_id = resp["Id"]
    wait_index_active(client, index_id, timeout)
    return index_id


def chunks(items: Iterable[Any], n: int) -> Iterable[list[Any]]:
    batch: list[Any] = []
    for it in items:
        batch.append(it)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch


def put_documents(client, index_id: str, batches: Iterable[list[dict]], workers: int = 4,
                  on_batch: Callable[[int], None] | None = None) -> dict:
    """``batch_put_document`` for every batch (10 documents each), ``workers`` calls in flight.

    Batches are consumed lazily (at most ``2 * workers`` pending), so a generator of documents is never
    materialised. Returns {"documents", "calls", "seconds", "failed": [FailedDocuments...], "errors": [...]}.
    """
    failed: list[dict] = []
    errors: list[str] = []
    n_docs = 0
    n_calls = 0
    lock = threading.Lock()

    def put(batch: list[dict]) -> int:
        resp = call(client.batch_put_document, IndexId=index_id, Documents=batch)
        fd = resp.get("FailedDocuments") or []
        if fd:
            with lock:
                failed.extend(fd)
        return len(batch)

    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(max_workers=workers) as pool:
        pending: set[cf.Future] = set()

        def drain(block_until: int) -> None:
            nonlocal n_docs, n_calls, pending
            while len(pending) > block_until:
                done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for f in done:
                    try:
                        k = f.result()
                        n_docs += k
                        n_calls += 1
                        if on_batch:
                            on_batch(k)
                    except Exception as e:  # noqa: BLE001 - reported, not hidden
                        errors.append(error_text(e))

        for batch in batches:
            pending.add(pool.submit(put, batch))
            drain(2 * workers)
        drain(0)
    return {"documents": n_docs, "calls": n_calls, "seconds": time.perf_counter() - t0,
            "failed": failed, "errors": errors}


def document_statuses(client, index_id: str, doc_ids: Sequence[str], workers: int = 4) -> dict[str, dict]:
    """DocumentId -> status entry, via batch_get_document_status in groups of 10."""
    out: dict[str, dict] = {}
    lock = threading.Lock()

    def get(group: list[str]) -> None:
        resp = call(client.batch_get_document_status, IndexId=index_id,
                    DocumentInfoList=[{"DocumentId": d} for d in group])
        with lock:
            for st in resp.get("DocumentStatusList") or []:
                out[st["DocumentId"]] = st
            for err in resp.get("Errors") or []:
                out[err.get("DocumentId", "?")] = {"DocumentId": err.get("DocumentId"), "DocumentStatus": "ERROR",
                                                   "FailureCode": err.get("ErrorCode"),
                                                   "FailureReason": err.get("ErrorMessage")}

    with cf.ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(get, list(chunks(doc_ids, 10))))
    return out


def wait_documents_indexed(client, index_id: str, doc_ids: Sequence[str], timeout: float = 900.0,
                           workers: int = 4, poll: float = 0.2) -> dict:
    """Poll batch_get_document_status until every document is INDEXED/UPDATED (or failed).

    The server indexes in the order documents were put, so only the last ten are polled until they are
    done; then every document is checked. (Polling all of them every round would take a good part of
    the two cores the indexer is being measured on.)

    Returns {"seconds", "done": n, "failed": {id: entry}, "pending": [ids still not done at timeout],
    "statuses": {status: count} of the last round}.
    """
    t0 = time.perf_counter()
    todo = list(doc_ids)
    failed: dict[str, dict] = {}
    last_counts: dict[str, int] = {}
    tail = todo[-10:]
    while tail and time.perf_counter() - t0 < timeout:
        st = document_statuses(client, index_id, tail, workers)
        tail = [d for d in tail if st.get(d, {}).get("DocumentStatus", "MISSING") not in (
            *DONE_STATUSES, *FAILED_STATUSES, "ERROR")]
        if tail:
            time.sleep(poll)
    while todo:
        st = document_statuses(client, index_id, todo, workers)
        last_counts = {}
        nxt = []
        for d in todo:
            s = st.get(d, {}).get("DocumentStatus", "MISSING")
            last_counts[s] = last_counts.get(s, 0) + 1
            if s in DONE_STATUSES:
                continue
            if s in FAILED_STATUSES or s == "ERROR":
                failed[d] = st.get(d, {})
                continue
            nxt.append(d)
        todo = nxt
        if todo:
            if time.perf_counter() - t0 > timeout:
                break
            time.sleep(poll)
    return {"seconds": time.perf_counter() - t0, "done": len(doc_ids) - len(todo) - len(failed),
            "failed": failed, "pending": todo, "statuses": last_counts}


def indexed_count(client, index_id: str) -> int | None:
    desc = call(client.describe_index, Id=index_id)
    stats = (desc.get("IndexStatistics") or {}).get("TextDocumentStatistics") or {}
    return stats.get("IndexedTextDocumentsCount")


# ------------------------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank-with-interpolation percentile (numpy's default 'linear')."""
    if not values:
        return float("nan")
    xs = sorted(values)
    if len(xs) == 1:
        return xs[0]
    pos = (len(xs) - 1) * p / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def fmt_rate(n: float, seconds: float) -> str:
    return f"{n / seconds:.0f}" if seconds > 0 else "inf"
