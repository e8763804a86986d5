"""Fit ScoreConfidence's calibration (services/query/confidence.json) on the shared dev sets.

    python bench/fit_confidence.py --data DIR [--write] [--limit-queries N]

DIR is a data folder that holds the sets' indexes (``python bench/relevance.py --keep-data`` keeps one;
the indexes are found by the set's name). The queries run in this process through the product's own
QueryService (the same code as the API, without HTTP), once with vectors (the index's embedding model)
and once with BM25 alone; for the first results of each query the evidence behind its ScoreConfidence
is recorded with whether the result is relevant (qrels grade > 0; every result of a no-answer-dev query
is irrelevant). A logistic model is fit per ranking (sets weighted equally), then each bucket's threshold
is the lowest probability at which the rank-1 precision on every fit set reaches the bucket's promise
(VERY_HIGH 0.90, HIGH 0.75, MEDIUM 0.40) plus a margin, and at which out-of-domain questions stay below
HIGH. ``related_cosine`` (the cosine a document found by the vectors alone needs) is the cosine that
the best passage of 80, 90 or 95 % of out-of-domain questions stays under, and ``min_coverage`` the
share of the query's word weight (for queries of up to 3 content words, and longer ones): together
the noise floor, chosen from the table printed (every nonsense query empty, then the fewest relevant
first results lost).

Fit sets: jsquad-valid, vue-nlq-dev, xquad-en with no-answer-dev; jsquad-test is held out and reported.
Prints tables; ``--write`` writes confidence.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from metrics import eval_dir, load_set  # noqa: E402

from services.datasources.jobs import JobTracker  # noqa: E402
from services.index.service import IndexService  # noqa: E402
from services.index.store import Store  # noqa: E402
from services.query import confidence  # noqa: E402
from services.query.confidence import FEATURES, Evidence  # noqa: E402
from services.query.service import QueryService  # noqa: E402
from services.settings import Settings  # noqa: E402

FIT_SETS = ("jsquad-valid", "vue-nlq-dev", "xquad-en", "vue-xling")
HELD_OUT = ("jsquad-test",)
TOP = 5  # results per query whose evidence is recorded
PROMISES = {"VERY_HIGH": 0.90, "HIGH": 0.75, "MEDIUM": 0.40}
MARGIN = 0.02
MAX_FALSE_CONFIDENCE = 0.08  # out-of-domain questions with a HIGH+ result, at most


@dataclass
class Row:
    set: str
    query: str
    rank: int
    evidence: Evidence
    relevant: bool
    ood: bool


class Recording(QueryService):
    """The product's QueryService, keeping the evidence it gathers for each result. Documents found by
    the vectors alone join from the model's own "unrelated" floor, so that every related cosine the
    floors table tries sees all of them."""

    last: dict[str, Evidence]

    def evidence(self, *args: Any, **kwargs: Any) -> dict[str, Evidence]:
        found = super().evidence(*args, **kwargs)
        self.last = found
        return found

    def calibration(self, vectors: bool) -> confidence.Calibration:
        judged = super().calibration(vectors)
        embedder = self.indexes.vectors.embedder
        floor = embedder.min_similarity if vectors and embedder is not None else None
        return dataclasses.replace(judged, related_cosine=floor)


@contextmanager
def services(data: Path, mode: str) -> Iterator[tuple[Store, Recording]]:
    settings = Settings(data_dir=data, search_mode=mode, analytics_capture="off")
    store = Store(data / "kensaku.sqlite3")
    indexes = IndexService(settings, store, jobs=JobTracker(store))
    try:
        yield store, Recording(indexes)
    finally:
        indexes.close()


def run(service: Recording, index_id: str, set_name: str, queries: list[tuple[str, str, str]],
        qrels: dict[str, dict[str, int]], ood: bool) -> tuple[list[Row], list[float]]:
    """The evidence of each query's first results, and the best cosine among them per query."""
    rows: list[Row] = []
    best_cosines: list[float] = []
    for qid, text, lang in queries:
        service.last = {}
        r = service.query({"IndexId": index_id, "QueryText": text, "PageSize": 100, "AttributeFilter": {
            "EqualsTo": {"Key": "_language_code", "Value": {"StringValue": lang}}}})
        docs = [i["DocumentId"] for i in r["ResultItems"] if i["Type"] == "DOCUMENT"]
        cosines = [e.cosine for e in service.last.values() if e.cosine is not None]
        best_cosines.append(max(cosines, default=-1.0))
        for n, doc in enumerate(docs):
            if doc in service.last:
                rows.append(Row(set_name, qid, n, service.last[doc], qrels.get(qid, {}).get(doc, 0) > 0, ood))
    return rows, best_cosines


def fit(rows: list[Row], l2: float = 1e-2, steps: int = 300) -> tuple[dict[str, float], float]:
    """Logistic regression by Newton's method, each set's rows weighing as much as another set's."""
    x = np.array([r.evidence.vector() for r in rows], dtype=float)
    y = np.array([1.0 if r.relevant else 0.0 for r in rows])
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.set] = counts.get(r.set, 0) + 1
    w = np.array([len(rows) / (len(counts) * counts[r.set]) for r in rows])
    keep = [i for i in range(x.shape[1]) if np.ptp(x[:, i]) > 0]  # a constant feature gets no weight
    xb = np.hstack([x[:, keep], np.ones((len(rows), 1))])
    beta = np.zeros(xb.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ beta, -50, 50)))
        grad = xb.T @ (w * (p - y)) + l2 * np.r_[beta[:-1], 0.0]
        hess = (xb * (w * p * (1 - p))[:, None]).T @ xb + l2 * np.eye(len(beta))
        step = np.linalg.solve(hess, grad)
        beta -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    weights = {FEATURES[i]: round(float(b), 4) for i, b in zip(keep, beta[:-1], strict=True)}
    return weights, round(float(beta[-1]), 4)


def thresholds(cal: confidence.Calibration, rows: list[Row]) -> dict[str, float]:
    """The lowest probability per bucket at which every fit set's rank-1 results keep the promise."""
    firsts = [r for r in rows if r.rank == 0]
    probs = {id(r): cal.probability(r.evidence) for r in firsts}
    grid = sorted({round(p, 3) for p in probs.values()} | {0.999})
    found: dict[str, float] = {}
    upper = 1.01
    for bucket in ("VERY_HIGH", "HIGH", "MEDIUM"):
        promise = PROMISES[bucket] + MARGIN
        for t in grid:
            if t >= upper:
                break
            ok = True
            for s in FIT_SETS:
                chosen = [r for r in firsts if r.set == s and not r.ood and t <= probs[id(r)] < upper]
                if chosen and sum(r.relevant for r in chosen) / len(chosen) < promise:
                    ok = False
            ood = [r for r in firsts if r.ood]
            ood_queries = {r.query for r in ood}
            if bucket != "MEDIUM" and ood_queries:
                confident = {r.query for r in ood if probs[id(r)] >= t}
                ok = ok and len(confident) / len(ood_queries) <= MAX_FALSE_CONFIDENCE
            if ok:
                found[bucket] = t
                break
        else:
            found[bucket] = upper
        # A lower bucket's precision is judged on its own band, below the bucket above it.
        upper = found[bucket] if bucket != "VERY_HIGH" else upper
    return {b: round(min(found[b], 1.0), 3) for b in ("VERY_HIGH", "HIGH", "MEDIUM")}


def report(title: str, cal: confidence.Calibration, rows: list[Row], sets: list[str]) -> None:
    print(f"\n### {title}\n")
    print("| set | queries | VERY_HIGH prec. | VERY_HIGH cover | HIGH+ prec. | HIGH+ cover | MEDIUM prec. |")
    print("|---|---|---|---|---|---|---|")
    for s in sets:
        firsts = [r for r in rows if r.set == s and r.rank == 0]
        if not firsts:
            continue
        n = len({r.query for r in rows if r.set == s})
        buckets = [(cal.bucket(r.evidence), r.relevant) for r in firsts]

        def prec(names: tuple[str, ...], buckets: list[tuple[str, bool]] = buckets) -> str:
            chosen = [rel for b, rel in buckets if b in names]
            return f"{sum(chosen) / len(chosen):.3f} ({len(chosen)})" if chosen else "-"

        def cover(names: tuple[str, ...], buckets: list[tuple[str, bool]] = buckets, n: int = n) -> str:
            return f"{sum(b in names for b, _ in buckets) / n:.3f}"

        print(f"| {s} | {n} | {prec(('VERY_HIGH',))} | {cover(('VERY_HIGH',))} | {prec(('VERY_HIGH', 'HIGH'))} | "
              f"{cover(('VERY_HIGH', 'HIGH'))} | {prec(('MEDIUM',))} |")
    ood = [r for r in rows if r.ood]
    if ood:
        queries = {r.query for r in ood}
        confident = {r.query for r in ood if cal.bucket(r.evidence) in ("VERY_HIGH", "HIGH")}
        print(f"\nno-answer-dev: {len(confident)}/{len(queries)} out-of-domain queries with results have a HIGH+ "
              f"result ({len(confident) / max(1, len(queries)):.3f})")


def no_answer_queries(kind: str) -> list[tuple[str, str, str]]:
    path = eval_dir() / "no-answer-dev" / "queries.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(q["id"], q["text"], q["lang"]) for q in rows if q["kind"] == kind]


def floors(rows: list[Row], nonsense: list[Row],
           related: list[float | None]) -> tuple[dict[str, float], float | None]:
    """What each noise floor would cost: a query none of whose results passes it finds nothing. Counted:
    in-domain queries whose first result is relevant and would be emptied, out-of-domain and nonsense
    queries that still find something. Chosen: every nonsense query empty, then the fewest relevant
    first results lost, then the fewest out-of-domain queries with a result."""
    queries: dict[tuple[str, str], list[Row]] = {}
    for r in [*rows, *nonsense]:
        queries.setdefault((r.set, r.query), []).append(r)
    print("\n| min coverage (<= 3 words / more) | related cosine | relevant first results lost |"
          " out-of-domain queries with a result | nonsense queries with a result |")
    print("|---|---|---|---|---|")
    best: tuple[tuple[int, int, int], dict[str, float], float | None] | None = None
    for short, long in ((0.3, 0.3), (0.4, 0.3), (0.4, 0.4), (0.5, 0.3)):
        for cosine in related:
            lost = ood = junk = 0
            for (name, _), found_rows in queries.items():
                kept = any(confidence.found(r.evidence, {"short": short, "long": long}, cosine) for r in found_rows)
                if name == "nonsense":
                    junk += kept
                elif found_rows[0].ood:
                    ood += kept
                elif not kept and any(r.rank == 0 and r.relevant for r in found_rows):
                    lost += 1
            n_ood = len({q for (name, q), rs in queries.items() if name != "nonsense" and rs[0].ood})
            print(f"| {short} / {long} | {cosine} | {lost} | {ood}/{n_ood} | {junk}/10 |")
            if best is None or (junk, lost, ood) < best[0]:
                best = (junk, lost, ood), {"short": short, "long": long}, cosine
    assert best is not None
    print(f"\nchosen: min coverage {best[1]}, related cosine {best[2]}")
    return best[1], best[2]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="a data folder with the sets' indexes")
    ap.add_argument("--limit-queries", type=int, default=0, help="the first N queries of each set")
    ap.add_argument("--write", action="store_true", help="write services/query/confidence.json")
    ap.add_argument("--out", type=Path, help="write the calibration here instead (KENSAKU_CONFIDENCE_CALIBRATION)")
    args = ap.parse_args(argv)

    out: dict[str, Any] = {"models": {}}
    confidence.Calibration.found = lambda self, evidence: True  # type: ignore[method-assign]  # see every result
    for mode in ("hybrid", "lexical"):
        with services(args.data, mode) as (store, service):
            by_name = {row["name"]: row["id"] for row in store.index_rows()}
            embedder = service.indexes.vectors.embedder
            model = embedder.name if mode == "hybrid" and embedder is not None else confidence.LEXICAL_MODEL
            rows: list[Row] = []
            ood_cosines: list[float] = []
            for name in (*FIT_SETS, *HELD_OUT):
                ds = load_set(name)
                queries = [(q.id, q.text, ds.query_filter_lang(q)) for q in ds.queries]
                if args.limit_queries:
                    queries = queries[: args.limit_queries]
                index_id = by_name[ds.index_name]
                found, _ = run(service, index_id, name, queries, ds.qrels, ood=False)
                rows += found
                print(f"# {mode} {name}: {len(queries)} queries, {len(found)} results", file=sys.stderr)
                if name == "vue-nlq-dev":
                    found, ood_cosines = run(service, index_id, "no-answer-dev", no_answer_queries("out-of-domain"),
                                             {}, ood=True)
                    rows += found
                    nonsense, _ = run(service, index_id, "nonsense", no_answer_queries("nonsense"), {}, ood=True)
            cosines: list[float | None] = [None] if mode == "lexical" else [round(float(np.quantile(ood_cosines, q)), 3)
                                                        for q in (0.8, 0.9, 0.95)]
            min_coverage, related = floors(rows, nonsense, cosines)
            shown = {(r.set, r.query) for r in rows if confidence.found(r.evidence, min_coverage, related)}
            rows = [r for r in rows if (r.set, r.query) in shown]  # what users see
            fit_rows = [r for r in rows if r.set in FIT_SETS]
            weights, bias = fit([r for r in fit_rows if r.rank < TOP])
            spec: dict[str, Any] = {"weights": weights, "bias": bias, "min_coverage": min_coverage}
            cal = confidence.Calibration(weights, bias, {"VERY_HIGH": 1.0, "HIGH": 1.0, "MEDIUM": 1.0},
                                         min_coverage)
            spec["thresholds"] = thresholds(cal, fit_rows)
            if related is not None:
                spec["related_cosine"] = related
            spec["fit_on"] = {"sets": [*FIT_SETS, "no-answer-dev (out-of-domain)"],
                              "results_in_first_100": len(fit_rows), "results_per_query": TOP,
                              "held_out": list(HELD_OUT)}
            out["models"][model] = spec
            cal = confidence.Calibration(weights, bias, spec["thresholds"], min_coverage)
            print(f"\n## {model} ({mode}): weights {weights}, bias {bias}, thresholds {spec['thresholds']}, "
                  f"related cosine {spec.get('related_cosine')}")
            report(f"{model}: rank-1 precision by bucket", cal, rows, [*FIT_SETS, *HELD_OUT])
            relevant = sorted(r.evidence.cosine for r in rows if r.relevant and r.evidence.cosine is not None)
            if relevant:
                print(f"\ncosine of relevant results: p10 {np.quantile(relevant, 0.1):.3f}, "
                      f"p50 {np.quantile(relevant, 0.5):.3f}; best cosine of out-of-domain queries: p50 "
                      f"{np.quantile(ood_cosines, 0.5) if ood_cosines else math.nan:.3f}, p90 "
                      f"{np.quantile(ood_cosines, 0.9) if ood_cosines else math.nan:.3f}")
    if args.write or args.out:
        path = args.out or confidence.CALIBRATION
        path.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
