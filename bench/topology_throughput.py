"""Throughput of the distributed topology (docs/services.md): queries/s with 1 and with 2 API processes,
documents/s with 1 and with 2 indexer processes, on one OpenSearch cluster and one PostgreSQL database.

    python bench/topology_throughput.py [--opensearch-url URL] [--threads 1,4,8] [--seconds 15] [--rounds 2]
                                        [--indexes 4] [--docs N] [--index-rounds 2] [--keep-logs]

The processes are those of docker-compose.yml, started by tests/compose_topology.py (the harness of
tests/test_compose_topology.py): each Kensaku service's ``command`` with its ``environment`` as a local
process, Redis and PostgreSQL 15 from Debian's packages with the compose file's command line and
credentials, the three OpenSearch nodes being the cluster at ``--opensearch-url`` (``kensaku
opensearch-dev --nodes 3``). The only setting added to the compose file's is an index prefix of this run
(KENSAKU_OPENSEARCH_INDEX_PREFIX) on the shared cluster, whose indexes are deleted at the end. So embeddings
are on (the default embedder, USE), analytics go through the Redis stream to ``analytics-consumer``, and
each indexer has its default analysis workers (one per core). Every service of the compose file runs,
``worker`` and ``beat`` idle, except ``indexer-2`` while one indexer is measured.

1. Indexing. The corpora of the shared eval sets xquad-en and vue-nlq-dev (``--docs`` of them, default
   all 2,078), document i into index i mod ``--indexes``; BatchPutDocument 10 documents a call from 4
   threads, alternately through ``api-1`` and ``api-2``; timed from the first put until
   BatchGetDocumentStatus says every document is INDEXED. An index is written by one indexer at a time
   (its lease, services/index/shared.py), so two indexers can share the work only of several indexes:
   hence ``--indexes`` (default 4). With ``indexer-1`` alone (``indexer-2`` stopped), then with both, into
   fresh indexes each time, ``--index-rounds`` times (default 2); each run preceded by a warm-up (a few
   small indexes, so that every indexer's analysis workers have loaded the model) and by waiting for the
   cluster's segment merges. Which indexer took which index is read from the indexers' logs.
2. Queries. The questions of xquad-en and vue-nlq-dev, each sent to the index (of the last two-indexer run)
   holding its first judged document, filtered to its language (``_language_code``), PageSize 10, from
   ``--threads`` client threads (one boto3 client per thread and API process) for ``--seconds`` each
   after 2 s of warm-up. With 2 API processes each thread alternates between them, as a round-robin load
   balancer would. The rows are interleaved (1 API, 2 APIs; each thread count) and repeated ``--rounds``
   times, so that drift of the shared machine falls on both alike; ``api-2`` runs, idle, during the
   1-API rows.

For every row the CPU each part used is read from /proc (the process trees of the API processes, the
indexers with their analysis workers, the OpenSearch JVM, PostgreSQL, Redis, the other Kensaku services and
this client) and printed as cores, with the machine's busy share: on a machine whose cores the cluster,
the database and every process share, a second API or indexer process adds no CPU, and the ratios
measure what sharing costs, not how the roles scale.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import random
import re
import resource
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import (  # noqa: E402
    DEFAULT_OPENSEARCH_URL,
    ROLE_ARN,
    BenchError,
    LoadSampler,
    _opensearch,
    call,
    delete_opensearch_indexes,
    error_text,
    make_client,
    opensearch_prefix,
    percentile,
    process_tree,
    wait_documents_indexed,
    wait_index_active,
    wait_opensearch_merges,
)
from metrics import Doc, EvalSet, load_set, markdown_table  # noqa: E402

from services.engine.passages import split_passages  # noqa: E402
from tests.compose_topology import PG_BIN, Topology  # noqa: E402

SETS = ("xquad-en", "vue-nlq-dev")
PUT_THREADS = 4
WARMUP_SECONDS = 2.0
WARM_DOCS = 16  # per warm-up index
CLK = os.sysconf("SC_CLK_TCK")
TOOK = re.compile(r"indexer \S+ took index (\S+)")


# ------------------------------------------------------------------------------------------- data


@dataclass
class Question:
    text: str
    lang: str
    doc_id: str  # its first judged document: the query goes to the index holding it


def workload(limit: int | None) -> tuple[list[Doc], list[Question]]:
    """The documents (both corpora, interleaved) and the questions whose first judged document is among them."""
    sets: list[EvalSet] = [load_set(name) for name in SETS]
    docs: list[Doc] = []
    columns = [s.docs for s in sets]
    for i in range(max(len(c) for c in columns)):
        for column in columns:
            if i < len(column):
                d = column[i]
                docs.append(d)
    docs = docs[:limit] if limit else docs
    have = {d.id for d in docs}
    questions = []
    for s in sets:
        for q in s.queries:
            judged = sorted(s.qrels.get(q.id, {}).items(), key=lambda kv: (-kv[1], kv[0]))
            if judged and judged[0][0] in have:
                questions.append(Question(q.text, s.query_filter_lang(q), judged[0][0]))
    random.Random(16).shuffle(questions)
    return docs, questions


def warm_docs(n: int, tag: str) -> list[Doc]:
    """Documents for warm-up indexes (jsquad-valid paragraphs, which the timed runs do not use)."""
    return [Doc(f"warm-{tag}-{i}", d.title, d.text, d.lang) for i, d in enumerate(load_set("jsquad-valid").docs[:n])]


def kendra_doc(d: Doc) -> dict[str, Any]:
    return {"Id": d.id, "Title": d.title, "Blob": d.text.encode("utf-8"), "ContentType": "PLAIN_TEXT",
            "Attributes": [{"Key": "_language_code", "Value": {"StringValue": d.lang}}]}


# ------------------------------------------------------------------------------------------- CPU accounting


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def tree_cpu(pid: int | None) -> float:
    """CPU seconds of a process, its live descendants and its reaped children."""
    if pid is None:
        return 0.0
    ticks = 0
    for i, p in enumerate(process_tree(pid)):
        fields = _stat(p)
        if fields is None:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
        if i == 0:
            ticks += int(fields[13]) + int(fields[14])  # cutime, cstime: children that ended
    return ticks / CLK


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the machine since boot (all cores)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    total = sum(values[:8])
    idle = values[3] + values[4]
    return (total - idle) / CLK, total / CLK


class Parts:
    """The process trees a row's CPU is split over."""

    def __init__(self, topo: Topology, opensearch_url: str) -> None:
        self.topo = topo
        nodes = _opensearch(opensearch_url, "/_nodes/process")["nodes"]
        self.jvms = sorted({n.get("process", {}).get("id") for n in nodes.values()} - {None})
        self.postmaster: int | None = None
        if topo.pg_dir is not None:
            pidfile = topo.pg_dir / "data" / "postmaster.pid"
            self.postmaster = int(pidfile.read_text().split()[0]) if pidfile.exists() else None

    def _kensaku(self, name: str) -> float:
        process = self.topo.processes.get(name)
        return tree_cpu(process.proc.pid) if process is not None and process.running and process.proc else 0.0

    def sample(self) -> dict[str, float]:
        own = resource.getrusage(resource.RUSAGE_SELF)
        names = list(self.topo.processes)
        out = {
            "api-1": self._kensaku("api-1"),
            "api-2": self._kensaku("api-2"),
            "indexers": sum(self._kensaku(n) for n in names if n.startswith("indexer")),
            "other kensaku": sum(self._kensaku(n) for n in names
                                 if not n.startswith(("api-", "indexer"))),
            "OpenSearch": sum(tree_cpu(pid) for pid in self.jvms),
            "PostgreSQL": tree_cpu(self.postmaster),
            "Redis": tree_cpu(self.topo.redis.proc.pid if self.topo.redis and self.topo.redis.proc else None),
            "bench client": own.ru_utime + own.ru_stime,
        }
        busy, total = machine_busy()
        out["machine busy"], out["machine total"] = busy, total
        return out


PART_NAMES = ("api-1", "api-2", "indexers", "OpenSearch", "PostgreSQL", "Redis", "other kensaku", "bench client")


def cpu_delta(before: dict[str, float], after: dict[str, float], pids_restarted: bool = False) -> dict[str, float]:
    """CPU seconds of each part between two samples (a part that restarted in between counts from 0)."""
    out = {}
    for key in before:
        d = after[key] - before[key]
        out[key] = after[key] if d < 0 and pids_restarted else max(d, 0.0)
    out["rest of the machine"] = max(0.0, out["machine busy"] - sum(out[k] for k in PART_NAMES))
    return out


def cores(delta: dict[str, float], seconds: float) -> dict[str, float]:
    return {k: v / seconds for k, v in delta.items()}


# ------------------------------------------------------------------------------------------- indexing


def create_indexes(client: Any, names: list[str]) -> list[str]:
    ids = [call(client.create_index, Name=name, RoleArn=ROLE_ARN)["Id"] for name in names]
    for index_id in ids:
        wait_index_active(client, index_id)
    return ids


def put_all(clients: list[Any], work: list[tuple[str, list[Doc]]]) -> float:
    """BatchPutDocument of every (index, batch), PUT_THREADS at a time, alternating over ``clients``; seconds."""
    failed: list[str] = []

    def put(k: int) -> None:
        index_id, batch = work[k]
        try:
            resp = call(clients[k % len(clients)].batch_put_document, IndexId=index_id,
                        Documents=[kendra_doc(d) for d in batch])
        except Exception as e:  # noqa: BLE001 - reported
            failed.append(error_text(e))
            return
        failed.extend(f"{f.get('Id')}: {f.get('ErrorMessage')}" for f in resp.get("FailedDocuments") or [])

    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(PUT_THREADS) as pool:
        list(pool.map(put, range(len(work))))
    if failed:
        raise BenchError(f"{len(failed)} puts failed, first: {failed[0]}")
    return time.perf_counter() - t0


def batches(index_ids: list[str], docs: list[Doc]) -> list[tuple[str, list[Doc]]]:
    """Document i to index i mod len(index_ids), 10 a call, the calls of the indexes interleaved."""
    per_index = [[d for i, d in enumerate(docs) if i % len(index_ids) == k] for k in range(len(index_ids))]
    chunked = [[per_index[k][j:j + 10] for j in range(0, len(per_index[k]), 10)] for k in range(len(index_ids))]
    out = []
    for j in range(max(len(c) for c in chunked)):
        for k, index_id in enumerate(index_ids):
            if j < len(chunked[k]):
                out.append((index_id, chunked[k][j]))
    return out


def wait_all(client: Any, work: list[tuple[str, list[Doc]]], timeout: float) -> None:
    by_index: dict[str, list[str]] = {}
    for index_id, batch in work:
        by_index.setdefault(index_id, []).extend(d.id for d in batch)
    for index_id, ids in by_index.items():
        done = wait_documents_indexed(client, index_id, ids, timeout=timeout)
        if done["failed"] or done["pending"]:
            raise BenchError(f"index {index_id}: {len(done['failed'])} failed, {len(done['pending'])} not indexed"
                             f" after {timeout:.0f} s ({done['statuses']})")


def took(topo: Topology, index_ids: list[str]) -> dict[str, list[str]]:
    """Indexer name -> the indexes (of ``index_ids``) its log says it took."""
    wanted = set(index_ids)
    out: dict[str, list[str]] = {}
    for name, process in topo.processes.items():
        if name.startswith("indexer") and process.log.exists():
            seen = TOOK.findall(process.log.read_text(encoding="utf-8", errors="replace"))
            out[name] = sorted({i for i in seen if i in wanted}, key=index_ids.index)
    return out


@dataclass
class IndexRun:
    indexers: int
    documents: int
    passages: int
    put_s: float
    total_s: float
    cpu: dict[str, float]
    load: str
    took: dict[str, list[str]]
    index_ids: list[str]  # document i went to index_ids[i mod len]


def warm_up(topo: Topology, clients: list[Any], n_indexes: int, tag: str) -> dict[str, list[str]]:
    names = [f"warm-{tag}-{k}" for k in range(n_indexes)]
    ids = create_indexes(clients[0], names)
    work = batches(ids, warm_docs(WARM_DOCS * n_indexes, tag))
    put_all(clients, work)
    wait_all(clients[0], work, timeout=600)
    return took(topo, ids)


def index_run(topo: Topology, parts: Parts, clients: list[Any], docs: list[Doc], n_indexes: int, indexers: int,
              tag: str, prefix: str, opensearch_url: str) -> IndexRun:
    running = [n for n, p in topo.processes.items() if n.startswith("indexer") and p.running]
    print(f"# indexing with {indexers} indexer(s) ({', '.join(running)} running): warm-up", file=sys.stderr)
    warm = warm_up(topo, clients, 2 * indexers, tag)
    print(f"# warm-up indexes taken: {warm}", file=sys.stderr)
    idle = [n for n in running if not warm.get(n)]
    if idle:
        print(f"# NOTE: {idle} took no warm-up index (its workers load the model inside the timed run)",
              file=sys.stderr)
    merged = wait_opensearch_merges(opensearch_url, prefix, timeout=120)
    names = [f"{tag}-{chr(ord('a') + k)}" for k in range(n_indexes)]
    ids = create_indexes(clients[0], names)
    work = batches(ids, docs)
    print(f"# {len(docs)} documents into {n_indexes} indexes (merges waited {merged:.0f} s)", file=sys.stderr)
    before = parts.sample()
    with LoadSampler() as load:
        t0 = time.perf_counter()
        put_s = put_all(clients, work)
        wait_all(clients[1 % len(clients)], work, timeout=1800)
        total = time.perf_counter() - t0
    after = parts.sample()
    run = IndexRun(indexers, len(docs), sum(len(split_passages(d.text)) for d in docs), put_s, total,
                   cores(cpu_delta(before, after), total), load.summary(), took(topo, ids), ids)
    print(f"# {indexers} indexer(s): {len(docs)} documents in {total:.1f} s ({len(docs) / total:.1f} docs/s);"
          f" indexes taken: {run.took}", file=sys.stderr)
    return run


# ------------------------------------------------------------------------------------------- queries


@dataclass
class QueryRow:
    apis: int
    threads: int
    seconds: float = 0.0
    queries: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)  # q/s of each round
    cpu_s: dict[str, float] = field(default_factory=dict)
    loads: list[float] = field(default_factory=list)
    first_error: str = ""


def query_round(endpoints: list[str], questions: list[Question], index_of: dict[str, str], threads: int,
                seconds: float) -> tuple[int, list[float], list[str], float]:
    """``threads`` clients querying for WARMUP_SECONDS + ``seconds``; (queries, latencies, errors, window)
    of the measured window."""
    start = time.monotonic()
    begin, end = start + WARMUP_SECONDS, start + WARMUP_SECONDS + seconds
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []

    def client_thread(t: int) -> None:
        clients = [make_client(e, pool=2, read_timeout=60) for e in endpoints]
        k = t * 7919
        mine: list[float] = []
        while True:
            q = questions[k % len(questions)]
            c = clients[k % len(clients)]
            k += 1
            t0 = time.monotonic()
            if t0 >= end:
                break
            try:
                c.query(IndexId=index_of[q.doc_id], QueryText=q.text, AttributeFilter={
                    "EqualsTo": {"Key": "_language_code", "Value": {"StringValue": q.lang}}})
                ok = True
            except Exception as e:  # noqa: BLE001 - counted and reported
                ok = False
                with lock:
                    errors.append(error_text(e))
            t1 = time.monotonic()
            if t0 >= begin and t1 <= end and ok:
                mine.append((t1 - t0) * 1000)
        with lock:
            latencies.extend(mine)

    pool = [threading.Thread(target=client_thread, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    return len(latencies), latencies, errors, seconds


def query_rows(topo: Topology, parts: Parts, questions: list[Question], index_of: dict[str, str],
               threads: list[int], seconds: float, rounds: int) -> list[QueryRow]:
    urls = {n: topo.processes[n].url for n in ("api-1", "api-2")}
    rows = {(a, t): QueryRow(a, t) for a in (1, 2) for t in threads}
    for endpoint in urls.values():  # each API process: model and engine reader warm
        query_round([endpoint], questions, index_of, 2, 3.0)
    for r in range(rounds):
        for a in (1, 2):
            for t in threads:
                row = rows[(a, t)]
                endpoints = [urls["api-1"]] if a == 1 else [urls["api-1"], urls["api-2"]]
                before = parts.sample()
                t0 = time.monotonic()
                n, lat, errors, window = query_round(endpoints, questions, index_of, t, seconds)
                whole = time.monotonic() - t0
                after = parts.sample()
                delta = cpu_delta(before, after)
                # CPU over the whole round (warm-up included), scaled to the measured window.
                for key, value in delta.items():
                    row.cpu_s[key] = row.cpu_s.get(key, 0.0) + value * window / whole
                row.seconds += window
                row.queries += n
                row.errors += len(errors)
                row.first_error = row.first_error or (errors[0] if errors else "")
                row.latencies.extend(lat)
                row.rates.append(n / window)
                row.loads.append(os.getloadavg()[0])
                print(f"# round {r + 1}: {a} API, {t} threads: {n / window:.1f} q/s, p50"
                      f" {percentile(lat, 50):.1f} ms, {len(errors)} errors", file=sys.stderr)
    return list(rows.values())


# ------------------------------------------------------------------------------------------- report


def fmt(x: float, digits: int = 1) -> str:
    return f"{x:.{digits}f}"


def limits_text(opensearch_url: str) -> str:
    heap = "?"
    try:
        stats = _opensearch(opensearch_url, "/_nodes/stats/jvm")["nodes"]
        heap = f"{sum(n['jvm']['mem']['heap_max_in_bytes'] for n in stats.values()) / 2**30:.1f} GiB"
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"Machine: {os.cpu_count()} cores, {mem:.0f} GiB. The same cores run the OpenSearch cluster (3 nodes in"
            f" one JVM, heap {heap} in all), PostgreSQL, Redis, every Kensaku process and this client: a second"
            " API or indexer process adds no CPU here, so the ratios below measure the overhead and contention of"
            " more processes on the same cores, not how the roles scale on machines of their own.")


def print_report(runs: list[IndexRun], rows: list[QueryRow], args: argparse.Namespace, opensearch_url: str,
                 n_questions: int) -> None:
    print(limits_text(opensearch_url))
    print()
    print(f"Indexing: {runs[0].documents} documents ({runs[0].passages} passages) of {', '.join(SETS)} into"
          f" {args.indexes} indexes (one indexer writes an index at a time), embeddings on (USE), BatchPutDocument"
          f" 10 a call from {PUT_THREADS} threads through both API processes; first put → all INDEXED.")
    print()
    base = {1: None}
    table = []
    for run in runs:
        rate = run.documents / run.total_s
        one = base.get(1) if run.indexers == 2 else None
        if run.indexers == 1:
            base[1] = rate
        c = run.cpu
        table.append([run.indexers, fmt(run.total_s), fmt(rate), fmt(run.passages / run.total_s, 0),
                      f"{rate / one:.2f}" if one else "", fmt(run.documents / run.put_s, 0),
                      fmt(c["indexers"], 2), fmt(c["OpenSearch"], 2), fmt(c["PostgreSQL"], 2),
                      fmt(c["api-1"] + c["api-2"], 2), fmt(c["machine busy"] / (c["machine total"] or 1) * 100, 0),
                      run.load, "; ".join(f"{n}: {len(v)}" for n, v in run.took.items() if n in
                                          ([f"indexer-{i + 1}" for i in range(run.indexers)])) or "-"])
    print(markdown_table(["indexers", "s", "docs/s", "passages/s", "× 1 indexer", "puts alone docs/s",
                          "indexers' cores", "OpenSearch cores", "PostgreSQL cores", "APIs' cores", "machine busy %",
                          "load", "indexes taken"], table))
    print()
    print(f"Queries: {n_questions} questions of {', '.join(SETS)} (Query, PageSize 10, language filter, hybrid as"
          f" deployed) on the indexes of the last 2-indexer run; {args.rounds} interleaved rounds of {args.seconds:g} s"
          f" per row after {WARMUP_SECONDS:g} s of warm-up; with 2 API processes each client thread alternates"
          " between them.")
    print()
    table = []
    rates = {(r.apis, r.threads): r.queries / r.seconds for r in rows if r.seconds}
    for r in rows:
        qps = rates.get((r.apis, r.threads), 0.0)
        one = rates.get((1, r.threads))
        api_ms = (r.cpu_s.get("api-1", 0) + r.cpu_s.get("api-2", 0)) / max(r.queries, 1) * 1000
        os_ms = r.cpu_s.get("OpenSearch", 0) / max(r.queries, 1) * 1000
        busy = r.cpu_s.get("machine busy", 0) / (r.cpu_s.get("machine total") or 1) * 100
        table.append([r.apis, r.threads, r.queries, fmt(qps), " / ".join(fmt(x) for x in r.rates),
                      f"{qps / one:.2f}" if r.apis == 2 and one else "",
                      fmt(percentile(r.latencies, 50)), fmt(percentile(r.latencies, 99)), fmt(api_ms),
                      fmt(os_ms), fmt(busy, 0), " / ".join(fmt(x) for x in r.loads), r.errors])
    print(markdown_table(["API processes", "client threads", "queries", "q/s", "q/s per round", "× 1 API",
                          "p50 ms", "p99 ms", "API CPU ms/query", "OpenSearch CPU ms/query", "machine busy %",
                          "load", "errors"], table))
    print()
    print("Where the CPU went (cores used on average; 'rest of the machine' is whatever else ran). The load"
          " averages above count this run's own processes (and lag by a minute).")
    print()
    shown = [*PART_NAMES, "rest of the machine"]
    table = []
    for run in runs:
        table.append([f"indexing, {run.indexers} indexer(s)", *(fmt(run.cpu.get(k, 0), 2) for k in shown)])
    for r in rows:
        table.append([f"queries, {r.apis} API, {r.threads} threads",
                      *(fmt(r.cpu_s.get(k, 0) / max(r.seconds, 1e-9), 2) for k in shown)])
    print(markdown_table(["phase", *shown], table))
    errors = [r.first_error for r in rows if r.first_error]
    if errors:
        print(f"\nFirst query error: {errors[0]}")


# ------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--opensearch-url", default=os.environ.get("KENSAKU_TEST_OPENSEARCH_URL",
                                                                   DEFAULT_OPENSEARCH_URL))
    parser.add_argument("--threads", default="1,4,8", help="client threads of the query rows (default 1,4,8)")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured seconds per query row and round")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of the query rows")
    parser.add_argument("--indexes", type=int, default=4, help="indexes the documents are spread over")
    parser.add_argument("--docs", type=int, default=None, help="documents indexed per run (default all 2,078)")
    parser.add_argument("--index-rounds", type=int, default=2, help="times to run 1 indexer, then 2")
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs and print where")
    args = parser.parse_args(argv)
    threads = [int(t) for t in args.threads.split(",") if t.strip()]
    if shutil.which("redis-server") is None or not (PG_BIN / "initdb").exists():
        raise SystemExit("needs Debian's redis-server and PostgreSQL 15 (apt-get install redis-server postgresql-15)")

    docs, questions = workload(args.docs)
    prefix = opensearch_prefix("topology")
    work = Path(tempfile.mkdtemp(prefix="kensaku-topology-bench-"))
    topo = Topology(work, args.opensearch_url, {"KENSAKU_OPENSEARCH_INDEX_PREFIX": prefix})
    t_start = time.monotonic()
    print(f"# load average at start {os.getloadavg()[0]:.1f}; logs in {work}", file=sys.stderr)
    ok = False
    try:
        topo.start(only=[n for n, kind in topo.kinds.items() if kind == "kensaku" and n != "indexer-2"])
        print(f"# started in {time.monotonic() - t_start:.0f} s: {', '.join(topo.processes)}"
              " (indexer-2 not yet)", file=sys.stderr)
        parts = Parts(topo, args.opensearch_url)
        clients = [make_client(topo.processes[n].url) for n in ("api-1", "api-2")]
        runs: list[IndexRun] = []
        last: IndexRun | None = None
        for r in range(args.index_rounds):
            if topo.processes["indexer-2"].running:
                topo.processes["indexer-2"].stop()  # SIGTERM: its leases are given up
            runs.append(index_run(topo, parts, clients, docs, args.indexes, 1, f"one{r}", prefix,
                                  args.opensearch_url))
            topo.restart("indexer-2")
            last = index_run(topo, parts, clients, docs, args.indexes, 2, f"two{r}", prefix, args.opensearch_url)
            runs.append(last)
        assert last is not None
        index_of = {d.id: last.index_ids[i % len(last.index_ids)] for i, d in enumerate(docs)}
        merged = wait_opensearch_merges(args.opensearch_url, prefix, timeout=120)
        print(f"# queries (merges waited {merged:.0f} s)", file=sys.stderr)
        rows = query_rows(topo, parts, questions, index_of, threads, args.seconds, args.rounds)
        print(f"# whole run {time.monotonic() - t_start:.0f} s", file=sys.stderr)
        print_report(runs, rows, args, args.opensearch_url, len(questions))
        ok = True
    except BaseException:
        print(topo.logs(), file=sys.stderr)
        raise
    finally:
        topo.stop()
        try:
            delete_opensearch_indexes(args.opensearch_url, prefix)
        except OSError as e:
            print(f"# could not delete the indexes {prefix}*: {e}", file=sys.stderr)
        if args.keep_logs or not ok:
            print(f"# logs kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
