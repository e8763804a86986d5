"""Robustness of a Kensaku server against careless and hostile clients (issue 14's "Done means").

    python bench/robustness.py [--requests 2000] [--skip-fuzz] [--skip-documents]

1. Wire fuzzer: ``--requests`` raw request bodies spread over every operation of botocore's Kendra model
   (and KensakuGetTrends), drawn by tests/kendra_fuzz.py (valid and mutated shapes, deep nesting, huge
   members, invalid UTF-8, lone surrogates, NaN), derandomised. Prints requests sent / 2xx / 4xx / 5xx /
   hangs (no answer within 30 s). Goals: 0 5xx, 0 hangs.
2. Hostile documents (tests/hostile_docs.py): zip bombs in docx / xlsx / pptx, billion-laughs XML, HTML
   nested 200,000 tags deep, a PDF with a reference loop, a CSV holding one 4 MB word, in one
   BatchPutDocument; then a normal document in the same index and one in another index. Prints each
   document's final status, reason and seconds, how long the normal documents took to be INDEXED, the
   peak RSS of every analysis worker (sampled every 0.1 s, VmHWM) and the server's RSS before, at its peak
   and after. Goals: peak RSS per worker under 1 GB, normal documents INDEXED within 60 s.

Starts its own server (default settings, two analysis workers) in a temporary folder.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import (  # noqa: E402
    LocalServer,
    create_index,
    document_statuses,
    make_client,
    proc_status_kb,
    process_tree,
)

from kernel.model import operation_names  # noqa: E402
from tests.hostile_docs import hostile_set  # noqa: E402
from tests.kendra_fuzz import request_bodies  # noqa: E402

TARGET = "AWSKendraFrontendService."
HANG_SECONDS = 30.0
MIB = 1024 * 1024


# ------------------------------------------------------------------------------------------- fuzzer


def fuzz(server: LocalServer, index_id: str, requests: int) -> dict[str, int]:
    """Send about ``requests`` fuzzed bodies; count answers by class."""
    from hypothesis import HealthCheck, given, settings

    operations = [op for op in operation_names() if op != "DeleteIndex"] + ["KensakuGetTrends"]
    per_operation = max(1, requests // len(operations))
    counts = {"sent": 0, "2xx": 0, "4xx": 0, "5xx": 0, "hangs": 0}
    examples: dict[str, str] = {}
    with httpx.Client(base_url=server.endpoint, timeout=HANG_SECONDS) as http:

        def sender(operation: str) -> Any:
            @settings(max_examples=per_operation, derandomize=True, database=None, deadline=None,
                      suppress_health_check=list(HealthCheck))
            @given(request_bodies(operation, [index_id]))
            def send(body: bytes) -> None:
                counts["sent"] += 1
                try:
                    response = http.post("/", content=body, headers={
                        "X-Amz-Target": TARGET + operation, "Content-Type": "application/x-amz-json-1.1"})
                except httpx.HTTPError as error:
                    counts["hangs"] += 1
                    examples.setdefault("hang", f"{operation}: {error!r}")
                    return
                kind = f"{response.status_code // 100}xx"
                counts[kind] = counts.get(kind, 0) + 1
                if response.status_code >= 500:
                    examples.setdefault("5xx", f"{operation}: {response.text[:200]}")

            return send

        for operation in operations:
            sender(operation)()
    for kind, example in examples.items():
        print(f"# first {kind}: {example}", file=sys.stderr)
    return counts


# ------------------------------------------------------------------------------------------- memory


class RssSampler:
    """The peak RSS of every process under the server, sampled in a thread until stopped."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.peaks: dict[int, int] = {}  # pid -> peak KiB (VmHWM, which also catches spikes between samples)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in process_tree(self.server_pid):
                peak = proc_status_kb(pid, "VmHWM")
                if peak is not None:
                    self.peaks[pid] = max(self.peaks.get(pid, 0), peak)
            self._stop.wait(0.1)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def rss_mib(pid: int) -> float:
    return (proc_status_kb(pid, "VmRSS") or 0) / 1024


# ------------------------------------------------------------------------------------------- documents


def wait_final(client: Any, documents: dict[str, list[str]], since: float, timeout: float = 1800.0
               ) -> dict[tuple[str, str], tuple[str, str, float]]:
    """(index id, doc id) -> (status, reason, seconds from ``since``) as soon as each, polled together, is
    no longer PROCESSING."""
    done: dict[tuple[str, str], tuple[str, str, float]] = {}
    deadline = time.monotonic() + timeout
    total = sum(len(ids) for ids in documents.values())
    while len(done) < total and time.monotonic() < deadline:
        for index_id, doc_ids in documents.items():
            todo = [d for d in doc_ids if (index_id, d) not in done]
            for doc_id, status in document_statuses(client, index_id, todo).items():
                state = status.get("DocumentStatus", "")
                if state not in ("PROCESSING", "NOT_FOUND", ""):
                    done[index_id, doc_id] = (state, status.get("FailureReason", ""), time.monotonic() - since)
        time.sleep(0.2)
    return done


def documents(server: LocalServer) -> None:
    client = make_client(server.endpoint)
    hostile_index = create_index(client, "hostile")
    other_index = create_index(client, "other")
    assert server.pid is not None
    normal = {"Id": "normal", "Blob": b"A normal document about the quarterly report.", "ContentType": "PLAIN_TEXT"}
    # Warm up (workers load their models, writers their heaps) so that the baseline is the working one.
    for index_id in (hostile_index, other_index):
        client.batch_put_document(IndexId=index_id, Documents=[{**normal, "Id": "warm-up"}])
        wait_final(client, {index_id: ["warm-up"]}, time.monotonic())
    baseline = rss_mib(server.pid)
    hostile = hostile_set()
    with RssSampler(server.pid) as sampler:
        start = time.monotonic()
        client.batch_put_document(IndexId=hostile_index, Documents=[
            {"Id": doc_id, "Blob": blob, "ContentType": content_type} for doc_id, blob, content_type in hostile])
        queued = time.monotonic()
        client.batch_put_document(IndexId=hostile_index, Documents=[normal])
        client.batch_put_document(IndexId=other_index, Documents=[normal])
        finals = wait_final(client, {hostile_index: [d for d, _, _ in hostile] + ["normal"],
                                     other_index: ["normal"]}, start)
        time.sleep(3)
        after = rss_mib(server.pid)
    server_peak = sampler.peaks.pop(server.pid, 0) / 1024
    print("\n| hostile document | bytes sent | status | reason | seconds to status |")
    print("|---|---|---|---|---|")
    for doc_id, blob, content_type in hostile:
        state, reason, seconds = finals.get((hostile_index, doc_id), ("PROCESSING (gave up)", "", float("nan")))
        print(f"| {doc_id} ({content_type}) | {len(blob):,} | {state} | {reason[:90]} | {seconds:.1f} |")
    print("\n| normal document queued behind the set | status | seconds from its put to its status |")
    print("|---|---|---|")
    for label, index_id in (("same index", hostile_index), ("another index", other_index)):
        state, _, seconds = finals.get((index_id, "normal"), ("PROCESSING (gave up)", "", float("nan")))
        print(f"| {label} | {state} | {seconds - (queued - start):.1f} |")
    print("\n| process | peak RSS MiB |")
    print("|---|---|")
    for pid, peak in sorted(sampler.peaks.items()):
        print(f"| {_role(pid)} pid {pid} | {peak / 1024:.0f} |")
    print(f"| server: before / peak / after | {baseline:.0f} / {server_peak:.0f} / {after:.0f} |")


def _role(pid: int) -> str:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # gone: a worker replaced after a document killed it
        return "analysis worker (ended)"
    return "analysis worker" if b"multiprocessing.spawn" in cmdline else "helper process"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--skip-fuzz", action="store_true")
    parser.add_argument("--skip-documents", action="store_true")
    args = parser.parse_args()
    with LocalServer(env={"KENSAKU_ANALYSIS_WORKERS": "2"}) as server:
        if not args.skip_documents:  # first: the fuzzer creates indexes, up to the quota
            documents(server)
        if not args.skip_fuzz:
            client = make_client(server.endpoint)
            index_id = create_index(client, "fuzz")
            started = time.monotonic()
            counts = fuzz(server, index_id, args.requests)
            print("\n| wire fuzzer | requests sent | 2xx | 4xx | 5xx | hangs | seconds |")
            print("|---|---|---|---|---|---|---|")
            print(f"| every operation, valid / mutated / hostile bodies | {counts['sent']:,} | {counts['2xx']:,}"
                  f" | {counts['4xx']:,} | {counts['5xx']} | {counts['hangs']} | {time.monotonic() - started:.0f} |")


if __name__ == "__main__":
    main()
