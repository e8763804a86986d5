"""Evaluation sets and ranking metrics (README of shared/data, section 2).

Loads a set from ``shared/data/eval/<set>/`` (``corpus.jsonl``, ``queries.jsonl`` or another queries
file, ``qrels.tsv``) and scores ranked lists of document ids:

* nDCG@10 with gain 2^grade - 1 and log2(i + 1) discount; IDCG over the judged grades sorted descending.
* Recall@k (k = 10, 100) = |relevant & top k| / |relevant|, relevant = grade >= 1.
* MRR@10 = 1 / rank of the first relevant document in the top 10 (0 if none).
* R@1 = 1 if the first result is relevant.

Every metric is averaged over *all* queries of the set (a query without results scores 0); for sets with
more than one query language the averages per language are reported too.

The data directory is ``$KENSAKU_SHARED_DIR/data/eval`` (default ``<repo>/../shared/data/eval``).

Run ``python bench/metrics.py`` for a summary of the sets (and a self-check of the metric functions).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

METRIC_NAMES = ("R@1", "MRR@10", "nDCG@10", "R@10", "R@100")


def eval_dir() -> Path:
    """``shared/data/eval``: ``$KENSAKU_SHARED_DIR`` or ``<repo>/../shared``."""
    shared = Path(os.environ.get("KENSAKU_SHARED_DIR", REPO_ROOT.parent / "shared"))
    return shared / "data" / "eval"


# Benchmark set name -> (directory under eval/, queries file, language filter for every query or None =
# the query's own language, human-readable label).
SETS: dict[str, tuple[str, str, str | None, str]] = {
    "jsquad-valid": ("jsquad-valid", "queries.jsonl", None, "jsquad-valid"),
    "jsquad-test": ("jsquad-test", "queries.jsonl", None, "jsquad-test"),
    "xquad-en": ("xquad-en", "queries.jsonl", None, "xquad-en"),
    # Cross-lingual: English queries against the Japanese corpus, filtered to ja.
    "vue-xling": ("vue-xling", "queries.jsonl", "ja", "vue-xling (heading queries)"),
    "vue-xling-body": ("vue-xling", "queries-body.jsonl", "ja", "vue-xling (queries-body)"),
    "vue-nlq-dev": ("vue-nlq-dev", "queries.jsonl", None, "vue-nlq-dev (language-filtered)"),
}


@dataclass
class Doc:
    id: str
    title: str
    text: str
    lang: str
    url: str | None = None


@dataclass
class Query:
    id: str
    text: str
    lang: str


@dataclass
class EvalSet:
    name: str  # benchmark set name (key of SETS, or the directory name)
    label: str
    directory: Path
    docs: list[Doc]
    queries: list[Query]
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: grade}
    filter_lang: str | None = None  # None: filter each query by its own language
    extra: dict = field(default_factory=dict)

    def query_filter_lang(self, q: Query) -> str:
        """The ``_language_code`` a query is filtered on (vue-xling: ``ja`` for English queries)."""
        return self.filter_lang or q.lang

    @property
    def index_name(self) -> str:
        """A Kendra index name for this set (only ``[a-zA-Z0-9_-]``, starting alphanumeric)."""
        cleaned = "".join(c if (c.isascii() and (c.isalnum() or c in "_-")) else "-" for c in self.name)
        return cleaned.lstrip("-_") or "set"

    def languages(self) -> list[str]:
        return sorted({q.lang for q in self.queries})


def _read_jsonl(path: Path) -> list[dict]:
    out = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if not line.strip():
                continue
            qid, did, grade = line.split("\t")
            qrels.setdefault(qid, {})[did] = int(grade)
    return qrels


def load_set(name: str, queries_file: str | None = None, root: Path | None = None) -> EvalSet:
    """Load a benchmark set by name (see ``SETS``) or by directory name under eval/.

    ``queries_file`` overrides the queries file (e.g. ``queries-body.jsonl``).
    """
    root = root or eval_dir()
    if name in SETS:
        directory, qfile, filter_lang, label = SETS[name]
    else:
        directory, qfile, filter_lang, label = name, "queries.jsonl", None, name
    if queries_file:
        qfile = queries_file
        label = f"{label} [{queries_file}]"
    d = root / directory
    if not d.is_dir():
        raise FileNotFoundError(f"evaluation set not found: {d} (set KENSAKU_SHARED_DIR?)")
    docs = [Doc(r["id"], r.get("title", ""), r.get("text", ""), r["lang"], r.get("url"))
            for r in _read_jsonl(d / "corpus.jsonl")]
    queries = [Query(r["id"], r["text"], r["lang"]) for r in _read_jsonl(d / qfile)]
    qrels = load_qrels(d / "qrels.tsv")
    return EvalSet(name=name, label=label, directory=d, docs=docs, queries=queries, qrels=qrels,
                   filter_lang=filter_lang)


# --------------------------------------------------------------------------------------------- metrics


def _dedupe(ranked: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for d in ranked:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def ndcg_at(ranked: Sequence[str], judged: Mapping[str, int], k: int = 10) -> float:
    dcg = 0.0
    for i, d in enumerate(ranked[:k], start=1):
        g = judged.get(d, 0)
        if g > 0:
            dcg += (2.0 ** g - 1.0) / math.log2(i + 1)
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:k]
    idcg = sum((2.0 ** g - 1.0) / math.log2(i + 1) for i, g in enumerate(ideal, start=1))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    relevant = {d for d, g in judged.items() if g >= 1}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def mrr_at(ranked: Sequence[str], judged: Mapping[str, int], k: int = 10) -> float:
    for i, d in enumerate(ranked[:k], start=1):
        if judged.get(d, 0) >= 1:
            return 1.0 / i
    return 0.0


def r_at_1(ranked: Sequence[str], judged: Mapping[str, int]) -> float:
    return 1.0 if ranked and judged.get(ranked[0], 0) >= 1 else 0.0


def score_query(ranked: Sequence[str], judged: Mapping[str, int]) -> dict[str, float]:
    """All metrics of one query. Duplicate ids in ``ranked`` are dropped (first occurrence kept)."""
    ranked = _dedupe(ranked)
    return {
        "R@1": r_at_1(ranked, judged),
        "MRR@10": mrr_at(ranked, judged, 10),
        "nDCG@10": ndcg_at(ranked, judged, 10),
        "R@10": recall_at(ranked, judged, 10),
        "R@100": recall_at(ranked, judged, 100),
    }


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    if not rows:
        return {m: 0.0 for m in METRIC_NAMES}
    return {m: sum(r[m] for r in rows) / len(rows) for m in METRIC_NAMES}


def evaluate(ds: EvalSet, runs: Mapping[str, Sequence[str]]) -> dict:
    """Score ranked lists ``runs`` (query id -> doc ids, best first) on every query of ``ds``.

    Missing queries count as empty result lists. Returns
    ``{"all": {metric: mean}, "by_lang": {lang: {metric: mean}}, "n": n, "n_by_lang": {...},
    "per_query": {qid: {metric: value}}, "duplicates": number of queries whose list repeated an id}``.
    """
    per_query: dict[str, dict[str, float]] = {}
    by_lang_rows: dict[str, list[dict[str, float]]] = {}
    duplicates = 0
    for q in ds.queries:
        ranked = list(runs.get(q.id, []))
        if len(set(ranked)) != len(ranked):
            duplicates += 1
        s = score_query(ranked, ds.qrels.get(q.id, {}))
        per_query[q.id] = s
        by_lang_rows.setdefault(q.lang, []).append(s)
    rows = list(per_query.values())
    return {
        "all": _mean(rows),
        "by_lang": {lang: _mean(r) for lang, r in sorted(by_lang_rows.items())},
        "n": len(rows),
        "n_by_lang": {lang: len(r) for lang, r in sorted(by_lang_rows.items())},
        "per_query": per_query,
        "duplicates": duplicates,
    }


def format_metrics(m: Mapping[str, float], digits: int = 3) -> list[str]:
    return [f"{m[k]:.{digits}f}" for k in METRIC_NAMES]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(lines)


def _self_check() -> None:
    judged = {"a": 2, "b": 1}
    # Perfect ranking.
    s = score_query(["a", "b", "x"], judged)
    assert abs(s["nDCG@10"] - 1.0) < 1e-12 and s["R@1"] == 1.0 and s["MRR@10"] == 1.0, s
    # Relevant at rank 3 only (grade 1): DCG = 1/log2(4) = 0.5; IDCG = 3 + 1/log2(3).
    s = score_query(["x", "y", "b"], judged)
    assert abs(s["nDCG@10"] - 0.5 / (3 + 1 / math.log2(3))) < 1e-12, s
    assert s["MRR@10"] == 1 / 3 and s["R@1"] == 0.0 and s["R@10"] == 0.5, s
    # Relevant beyond 10, within 100.
    s = score_query([f"x{i}" for i in range(20)] + ["a"], judged)
    assert s["R@10"] == 0.0 and s["R@100"] == 0.5 and s["MRR@10"] == 0.0, s
    # Duplicates are ignored.
    s = score_query(["x", "x", "a"], judged)
    assert s["MRR@10"] == 0.5, s


def main() -> None:
    _self_check()
    print(f"eval dir: {eval_dir()}")
    rows = []
    for name in SETS:
        ds = load_set(name)
        langs = {}
        for q in ds.queries:
            langs[q.lang] = langs.get(q.lang, 0) + 1
        dlangs = {}
        for d in ds.docs:
            dlangs[d.lang] = dlangs.get(d.lang, 0) + 1
        missing = sum(1 for q in ds.queries if q.id not in ds.qrels)
        rows.append([name, len(ds.docs), dlangs, len(ds.queries), langs,
                     sum(len(v) for v in ds.qrels.values()), missing])
    print(markdown_table(["set", "docs", "doc langs", "queries", "query langs", "qrels", "queries w/o qrels"],
                         rows))


if __name__ == "__main__":
    main()
