"""Does ScoreConfidence mean what it says? Measured through the Kendra API (an unmodified boto3 client).

    python bench/confidence.py [--sets vue-nlq-dev,jsquad-valid] [--limit-queries N] [--reuse DIR]
                               [--keep-data] [--endpoint URL]

With the server's default settings (hybrid, USE; a server is started here unless ``--endpoint``), the sets'
corpora are indexed (or found by name in ``--reuse``, a folder ``--keep-data`` kept, as in
bench/relevance.py) and every query is sent as a user would (PageSize 10, ``_language_code`` = the query's
language). Printed:

* on ../shared/data/eval/no-answer-dev against the vue-nlq-dev corpus: the out-of-domain false-confidence
  rate (an ANSWER, a QUESTION_ANSWER or a HIGH / VERY_HIGH result), and the share of nonsense and
  function-word queries with no result at all;
* per set: the precision of VERY_HIGH and of HIGH+ at rank 1 (qrels grade > 0), the share of queries
  whose first result is in that bucket (coverage), how often an ANSWER comes back and how often its
  document is relevant.
Goals (issue 13): false confidence <= 10 %; nonsense 100 % empty; VERY_HIGH >= 0.90 and HIGH+ >= 0.75.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import LocalServer, call, make_client  # noqa: E402
from metrics import eval_dir, load_set  # noqa: E402
from relevance import index_set, lang_filter  # noqa: E402

STRONG = ("VERY_HIGH", "HIGH")


def ask(client: Any, index_id: str, text: str, lang: str) -> dict[str, Any]:
    r: dict[str, Any] = call(client.query, IndexId=index_id, QueryText=text, PageSize=10,
                             AttributeFilter=lang_filter(lang))
    return r


def first_bucket(r: dict[str, Any]) -> tuple[str | None, str | None]:
    """The first DOCUMENT result's id and ScoreConfidence."""
    for item in r["ResultItems"]:
        if item["Type"] == "DOCUMENT":
            return item["DocumentId"], item["ScoreAttributes"]["ScoreConfidence"]
    return None, None


def answers(r: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in r["ResultItems"] if i["Type"] in ("ANSWER", "QUESTION_ANSWER")]


def no_answer(client: Any, index_id: str) -> None:
    path = eval_dir() / "no-answer-dev" / "queries.jsonl"
    queries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    ood = [q for q in queries if q["kind"] == "out-of-domain"]
    nonsense = [q for q in queries if q["kind"] == "nonsense"]
    confident, with_results, examples = 0, 0, []
    for q in ood:
        r = ask(client, index_id, q["text"], q["lang"])
        with_results += bool(r["ResultItems"])
        strong = answers(r) or [i for i in r["ResultItems"] if i["ScoreAttributes"]["ScoreConfidence"] in STRONG]
        if strong:
            confident += 1
            examples.append(f"{q['text']} -> {strong[0]['Type']} {strong[0]['ScoreAttributes']['ScoreConfidence']}")
    empty, leaks = 0, []
    for q in nonsense:
        r = ask(client, index_id, q["text"], q["lang"])
        if r["ResultItems"]:
            leaks.append(f"{q['text']} -> {len(r['ResultItems'])} results")
        else:
            empty += 1
    print("\n## no-answer-dev against the vue-nlq-dev corpus\n")
    print("| queries | n | measure | value | goal |")
    print("|---|---|---|---|---|")
    print(f"| out-of-domain | {len(ood)} | false confidence (ANSWER or HIGH+ result) | "
          f"**{confident / len(ood):.3f}** ({confident}) | <= 0.10 |")
    print(f"| out-of-domain | {len(ood)} | with any result (all LOW / MEDIUM) | {with_results / len(ood):.3f} | |")
    share = empty / len(nonsense)
    print(f"| nonsense and function words | {len(nonsense)} | no result at all | **{share:.3f}** | 1.00 |")
    for line in examples + leaks:
        print(f"- {line}")


def in_domain(client: Any, index_id: str, name: str, limit: int) -> None:
    ds = load_set(name)
    queries = ds.queries[:limit] if limit else ds.queries
    firsts: list[tuple[str | None, bool]] = []
    answered, answer_right = 0, 0
    for q in queries:
        r = ask(client, index_id, q.text, ds.query_filter_lang(q))
        doc, bucket = first_bucket(r)
        relevant = ds.qrels.get(q.id, {})
        firsts.append((bucket, doc is not None and relevant.get(doc, 0) > 0))
        found = [i for i in r["ResultItems"] if i["Type"] == "ANSWER"]
        if found:
            answered += 1
            answer_right += relevant.get(found[0]["DocumentId"], 0) > 0
    n = len(queries)

    def row(label: str, names: tuple[str, ...], goal: str) -> str:
        chosen = [right for bucket, right in firsts if bucket in names]
        precision = f"**{sum(chosen) / len(chosen):.3f}**" if chosen else "-"
        return f"| {label} | {precision} | {len(chosen)} | {len(chosen) / n:.3f} | {goal} |"

    print(f"\n## {ds.label}: {n} queries, rank-1 result\n")
    print("| bucket | precision | results | coverage | goal |")
    print("|---|---|---|---|---|")
    print(row("VERY_HIGH", ("VERY_HIGH",), ">= 0.90"))
    print(row("HIGH+", STRONG, ">= 0.75"))
    print(row("MEDIUM", ("MEDIUM",), ">= 0.40"))
    print(row("LOW", ("LOW",), ""))
    print(f"| no result | - | {sum(b is None for b, _ in firsts)} | {sum(b is None for b, _ in firsts) / n:.3f} | |")
    right = f"{answer_right / answered:.3f}" if answered else "-"
    print(f"\nANSWER: {answered} of {n} queries ({answered / n:.3f}); its document relevant: **{right}**")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoint", help="a running server (default: start one here)")
    ap.add_argument("--sets", default="vue-nlq-dev,jsquad-valid", help="comma-separated (%(default)s)")
    ap.add_argument("--limit-queries", type=int, default=0, help="the first N queries of each set")
    ap.add_argument("--reuse", type=Path, help="a folder --keep-data kept (indexes found by name)")
    ap.add_argument("--keep-data", action="store_true", help="keep the server's data folder")
    args = ap.parse_args(argv)
    names = [s.strip() for s in args.sets.split(",") if s.strip()]
    if "vue-nlq-dev" not in names:
        names.insert(0, "vue-nlq-dev")  # no-answer-dev is searched against its corpus
    server = None
    if not args.endpoint:
        server = LocalServer(keep_data=args.keep_data or bool(args.reuse), tmp=args.reuse)
        server.__enter__()
    try:
        client = make_client(args.endpoint or server.endpoint)  # type: ignore[union-attr]
        by_name = {i["Name"]: i["Id"] for i in client.list_indices()["IndexConfigurationSummaryItems"]}
        for name in names:
            ds = load_set(name)
            index_id = by_name.get(ds.index_name) or index_set(client, ds, 4, 1800.0)[0]
            if name == "vue-nlq-dev":
                no_answer(client, index_id)
            in_domain(client, index_id, name, args.limit_queries)
    finally:
        if server is not None:
            server.__exit__(None, None, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
