"""GetQuerySuggestions latency at a large query log, through the Kendra API (boto3 ``kendra`` client).

    python bench/suggestions.py [--logged 100000] [--calls 3000]

1. Starts ``kensaku serve`` on a temp folder, creates an index.
2. Writes ``--logged`` query events straight into the server's analytics store (the same
   ``AnalyticsStore.write`` the capture thread uses; logging them through Query would take the
   bench tens of minutes). Texts: the real queries of the shared eval sets (Japanese JSQuAD, English
   XQuAD, Vue questions), each logged a Zipf-distributed number of times, from 50 visitors, all with
   results. Config: MinimumQueryCount 1, MinimumNumberOfQueryingUsers 1.
3. One call builds the suggestions (timed: the build the background refresh repeats every 30 s),
   then ``--calls`` sequential calls with prefixes of 2-8 characters cut from logged queries, plus
   the hiragana and romaji readings of the Japanese ones. Prints p50/p95/p99/mean ms per prefix kind,
   then the same calls made in-process on the handler (no HTTP, no server process): its own cost.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO))  # first: the analytics package, not bench/analytics.py

from harness import LocalServer, create_index, make_client, percentile  # noqa: E402
from metrics import markdown_table  # noqa: E402

from analytics.events import QueryEvent, ReturnedResult  # noqa: E402
from analytics.store import FILE_NAME, AnalyticsStore  # noqa: E402
from analytics.suggest_service import SuggestionService  # noqa: E402
from kernel.language import has_japanese  # noqa: E402
from services.engine.readings import reading_of  # noqa: E402

SHARED = Path(os.environ.get("KENSAKU_SHARED_DIR", REPO.parent / "shared"))
SETS = ("jsquad-valid", "jsquad-test", "xquad-en", "vue-nlq-dev")


def real_queries() -> list[str]:
    texts: list[str] = []
    for name in SETS:
        path = SHARED / "data" / "eval" / name / "queries.jsonl"
        if path.exists():
            texts.extend(json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line)
    return list(dict.fromkeys(t.strip() for t in texts if t.strip()))


def log_events(store: AnalyticsStore, index_id: str, texts: list[str], n: int, rng: random.Random) -> None:
    weights = [1 / (rank + 1) for rank in range(len(texts))]
    now = time.time()
    batch: list[QueryEvent] = []
    for chosen in rng.choices(texts, weights=weights, k=n):
        qid = str(uuid.uuid4())
        batch.append(QueryEvent(
            query_id=qid, index_id=index_id, time=now - rng.uniform(0, 86_400 * 30), query_text=chosen,
            normalized_text=QueryEvent.normalized(chosen), languages=("ja",) if has_japanese(chosen) else ("en",),
            channel="api", user_key=f"visitor-{rng.randrange(50)}", filters_json=None, total_results=5,
            latency_ms=3.0, results=(ReturnedResult(f"{qid}-r1", "doc-1", 1),),
        ))
        if len(batch) == 5000:
            store.write(batch)
            batch = []
    if batch:
        store.write(batch)


def prefixes(texts: list[str], calls: int, rng: random.Random) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    japanese = [t for t in texts if has_japanese(t)]
    english = [t for t in texts if not has_japanese(t)]
    while len(out) < calls:
        kind = len(out) % 4
        if kind == 0 and english:
            t = rng.choice(english)
            out.append(("english text", t[: rng.randint(2, 8)]))
        elif kind == 1 and japanese:
            t = rng.choice(japanese)
            out.append(("japanese text", t[: rng.randint(2, 6)]))
        elif kind == 2 and japanese:
            r = reading_of(rng.choice(japanese)).hiragana.replace(" ", "")
            out.append(("hiragana reading", r[: rng.randint(2, 8)]))
        elif japanese:
            r = reading_of(rng.choice(japanese)).romaji.replace(" ", "")
            out.append(("romaji reading", r[: rng.randint(2, 8)]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--logged", type=int, default=100_000)
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    texts = real_queries()
    rng.shuffle(texts)
    with LocalServer() as server:
        client = make_client(server.endpoint)
        index_id = create_index(client, "suggest-bench")
        client.update_query_suggestions_config(IndexId=index_id, MinimumQueryCount=1, MinimumNumberOfQueryingUsers=1)
        t0 = time.perf_counter()
        store = AnalyticsStore(server.data_dir / FILE_NAME)
        log_events(store, index_id, texts, args.logged, rng)
        store.close()
        print(f"# logged {args.logged} queries ({len(texts)} distinct texts) in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)
        t0 = time.perf_counter()
        client.get_query_suggestions(IndexId=index_id, QueryText="ab")
        build_s = time.perf_counter() - t0
        total = client.describe_query_suggestions_config(IndexId=index_id)["TotalSuggestionsCount"]
        samples: dict[str, list[float]] = {}
        found: dict[str, int] = {}
        calls = prefixes(texts, args.calls, rng)
        for kind, prefix in calls:
            t0 = time.perf_counter()
            r = client.get_query_suggestions(IndexId=index_id, QueryText=prefix)
            samples.setdefault(kind, []).append((time.perf_counter() - t0) * 1000)
            found[kind] = found.get(kind, 0) + bool(r["Suggestions"])
        # The same calls in this process, without HTTP: the handler's own cost.
        from services.settings import Settings

        service = SuggestionService(Settings(data_dir=server.data_dir), AnalyticsStore(server.data_dir / FILE_NAME),
                                    time.time, require_index=lambda _: None)
        service.get_suggestions({"IndexId": index_id, "QueryText": "ab"})
        direct: list[float] = []
        for _, prefix in calls:
            t0 = time.perf_counter()
            service.get_suggestions({"IndexId": index_id, "QueryText": prefix})
            direct.append((time.perf_counter() - t0) * 1000)
    rows = []
    for kind, values in [*samples.items(), ("all", [v for vs in samples.values() for v in vs])]:
        hits = sum(found.values()) if kind == "all" else found[kind]
        rows.append([kind, len(values), f"{hits / len(values):.0%}", f"{percentile(values, 50):.2f}",
                     f"{percentile(values, 95):.2f}", f"{percentile(values, 99):.2f}",
                     f"{sum(values) / len(values):.2f}"])
    print(f"logged queries: {args.logged}, suggestible distinct: {total}, first build (sync, in the call):"
          f" {build_s * 1000:.0f} ms; load average {os.getloadavg()[0]:.2f}")
    print(markdown_table(["prefix kind", "calls", "with suggestions", "p50 ms", "p95 ms", "p99 ms", "mean ms"], rows))
    print()
    print(markdown_table(["handler only (in-process, no HTTP)", "calls", "p50 ms", "p95 ms", "p99 ms", "mean ms"], [[
        "all", len(direct), f"{percentile(direct, 50):.2f}", f"{percentile(direct, 95):.2f}",
        f"{percentile(direct, 99):.2f}", f"{sum(direct) / len(direct):.2f}"]]))


if __name__ == "__main__":
    main()
