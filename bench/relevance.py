"""Relevance benchmark of Kensaku through the Kendra API (an unmodified boto3 ``kendra`` client).

    python bench/relevance.py [--endpoint URL] [--sets jsquad-valid,jsquad-test,xquad-en]
                              [--limit-queries N] [--mode lexical,dense,hybrid] [--fusion cc|rrf]
                              [--rescore e5]

For each set: CreateIndex (wait ACTIVE), BatchPutDocument of the whole corpus (10 documents a call, a
pool of callers), wait until BatchGetDocumentStatus says INDEXED/UPDATED for every document, then one
Query per evaluation query (PageSize 100, AttributeFilter ``_language_code`` = the query's language,
``ja`` for vue-xling) and score the DOCUMENT results with bench/metrics.py. The character-bigram BM25 of
bench/bigram_baseline.py runs on the same queries as the comparison row.

Without ``--endpoint`` a server is started here (``python -m services.cli serve`` on a free port with a
temporary data directory) and stopped at the end. With ``--endpoint`` the indexes created are deleted at
the end unless ``--keep-indexes``.

Sets: jsquad-valid, jsquad-test, xquad-en, vue-xling (heading queries), vue-xling-body, vue-nlq-dev.
Sets that share a corpus (vue-xling, vue-xling-body) share one index.

Modes: one row per KENSAKU_SEARCH_MODE (lexical, dense, hybrid). Without ``--endpoint`` one server is
started per mode, each on the same data folder (the corpus is indexed once, by the first); the queries
are the same Query calls, so each row is the product's own ranking through the real API. The
embedding model is the server's (KENSAKU_EMBEDDER in this environment; default USE). The rows of
../shared/data/BASELINES.md for the set follow (measured outside the product; full sets only).
With ``--rescore MODEL`` the servers re-score with that model (KENSAKU_RESCORE_EMBEDDER): queries start
once the server's /health says every passage has its vectors, and the fill rate is printed.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import shutil
import sys
import time
import traceback
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bigram_baseline import run_set as bigram_run_set  # noqa: E402
from harness import (  # noqa: E402
    COUNTERS,
    BenchError,
    LocalServer,
    call,
    chunks,
    create_index,
    error_text,
    indexed_count,
    make_client,
    percentile,
    put_documents,
    wait_documents_indexed,
)
from metrics import (  # noqa: E402
    METRIC_NAMES,
    SETS,
    EvalSet,
    Query,
    eval_dir,
    evaluate,
    load_set,
    markdown_table,
)

from services.engine.passages import split_passages  # noqa: E402

DEFAULT_SETS = "jsquad-valid,jsquad-test,xquad-en"


# ------------------------------------------------------------------------------------------- modes


def lang_filter(lang: str) -> dict:
    return {"EqualsTo": {"Key": "_language_code", "Value": {"StringValue": lang}}}


def document_ids(resp: dict) -> list[str]:
    return [item["DocumentId"] for item in resp.get("ResultItems") or [] if item.get("Type") == "DOCUMENT"]


def search_keyword(client, index_id: str, ds: EvalSet, q: Query) -> list[str]:
    resp = call(client.query, IndexId=index_id, QueryText=q.text, PageSize=100,
                AttributeFilter=lang_filter(ds.query_filter_lang(q)))
    return document_ids(resp)


@dataclass(frozen=True)
class Mode:
    label: str  # the row label
    search: Callable[..., list[str]]  # (client, index_id, ds, query) -> ranked doc ids


# One row per KENSAKU_SEARCH_MODE: the server decides how it ranks; the client sends the same Query.
MODES: dict[str, Mode] = {
    "lexical": Mode("Kensaku lexical (BM25, API)", search_keyword),
    "dense": Mode("Kensaku dense (vectors, API)", search_keyword),
    "hybrid": Mode("Kensaku hybrid (API)", search_keyword),
}
MODE_ALIASES = {"keyword": "lexical"}

BIGRAM_LABEL = "char-bigram BM25 (bench/bigram_baseline.py)"


# ------------------------------------------------------------------------------------------- indexing


def corpus_documents(ds: EvalSet):
    for doc in ds.docs:
        yield {
            "Id": doc.id,
            "Title": doc.title,
            "Blob": doc.text.encode("utf-8"),
            "ContentType": "PLAIN_TEXT",
            "Attributes": [{"Key": "_language_code", "Value": {"StringValue": doc.lang}}],
        }


def index_set(client, ds: EvalSet, workers: int, timeout: float) -> tuple[str, dict]:
    """Create an index for ``ds`` and put its corpus; returns (index id, indexing report)."""
    t0 = time.perf_counter()
    index_id = create_index(client, ds.index_name)
    t_create = time.perf_counter() - t0
    print(f"# {ds.name}: index {index_id} ACTIVE after {t_create:.2f} s; putting {len(ds.docs)} documents",
          file=sys.stderr)
    t0 = time.perf_counter()
    put = put_documents(client, index_id, chunks(corpus_documents(ds), 10), workers=workers)
    if put["errors"]:
        raise BenchError(f"{ds.name}: {len(put['errors'])} BatchPutDocument calls failed, first: {put['errors'][0]}")
    if put["failed"]:
        raise BenchError(f"{ds.name}: {len(put['failed'])} FailedDocuments, first: {put['failed'][0]}")
    wait = wait_documents_indexed(client, index_id, [d.id for d in ds.docs], timeout=timeout, workers=workers)
    total = time.perf_counter() - t0
    if wait["failed"]:
        first = next(iter(wait["failed"].values()))
        raise BenchError(f"{ds.name}: {len(wait['failed'])} documents failed to index, first: {first}")
    if wait["pending"]:
        raise BenchError(f"{ds.name}: {len(wait['pending'])} documents still not indexed after {timeout:.0f} s "
                         f"(statuses {wait['statuses']})")
    count = indexed_count(client, index_id)
    report = {
        "index_id": index_id,
        "documents": len(ds.docs),
        "create_s": t_create,
        "put_s": put["seconds"],
        "total_s": total,
        "docs_per_s": len(ds.docs) / total if total > 0 else float("inf"),
        "passages": (n_passages := sum(len(split_passages(d.text)) for d in ds.docs)),
        "passages_per_s": n_passages / total if total > 0 else float("inf"),
        "put_docs_per_s": len(ds.docs) / put["seconds"] if put["seconds"] > 0 else float("inf"),
        "indexed_count": count,
    }
    print(f"# {ds.name}: {len(ds.docs)} documents indexed in {total:.2f} s ({report['docs_per_s']:.0f} docs/s end "
          f"to end; puts alone {report['put_docs_per_s']:.0f} docs/s); IndexedTextDocumentsCount={count}",
          file=sys.stderr)
    if count is not None and count != len(ds.docs):
        print(f"# WARNING {ds.name}: IndexedTextDocumentsCount {count} != {len(ds.docs)} documents",
              file=sys.stderr)
    return index_id, report


def wait_rescored(endpoint: str, timeout: float) -> str:
    """Wait until the server's re-scoring model has embedded every passage; how long that took."""
    t0 = time.perf_counter()
    first: int | None = None
    while True:
        with urllib.request.urlopen(f"{endpoint}/health", timeout=30) as resp:
            pending = int(json.load(resp).get("rescore_pending", 0))
        first = pending if first is None else first
        seconds = time.perf_counter() - t0
        if pending == 0:
            if not first:
                return "all there already"
            return f"{first} passages filled in {seconds:.0f} s, {first / seconds:.1f} passages/s"
        if seconds > timeout:
            raise BenchError(f"{pending} passages still without re-scoring vectors after {timeout:.0f} s")
        time.sleep(2.0)


# ------------------------------------------------------------------------------------------- querying


def run_mode(client, index_id: str, ds: EvalSet, mode: Mode, workers: int) -> dict:
    runs: dict[str, list[str]] = {}
    latencies: list[float] = []
    errors: list[str] = []

    def one(q: Query) -> tuple[str, list[str] | None, float, str | None]:
        t0 = time.perf_counter()
        try:
            ids = mode.search(client, index_id, ds, q)
            return q.id, ids, time.perf_counter() - t0, None
        except Exception as e:  # noqa: BLE001 - counted and reported
            return q.id, None, time.perf_counter() - t0, error_text(e)

    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(max_workers=workers) as pool:
        for qid, ids, dt, err in pool.map(one, ds.queries):
            latencies.append(dt)
            if err is not None:
                errors.append(f"{qid}: {err}")
                runs[qid] = []
            else:
                runs[qid] = ids
    wall = time.perf_counter() - t0

    # Sanity: results outside the filtered language, empty result lists.
    lang_of = {d.id: d.lang for d in ds.docs}
    q_by_id = {q.id: q for q in ds.queries}
    wrong_lang = sum(1 for qid, ids in runs.items()
                     for d in ids if lang_of.get(d, "?") != ds.query_filter_lang(q_by_id[qid]))
    unknown = sum(1 for ids in runs.values() for d in ids if d not in lang_of)
    empty = sum(1 for ids in runs.values() if not ids)
    return {
        "runs": runs,
        "errors": errors,
        "mean_ms": 1000 * sum(latencies) / max(1, len(latencies)),
        "p50_ms": 1000 * percentile(latencies, 50),
        "p95_ms": 1000 * percentile(latencies, 95),
        "qps": len(ds.queries) / wall if wall > 0 else float("inf"),
        "wrong_lang_results": wrong_lang,
        "unknown_doc_results": unknown,
        "empty_result_lists": empty,
        "mean_results": sum(len(v) for v in runs.values()) / max(1, len(runs)),
    }


# ------------------------------------------------------------------------------------------- report


def table_for(ds: EvalSet, rows: list[tuple[str, dict, dict]]) -> str:
    """rows: (label, evaluate() result, {"docs_per_s", "query_ms"} or {})."""
    multi_lang = len(ds.languages()) > 1
    header = ["system", *METRIC_NAMES]
    if multi_lang:
        header += [f"nDCG@10 {lang}" for lang in ds.languages()]
    header += ["indexing docs/s", "mean query ms"]
    body = []
    for label, res, perf in rows:
        r = [label, *(f"{res['all'][m]:.3f}" for m in METRIC_NAMES)]
        if multi_lang:
            r += [f"{res['by_lang'][lang]['nDCG@10']:.3f}" if lang in res["by_lang"] else ""
                  for lang in ds.languages()]
        r += [f"{perf['docs_per_s']:.0f}" if "docs_per_s" in perf else "",
              f"{perf['query_ms']:.1f}" if "query_ms" in perf else ""]
        body.append(r)
    return markdown_table(header, body)


def baseline_rows(ds: EvalSet) -> list[tuple[str, dict, dict]]:
    """The rows of ../shared/data/BASELINES.md for this set (measured outside the product)."""
    path = eval_dir().parent / "BASELINES.md"
    label = {"vue-xling": "vue-xling (heading queries)", "vue-xling-body": "vue-xling (body queries)"}.get(
        ds.name, ds.name)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    rows = []
    inside = False
    for line in lines:
        if line.startswith("### "):
            inside = line[4:].startswith(label + " (")
            continue
        if inside and line.startswith("| ") and not line.startswith("| system") and not line.startswith("|---"):
            cells = [c.strip().strip("*") for c in line.strip("|").split("|")]
            try:
                values = dict(zip(METRIC_NAMES, (float(c) for c in cells[2:7]), strict=True))
            except ValueError:
                continue
            rows.append((f"baseline {cells[0]}", {"all": values, "by_lang": {}}, {}))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoint", help="Kendra endpoint URL of a running server (default: start one here)")
    ap.add_argument("--sets", default=DEFAULT_SETS, help=f"comma-separated, from {', '.join(SETS)} (%(default)s)")
    ap.add_argument("--limit-queries", type=int, default=0, help="use only the first N queries of each set")
    ap.add_argument("--mode", default="lexical,dense,hybrid",
                    help=f"comma-separated KENSAKU_SEARCH_MODE values, one server each ({', '.join(MODES)})")
    ap.add_argument("--fusion", choices=("cc", "rrf"), help="KENSAKU_HYBRID_FUSION for the servers started here")
    ap.add_argument("--rescore", choices=("e5", "use"),
                    help="KENSAKU_RESCORE_EMBEDDER for the servers started here (waits for its vectors)")
    ap.add_argument("--no-baselines", action="store_true", help="do not print the BASELINES.md rows")
    ap.add_argument("--put-workers", type=int, default=4, help="concurrent BatchPutDocument callers (4)")
    ap.add_argument("--query-workers", type=int, default=2, help="concurrent Query callers (2)")
    ap.add_argument("--index-timeout", type=float, default=1800.0, help="seconds to wait for INDEXED (1800)")
    ap.add_argument("--keep-indexes", action="store_true", help="with --endpoint: do not delete the indexes")
    ap.add_argument("--keep-data", action="store_true", help="without --endpoint: keep the server's data dir")
    ap.add_argument("--reuse", type=Path, help="without --endpoint: the folder a --keep-data run kept (indexes"
                    " found by name, not indexed again)")
    ap.add_argument("--json", type=Path, help="also write all numbers (and per-query metrics) to this file")
    args = ap.parse_args(argv)

    modes = [MODE_ALIASES.get(m.strip(), m.strip()) for m in args.mode.split(",") if m.strip()]
    for m in modes:
        if m not in MODES:
            ap.error(f"mode {m!r} is not implemented (available: {', '.join(MODES)})")
    if args.endpoint and len(modes) > 1:
        ap.error("with --endpoint the server's own KENSAKU_SEARCH_MODE decides: give one --mode as its label")
    set_names = [s.strip() for s in args.sets.split(",") if s.strip()]
    for s in set_names:
        if s not in SETS:
            ap.error(f"unknown set {s!r} (available: {', '.join(SETS)})")

    datasets = []
    for s in set_names:
        ds = load_set(s)
        if args.limit_queries and args.limit_queries > 0:
            ds.queries = ds.queries[: args.limit_queries]
        datasets.append(ds)

    out: dict = {"sets": {ds.name: {"modes": {}} for ds in datasets}}
    rows: dict[str, list[tuple[str, dict, dict]]] = {ds.name: [] for ds in datasets}
    notes: dict[str, list[str]] = {ds.name: [] for ds in datasets}
    failures = 0
    indexes: dict[Path, tuple[str, dict]] = {}  # corpus directory -> (index id, indexing report)
    tmp: Path | None = args.reuse
    env_extra = {"KENSAKU_HYBRID_FUSION": args.fusion} if args.fusion else {}
    if args.rescore:
        env_extra |= {"KENSAKU_RESCORE_EMBEDDER": args.rescore, "KENSAKU_EMBED_THREADS": "2"}
    try:
        for m in modes:
            server = None
            if not args.endpoint:  # one server per mode, all on the same data folder
                server = LocalServer(keep_data=True, env={"KENSAKU_SEARCH_MODE": m, **env_extra}, tmp=tmp)
                server.__enter__()
                tmp = server.tmp
            try:
                endpoint = args.endpoint or server.endpoint
                client = make_client(endpoint, pool=max(args.put_workers, args.query_workers) * 2 + 4)
                if args.reuse and not indexes:
                    by_name = {i["Name"]: i["Id"] for i in client.list_indices()["IndexConfigurationSummaryItems"]}
                    for ds in datasets:
                        if ds.index_name in by_name:
                            indexes[ds.directory] = (by_name[ds.index_name], {
                                "documents": len(ds.docs), "passages": 0, "total_s": 0.0, "docs_per_s": 0.0,
                                "passages_per_s": 0.0, "indexed_count": None, "reused": True})
                for ds in datasets:
                    try:
                        if ds.directory not in indexes:
                            indexes[ds.directory] = index_set(client, ds, args.put_workers, args.index_timeout)
                        index_id, index_report = indexes[ds.directory]
                    except Exception as e:  # noqa: BLE001
                        failures += 1
                        why = e if isinstance(e, BenchError) else error_text(e)
                        notes[ds.name].append(f"**indexing failed**: {why}")
                        continue
                    out["sets"][ds.name]["indexing"] = index_report
                    mode = MODES[m]
                    label = mode.label
                    if args.rescore and m == "hybrid":
                        fill = wait_rescored(endpoint, args.index_timeout)
                        notes[ds.name].append(f"{args.rescore} re-scoring vectors: {fill}")
                        label = f"{label}, {args.rescore} re-scoring"
                    r = run_mode(client, index_id, ds, mode, args.query_workers)
                    res = evaluate(ds, r["runs"])
                    rows[ds.name].append((label, res, {"docs_per_s": index_report["docs_per_s"],
                                                       "query_ms": r["mean_ms"]}))
                    out["sets"][ds.name]["modes"][m] = {k: v for k, v in r.items() if k != "runs"} | {
                        "metrics": res["all"], "by_lang": res["by_lang"], "per_query": res["per_query"]}
                    n = notes[ds.name]
                    n.append(f"{m}: {r['qps']:.1f} queries/s with {args.query_workers} callers, "
                             f"p50 {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms, "
                             f"{r['mean_results']:.1f} DOCUMENT results per query on average")
                    if r["errors"]:
                        failures += 1
                        n.append(f"**{len(r['errors'])} queries failed** (scored as empty), first: {r['errors'][0]}")
                    if r["wrong_lang_results"]:
                        n.append(f"**{r['wrong_lang_results']} results outside the filtered language**")
                    if res["duplicates"]:
                        n.append(f"**{res['duplicates']} queries had duplicate DocumentIds** (duplicates ignored)")
                    print(f"# {ds.name} {m}: nDCG@10 {res['all']['nDCG@10']:.3f} R@1 {res['all']['R@1']:.3f}",
                          file=sys.stderr)
            finally:
                if server:
                    server.__exit__(None, None, None)
        if args.endpoint and not args.keep_indexes:
            client = make_client(args.endpoint)
            for index_id, _ in indexes.values():
                try:
                    call(client.delete_index, Id=index_id)
                except Exception as e:  # noqa: BLE001
                    print(f"# could not delete index {index_id}: {error_text(e)}", file=sys.stderr)
    except Exception as e:  # noqa: BLE001 - report the failing step, with its traceback on stderr
        traceback.print_exc()
        print(f"\n**benchmark failed**: {e if isinstance(e, BenchError) else error_text(e)}")
        failures += 1
    finally:
        if tmp is not None and not args.keep_data and not args.reuse:
            shutil.rmtree(tmp, ignore_errors=True)

    for ds in datasets:
        print(f"\n## {ds.label}: {len(ds.docs)} documents, {len(ds.queries)} queries\n")
        set_rows = list(rows[ds.name])
        bruns, btiming = bigram_run_set(ds)
        bres = evaluate(ds, bruns)
        set_rows.append((BIGRAM_LABEL, bres, {}))
        out["sets"][ds.name]["bigram"] = {"metrics": bres["all"], "by_lang": bres["by_lang"], "timing": btiming}
        if not args.no_baselines and not args.limit_queries:
            set_rows += baseline_rows(ds)
        print(table_for(ds, set_rows))
        print()
        report = out["sets"][ds.name].get("indexing")
        if report and not report.get("reused"):
            print(f"Indexing: {report['documents']} documents ({report['passages']} passages), "
                  f"{report['total_s']:.2f} s from the first BatchPutDocument to all INDEXED "
                  f"({report['docs_per_s']:.0f} docs/s, "
                  f"{report['passages_per_s']:.0f} passages/s embedded); "
                  f"IndexedTextDocumentsCount {report['indexed_count']}.")
        for n in notes[ds.name]:
            print(f"- {n}")
        sys.stdout.flush()
    if COUNTERS.values:
        print(f"\nClient-side retries/errors: {COUNTERS.values}")
    if args.json:
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
