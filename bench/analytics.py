"""Query latency with analytics capture off, in-process (embedded) and over Redis, while indexing.

    python bench/analytics.py [--queries 10000] [--threads 4] [--modes off,memory,redis]

For each mode a fresh ``kensaku serve`` (``KENSAKU_ANALYTICS_CAPTURE`` = off | memory | redis; redis mode
starts a redis-server on a free port and the server consumes the stream itself) gets 300 seed documents,
then ``--queries`` Query calls (each with its own text: a common word plus a unique token, PageSize 10)
from ``--threads`` boto3 clients, while another client keeps putting documents (10 a call). After the
server has stopped (which writes every queued event) the analytics store is counted: with capture on,
every query must be there. Prints one row per mode: throughput, p50/p95/p99/mean latency, the p50 and
p99 relative to "off", and the events stored / lost.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import LocalServer, create_index, free_port, make_client, percentile  # noqa: E402
from metrics import markdown_table  # noqa: E402

WORDS = ["alpha", "beta", "gamma", "delta", "report", "policy", "travel", "budget", "expense", "review"]


def seed(client, index_id: str, n: int) -> None:
    for start in range(0, n, 10):
        client.batch_put_document(IndexId=index_id, Documents=[
            {"Id": f"seed{i}", "Blob": f"{WORDS[i % 10]} {WORDS[i * 7 % 10]} seed document {i}".encode(),
             "ContentType": "PLAIN_TEXT"} for i in range(start, min(start + 10, n))])
    deadline = time.time() + 120
    while time.time() < deadline:
        stats = client.describe_index(Id=index_id)["IndexStatistics"]["TextDocumentStatistics"]
        if stats["IndexedTextDocumentsCount"] >= n:
            return
        time.sleep(0.2)
    raise RuntimeError("seed documents not indexed")


def run_mode(mode: str, queries: int, threads: int) -> dict[str, float]:
    env = {"KENSAKU_ANALYTICS_CAPTURE": mode, "KENSAKU_LOG_LEVEL": "warning"}
    redis_proc = None
    if mode == "redis":
        port = free_port()
        redis_proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                       "--appendonly", "no"], stdout=subprocess.DEVNULL)
        time.sleep(0.5)
        env["KENSAKU_REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    latencies: list[list[float]] = [[] for _ in range(threads)]
    try:
        server = LocalServer(keep_data=True)
        with server:
            client = make_client(server.endpoint)
            index_id = create_index(client, f"bench-{mode}")
            seed(client, index_id, 300)
            stop = threading.Event()
            put = [0]

            def index() -> None:
                c = make_client(server.endpoint)
                while not stop.is_set():
                    n = put[0]
                    c.batch_put_document(IndexId=index_id, Documents=[
                        {"Id": f"d{n + i}", "Blob": f"{WORDS[(n + i) % 10]} body {n + i}".encode(),
                         "ContentType": "PLAIN_TEXT"} for i in range(10)])
                    put[0] += 10

            def search(worker: int) -> None:
                c = make_client(server.endpoint)
                for n in range(queries // threads):
                    t0 = time.perf_counter()
                    c.query(IndexId=index_id, QueryText=f"{WORDS[(worker + n) % 10]} t{worker}x{n}", PageSize=10)
                    latencies[worker].append((time.perf_counter() - t0) * 1000)

            indexer = threading.Thread(target=index)
            indexer.start()
            started = time.perf_counter()
            workers = [threading.Thread(target=search, args=(w,)) for w in range(threads)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            elapsed = time.perf_counter() - started
            stop.set()
            indexer.join()
        store = server.data_dir / "analytics.sqlite3"
        stored = 0
        if store.exists():
            with closing(sqlite3.connect(store)) as conn:
                stored = conn.execute("SELECT COUNT(*) FROM queries").fetchone()[0]
        shutil.rmtree(server.tmp, ignore_errors=True)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait()
    values = [v for per in latencies for v in per]
    return {"queries": len(values), "qps": len(values) / elapsed, "p50": percentile(values, 50),
            "p95": percentile(values, 95), "p99": percentile(values, 99), "mean": sum(values) / len(values),
            "stored": stored, "docs_put": put[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", type=int, default=10_000)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--modes", default="off,memory,redis")
    args = ap.parse_args()
    modes = [m for m in args.modes.split(",") if m != "redis" or shutil.which("redis-server")]
    results = {}
    for mode in modes:
        print(f"# mode {mode} (load average {os.getloadavg()[0]:.2f})", file=sys.stderr)
        results[mode] = run_mode(mode, args.queries, args.threads)
    base = results.get("off")
    rows = []
    for mode, r in results.items():
        lost = "-" if mode == "off" else str(r["queries"] - r["stored"])
        rel50 = f"{(r['p50'] / base['p50'] - 1) * 100:+.1f}%" if base and mode != "off" else "-"
        rel99 = f"{(r['p99'] / base['p99'] - 1) * 100:+.1f}%" if base and mode != "off" else "-"
        rows.append([mode, r["queries"], f"{r['qps']:.0f}", f"{r['p50']:.1f}", f"{r['p95']:.1f}", f"{r['p99']:.1f}",
                     f"{r['mean']:.1f}", rel50, rel99, r["docs_put"], r["stored"], lost])
    print(f"{args.queries} queries from {args.threads} threads while indexing; load average"
          f" {os.getloadavg()[0]:.2f} at the end")
    print(markdown_table(["capture", "queries", "q/s", "p50 ms", "p95 ms", "p99 ms", "mean ms", "p50 vs off",
                          "p99 vs off", "docs put meanwhile", "events stored", "lost"], rows))


if __name__ == "__main__":
    main()
