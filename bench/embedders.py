"""Compare the embedding backends: passages/s on this machine and retrieval quality on a subset.

    python bench/embedders.py [--backends use,e5] [--docs 150] [--queries 150] [--threads 2]
                              [--st-model PATH]   # adds "st" (sentence-transformers) with that model

For each shared set (xquad-en, jsquad-valid, vue-nlq-dev ja+en, vue-xling) the first ``--docs``
documents (and every query whose relevant document is among them) are embedded the way the index
does it (passages of ≤ 200 tokens, title carried along; a document scores its best passage);
the table shows passages/s, ms per query (one query a call) and R@1 / nDCG@10 of dense retrieval
alone on that subset. Numbers are for choosing a default, not for comparing with BASELINES.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from metrics import evaluate, load_set, markdown_table  # noqa: E402

from services.engine.embedder import make_embedder  # noqa: E402
from services.engine.passages import embedding_text, split_passages  # noqa: E402

SETS = ("xquad-en", "jsquad-valid", "vue-nlq-dev", "vue-xling")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backends", default="use,e5")
    ap.add_argument("--docs", type=int, default=150)
    ap.add_argument("--queries", type=int, default=150)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--st-model", default="")
    args = ap.parse_args(argv)
    backends = [b for b in args.backends.split(",") if b] + (["st"] if args.st_model else [])
    rows = []
    for kind in backends:
        embedder = make_embedder(kind, args.st_model, 64, args.threads)
        assert embedder is not None
        t = time.perf_counter()
        embedder.warm_up()
        load_s = time.perf_counter() - t
        total_passages, total_s, query_ms = 0, 0.0, []
        for name in SETS:
            ds = load_set(name)
            docs = ds.docs[: args.docs]
            ids = {d.id for d in docs}
            ds.queries = [q for q in ds.queries if any(d in ids for d in ds.qrels.get(q.id, {}))][: args.queries]
            texts, owner = [], []
            for n, d in enumerate(docs):
                for p in split_passages(d.text):
                    texts.append(embedding_text(d.title, p.text))
                    owner.append(n)
            t = time.perf_counter()
            vectors = embedder.embed_passages(texts)
            total_s += time.perf_counter() - t
            total_passages += len(texts)
            owners = np.asarray(owner)
            runs = {}
            for q in ds.queries:
                t = time.perf_counter()
                qv = embedder.embed_queries([q.text])[0]
                query_ms.append(1000 * (time.perf_counter() - t))
                sims = vectors @ qv
                best = np.full(len(docs), -2.0)
                np.maximum.at(best, owners, sims)
                lang = ds.query_filter_lang(q)
                order = [i for i in np.argsort(-best) if docs[i].lang == lang][:100]
                runs[q.id] = [docs[i].id for i in order]
            res = evaluate(ds, runs)["all"]
            rows.append([embedder.name, name, str(len(docs)), str(len(ds.queries)), f"{res['R@1']:.3f}",
                         f"{res['nDCG@10']:.3f}", "", ""])
        rate = total_passages / total_s if total_s else float("inf")
        rows.append([embedder.name, "all", "", "", "", "", f"{rate:.1f}",
                     f"{np.percentile(query_ms, 50):.1f} (load {load_s:.1f} s)"])
        print(f"# {embedder.name}: {rate:.1f} passages/s", file=sys.stderr)
    print(markdown_table(["model", "set (subset)", "docs", "queries", "R@1", "nDCG@10", "passages/s",
                          "query ms p50"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
