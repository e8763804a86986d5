"""Relevance benchmark of Kensaku through the Kendra API (an unmodified boto3 ``kendra`` client).

    python bench/relevance.py [--endpoint URL] [--sets jsquad-valid,jsquad-test,xquad-en]
                              [--limit-queries N] [--mode lexical,dense,hybrid] [--fusion cc|rrf]
                              [--rescore e5] [--engine embedded,opensearch] [--opensearch-url URL]

For each set: CreateIndex (wait ACTIVE), BatchPutDocument of the whole corpus (10 documents a call, a
pool of callers), wait until BatchGetDocumentStatus says INDEXED/UPDATED for every document, then one
Query per evaluation query (PageSize 100, AttributeFilter ``_language_code`` = the query's language,
``ja`` for vue-xling) and score the DOCUMENT results with bench/metrics.py. The character-bigram BM25 of
bench/bigram_baseline.py runs on the same queries as the comparison row.

Without ``--endpoint`` a server is started here (``python -m kensaku.cli serve`` on a free port with a
temporary data directory) and stopped at the end. With ``--endpoint`` the indexes created are deleted at
the end unless ``--keep-indexes``.

Sets: jsquad-valid, jsquad-test, xquad-en, vue-xling (heading queries), vue-xling-body, vue-nlq-dev.
Sets that share a corpus (vue-xling, vue-xling-body) share one index.

Modes: one row per KENSAKU_SEARCH_MODE (lexical, dense, hybrid). Without ``--endpoint`` one server is
started per mode, each on the same data folder (the corpus is indexed once, by the first); the queries
are the same Query calls, so each row is the product's own ranking through the real API. The
embedding model is the server's (KENSAKU_EMBEDDER in this environment; default USE). The rows of
../shared/data/BASELINES.md for the set follow (measured outside the product; full sets only).
Engines: ``--engine embedded,opensearch`` measures each engine (KENSAKU_ENGINE) in turn, in the same run:
every mode's server of one engine, then the next's, each engine with its own data folder; the OpenSearch
servers use the cluster at ``--opensearch-url`` with an index prefix of their own, and its indexes are
deleted at the end (kept with ``--keep-data``, which records the engine and prefix in the folder for
``--reuse``). Each row names its engine; under each table, every metric's gap to the first engine.
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
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bigram_baseline import run_set as bigram_run_set  # noqa: E402
from harness import (  # noqa: E402
    COUNTERS,
    DEFAULT_OPENSEARCH_URL,
    ENGINES,
    BenchError,
    LoadSampler,
    LocalServer,
    call,
    chunks,
    create_index,
    delete_opensearch_indexes,
    engine_env,
    error_text,
    indexed_count,
    make_client,
    opensearch_memory,
    opensearch_prefix,
    parse_engines,
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


@dataclass
class Row:
    engine: str  # "" for rows measured outside the product
    label: str
    res: dict  # evaluate()'s result
    perf: dict  # {"docs_per_s", "query_ms"} or {}


def table_for(ds: EvalSet, rows: list[Row]) -> str:
    multi_lang = len(ds.languages()) > 1
    header = ["engine", "system", *METRIC_NAMES]
    if multi_lang:
        header += [f"nDCG@10 {lang}" for lang in ds.languages()]
    header += ["indexing docs/s", "mean query ms"]
    body = []
    for row in rows:
        res, perf = row.res, row.perf
        r = [row.engine, row.label, *(f"{res['all'][m]:.3f}" for m in METRIC_NAMES)]
        if multi_lang:
            r += [f"{res['by_lang'][lang]['nDCG@10']:.3f}" if lang in res["by_lang"] else ""
                  for lang in ds.languages()]
        r += [f"{perf['docs_per_s']:.0f}" if "docs_per_s" in perf else "",
              f"{perf['query_ms']:.1f}" if "query_ms" in perf else ""]
        body.append(r)
    return markdown_table(header, body)


def engine_gaps(ds: EvalSet, rows: list[Row], engines: list[str]) -> list[str]:
    """Per mode measured on several engines: each engine's metrics minus the first engine's."""
    by_label: dict[str, dict[str, Row]] = {}
    for row in rows:
        if row.engine in engines:
            by_label.setdefault(row.label, {})[row.engine] = row
    out = []
    for label, found in by_label.items():
        base = found.get(engines[0])
        for engine in engines[1:]:
            other = found.get(engine)
            if base is None or other is None:
                continue
            gaps = {m: other.res["all"][m] - base.res["all"][m] for m in METRIC_NAMES}
            worst = max(gaps.values(), key=abs)
            out.append(f"{label}: {engine} − {engines[0]}: "
                       + ", ".join(f"{m} {v:+.3f}" for m, v in gaps.items())
                       + f" (largest |gap| {abs(worst):.3f}{' > 0.005' if abs(worst) > 0.005 else ''})")
    return out


def baseline_rows(ds: EvalSet) -> list[Row]:
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
            rows.append(Row("", f"baseline {cells[0]}", {"all": values, "by_lang": {}}, {}))
    return rows


# ------------------------------------------------------------------------------------------- engines

ENGINE_FILE = "bench-engine.json"  # in a kept folder: which engine its servers ran on (absent: embedded)


@dataclass
class EngineRun:
    """One engine's servers in this run: their folder, the OpenSearch index prefix, the indexes made."""

    engine: str
    opensearch_url: str
    prefix: str  # KENSAKU_OPENSEARCH_INDEX_PREFIX ("" for the embedded engine)
    tmp: Path | None = None  # the servers' folder, once the first started (or the --reuse one)
    reused: bool = False
    indexes: dict[Path, tuple[str, dict]] = field(default_factory=dict)  # corpus dir -> (index id, report)
    load: str = ""  # the load average while its servers ran

    def env(self) -> dict[str, str]:
        return engine_env(self.engine, self.opensearch_url, self.prefix)


def kept_engine(folder: Path) -> dict:
    try:
        found: dict = json.loads((folder / ENGINE_FILE).read_text(encoding="utf-8"))
    except OSError:
        found = {"engine": "embedded"}
    return found


def engine_runs(engines: list[str], opensearch_url: str, reuse: list[Path]) -> list[EngineRun]:
    """An EngineRun per engine: on the --reuse folder kept for it, or fresh (a new OpenSearch prefix)."""
    kept = {kept_engine(folder)["engine"]: folder for folder in reuse}
    runs = []
    for engine in engines:
        folder = kept.get(engine)
        if folder is not None:
            info = kept_engine(folder)
            runs.append(EngineRun(engine, info.get("opensearch_url", opensearch_url), info.get("prefix", ""),
                                  tmp=folder, reused=True))
        else:
            runs.append(EngineRun(engine, opensearch_url, opensearch_prefix("rel") if engine == "opensearch" else ""))
    return runs


def finish_engine_run(run: EngineRun, keep: bool) -> None:
    """Delete the run's folder and OpenSearch indexes, or (``keep``) say where they are and record the
    engine in the folder for a later --reuse."""
    if run.tmp is None:
        return
    if keep or run.reused:
        (run.tmp / ENGINE_FILE).write_text(json.dumps(
            {"engine": run.engine, "opensearch_url": run.opensearch_url, "prefix": run.prefix}), encoding="utf-8")
        kept = f" and OpenSearch indexes {run.prefix}*" if run.prefix else ""
        print(f"# {run.engine}: data folder {run.tmp}{kept} kept", file=sys.stderr)
        return
    shutil.rmtree(run.tmp, ignore_errors=True)
    if run.prefix:
        try:
            names = delete_opensearch_indexes(run.opensearch_url, run.prefix)
            print(f"# deleted {len(names)} OpenSearch indexes {run.prefix}*", file=sys.stderr)
        except OSError as e:
            print(f"# could not delete the OpenSearch indexes {run.prefix}*: {e}", file=sys.stderr)


# ------------------------------------------------------------------------------------------- main


@dataclass
class Results:
    """What the runs found, per set: the JSON report, the table rows and the notes under each table."""

    out: dict
    rows: dict[str, list[Row]]
    notes: dict[str, list[str]]
    failures: int = 0

    def note(self, ds: EvalSet, run: EngineRun, text: str, multi: bool) -> None:
        self.notes[ds.name].append(f"{run.engine}: {text}" if multi else text)


def reused_indexes(client, datasets: list[EvalSet]) -> dict[Path, tuple[str, dict]]:
    """The indexes of a kept folder, found by name (not indexed again)."""
    by_name = {i["Name"]: i["Id"] for i in client.list_indices()["IndexConfigurationSummaryItems"]}
    return {ds.directory: (by_name[ds.index_name], {
        "documents": len(ds.docs), "passages": 0, "total_s": 0.0, "docs_per_s": 0.0, "passages_per_s": 0.0,
        "indexed_count": None, "reused": True}) for ds in datasets if ds.index_name in by_name}


def measure_set(client, endpoint: str, ds: EvalSet, m: str, run: EngineRun, args: argparse.Namespace,
                results: Results, multi: bool) -> None:
    """Index ``ds`` on the run's servers (once) and score the mode ``m`` on it."""
    try:
        if ds.directory not in run.indexes:
            run.indexes[ds.directory] = index_set(client, ds, args.put_workers, args.index_timeout)
        index_id, index_report = run.indexes[ds.directory]
    except Exception as e:  # noqa: BLE001
        results.failures += 1
        why = e if isinstance(e, BenchError) else error_text(e)
        results.note(ds, run, f"**indexing failed**: {why}", multi)
        return
    out = results.out["sets"][ds.name]["engines"].setdefault(run.engine, {"modes": {}})
    out["indexing"] = index_report
    mode = MODES[m]
    label = mode.label
    if args.rescore and m == "hybrid":
        fill = wait_rescored(endpoint, args.index_timeout)
        results.note(ds, run, f"{args.rescore} re-scoring vectors: {fill}", multi)
        label = f"{label}, {args.rescore} re-scoring"
    r = run_mode(client, index_id, ds, mode, args.query_workers)
    res = evaluate(ds, r["runs"])
    results.rows[ds.name].append(Row(run.engine, label, res, {"docs_per_s": index_report["docs_per_s"],
                                                              "query_ms": r["mean_ms"]}))
    out["modes"][m] = {k: v for k, v in r.items() if k != "runs"} | {
        "metrics": res["all"], "by_lang": res["by_lang"], "per_query": res["per_query"]}
    results.note(ds, run, f"{m}: {r['qps']:.1f} queries/s with {args.query_workers} callers, "
                 f"p50 {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms, "
                 f"{r['mean_results']:.1f} DOCUMENT results per query on average", multi)
    if r["errors"]:
        results.failures += 1
        results.note(ds, run, f"**{len(r['errors'])} queries failed** (scored as empty), first: {r['errors'][0]}",
                     multi)
    if r["wrong_lang_results"]:
        results.note(ds, run, f"**{r['wrong_lang_results']} results outside the filtered language**", multi)
    if res["duplicates"]:
        results.note(ds, run, f"**{res['duplicates']} queries had duplicate DocumentIds** (duplicates ignored)",
                     multi)
    print(f"# {ds.name} {run.engine} {m}: nDCG@10 {res['all']['nDCG@10']:.3f} R@1 {res['all']['R@1']:.3f}",
          file=sys.stderr)


def run_engine(run: EngineRun, args: argparse.Namespace, datasets: list[EvalSet], modes: list[str],
               env_extra: dict[str, str], results: Results, multi: bool) -> None:
    """Every mode on one engine: a server per mode (unless --endpoint), all on the same data folder."""
    for m in modes:
        server = None
        if not args.endpoint:
            server = LocalServer(keep_data=True, env={**run.env(), "KENSAKU_SEARCH_MODE": m, **env_extra},
                                 tmp=run.tmp)
            server.__enter__()
            run.tmp = server.tmp
        try:
            endpoint = args.endpoint or server.endpoint
            client = make_client(endpoint, pool=max(args.put_workers, args.query_workers) * 2 + 4)
            if run.reused and not run.indexes:
                run.indexes = reused_indexes(client, datasets)
            for ds in datasets:
                measure_set(client, endpoint, ds, m, run, args, results, multi)
        finally:
            if server:
                server.__exit__(None, None, None)


def print_report(datasets: list[EvalSet], runs: list[EngineRun], results: Results, args: argparse.Namespace) -> None:
    engines = [run.engine for run in runs]
    for ds in datasets:
        print(f"\n## {ds.label}: {len(ds.docs)} documents, {len(ds.queries)} queries\n")
        set_rows = list(results.rows[ds.name])
        bruns, btiming = bigram_run_set(ds)
        bres = evaluate(ds, bruns)
        set_rows.append(Row("", BIGRAM_LABEL, bres, {}))
        results.out["sets"][ds.name]["bigram"] = {"metrics": bres["all"], "by_lang": bres["by_lang"],
                                                  "timing": btiming}
        if not args.no_baselines and not args.limit_queries:
            set_rows += baseline_rows(ds)
        print(table_for(ds, set_rows))
        print()
        for engine, found in results.out["sets"][ds.name]["engines"].items():
            report = found.get("indexing")
            if report and not report.get("reused"):
                print(f"Indexing{f' ({engine})' if len(runs) > 1 else ''}: {report['documents']} documents "
                      f"({report['passages']} passages), {report['total_s']:.2f} s from the first "
                      f"BatchPutDocument to all INDEXED ({report['docs_per_s']:.0f} docs/s, "
                      f"{report['passages_per_s']:.0f} passages/s embedded); "
                      f"IndexedTextDocumentsCount {report['indexed_count']}.")
        for n in results.notes[ds.name]:
            print(f"- {n}")
        for gap in engine_gaps(ds, results.rows[ds.name], engines):
            print(f"- {gap}")
        sys.stdout.flush()
    print()
    for run in runs:
        print(f"Load average (1 min) while the {run.engine} servers ran: {run.load}")
    if "opensearch" in engines:
        print(opensearch_memory(next(r.opensearch_url for r in runs if r.engine == "opensearch")))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoint", help="Kendra endpoint URL of a running server (default: start one here)")
    ap.add_argument("--sets", default=DEFAULT_SETS, help=f"comma-separated, from {', '.join(SETS)} (%(default)s)")
    ap.add_argument("--limit-queries", type=int, default=0, help="use only the first N queries of each set")
    ap.add_argument("--mode", default="lexical,dense,hybrid",
                    help=f"comma-separated KENSAKU_SEARCH_MODE values, one server each ({', '.join(MODES)})")
    ap.add_argument("--engine", default="embedded",
                    help=f"comma-separated KENSAKU_ENGINE values, servers of each in turn ({', '.join(ENGINES)};"
                         " %(default)s); with --endpoint: the server's, as a label")
    ap.add_argument("--opensearch-url", default=DEFAULT_OPENSEARCH_URL,
                    help="the cluster of the opensearch engine's servers (%(default)s)")
    ap.add_argument("--fusion", choices=("cc", "rrf"), help="KENSAKU_HYBRID_FUSION for the servers started here")
    ap.add_argument("--rescore", choices=("e5", "use"),
                    help="KENSAKU_RESCORE_EMBEDDER for the servers started here (waits for its vectors)")
    ap.add_argument("--no-baselines", action="store_true", help="do not print the BASELINES.md rows")
    ap.add_argument("--put-workers", type=int, default=4, help="concurrent BatchPutDocument callers (4)")
    ap.add_argument("--query-workers", type=int, default=2, help="concurrent Query callers (2)")
    ap.add_argument("--index-timeout", type=float, default=1800.0, help="seconds to wait for INDEXED (1800)")
    ap.add_argument("--keep-indexes", action="store_true", help="with --endpoint: do not delete the indexes")
    ap.add_argument("--keep-data", action="store_true",
                    help="without --endpoint: keep the servers' data folders (and their OpenSearch indexes)")
    ap.add_argument("--reuse", help="without --endpoint: folders a --keep-data run kept, comma-separated, one per"
                    " engine (indexes found by name, not indexed again)")
    ap.add_argument("--json", type=Path, help="also write all numbers (and per-query metrics) to this file")
    args = ap.parse_args(argv)

    modes = [MODE_ALIASES.get(m.strip(), m.strip()) for m in args.mode.split(",") if m.strip()]
    for m in modes:
        if m not in MODES:
            ap.error(f"mode {m!r} is not implemented (available: {', '.join(MODES)})")
    try:
        engines = parse_engines(args.engine)
    except ValueError as e:
        ap.error(str(e))
    if args.endpoint and (len(modes) > 1 or len(engines) > 1):
        ap.error("with --endpoint the server's own KENSAKU_SEARCH_MODE and KENSAKU_ENGINE decide: give one --mode"
                 " and one --engine as its labels")
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

    results = Results(out={"sets": {ds.name: {"engines": {}} for ds in datasets}},
                      rows={ds.name: [] for ds in datasets}, notes={ds.name: [] for ds in datasets})
    runs = engine_runs(engines, args.opensearch_url, [Path(p) for p in (args.reuse or "").split(",") if p])
    env_extra = {"KENSAKU_HYBRID_FUSION": args.fusion} if args.fusion else {}
    if args.rescore:
        env_extra |= {"KENSAKU_RESCORE_EMBEDDER": args.rescore, "KENSAKU_EMBED_THREADS": "2"}
    try:
        for run in runs:
            try:
                with LoadSampler() as load:
                    run_engine(run, args, datasets, modes, env_extra, results, multi=len(runs) > 1)
                run.load = load.summary()
            finally:
                if not args.endpoint:
                    finish_engine_run(run, args.keep_data)
        if args.endpoint and not args.keep_indexes:
            client = make_client(args.endpoint)
            for index_id, _ in runs[0].indexes.values():
                try:
                    call(client.delete_index, Id=index_id)
                except Exception as e:  # noqa: BLE001
                    print(f"# could not delete index {index_id}: {error_text(e)}", file=sys.stderr)
    except Exception as e:  # noqa: BLE001 - report the failing step, with its traceback on stderr
        traceback.print_exc()
        print(f"\n**benchmark failed**: {e if isinstance(e, BenchError) else error_text(e)}")
        results.failures += 1

    print_report(datasets, runs, results, args)
    if COUNTERS.values:
        print(f"\nClient-side retries/errors: {COUNTERS.values}")
    if args.json:
        args.json.write_text(json.dumps(results.out, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    return 1 if results.failures else 0


if __name__ == "__main__":
    sys.exit(main())
