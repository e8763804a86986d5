"""Query latency through the Kendra API at scale (default 100k passages): lexical, dense and hybrid.

    python bench/hybrid_latency.py [--passages 100000] [--queries 400] [--modes lexical,dense,hybrid]

Embedding 100k passages takes long on 2 cores (see bench/embedders.py for passages/s), so the data
folder is built directly with the engine library, not through BatchPutDocument: the ~6,000 real
passages of the shared eval corpora are embedded once (cached as .npy under
/tmp/kensaku-bench-cache/) and repeated, with new document ids, until there are ``--passages``
one-passage documents, each with its title vector; each copy's vectors get a little Gaussian noise
(sigma 0.02 per dimension before normalising) so that the HNSW graph holds distinct points. The
lexical index gets the same analysed text for every copy. Then a real server is started on that folder, once per mode
(KENSAKU_SEARCH_MODE), and eval questions are sent as Query calls, one at a time, with their language
filter; the table shows the latency percentiles as the client sees them.
What this does not measure: relevance (copies blur it) and the cost of indexing (bench/relevance.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import LocalServer, call, make_client, percentile  # noqa: E402
from metrics import load_set, markdown_table  # noqa: E402

from services.engine.passages import Passage, embedding_text, split_passages  # noqa: E402
from services.index.documents import lexical_document  # noqa: E402
from services.index.service import IndexService  # noqa: E402
from services.index.store import Store  # noqa: E402
from services.settings import Settings  # noqa: E402

CORPORA = ("jsquad-valid", "jsquad-test", "xquad-en", "vue-nlq-dev")
CACHE = Path("/tmp/kensaku-bench-cache")
ROLE = "arn:aws:iam::000000000000:role/kendra"


def real_passages() -> list[tuple[str, str, str]]:
    """(title, passage text, language) of every passage of the shared corpora."""
    out = []
    seen = set()
    for name in CORPORA:
        for d in load_set(name).docs:
            if d.id in seen:
                continue
            seen.add(d.id)
            out += [(d.title, p.text, d.lang) for p in split_passages(d.text)]
    return out


def embeddings(settings: Settings, texts: list[str]) -> np.ndarray:
    from services.engine.embedder import make_embedder

    embedder = make_embedder(settings.embedder, settings.embedder_model, 64, settings.embed_threads)
    assert embedder is not None, "KENSAKU_EMBEDDER=none: nothing to measure"
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = CACHE / f"{embedder.name.replace('/', '_')}-{key}.npy"
    if path.exists():
        print(f"# embeddings from the cache {path}", file=sys.stderr)
        return np.load(path)
    t = time.perf_counter()
    vectors = embedder.embed_passages(texts)
    print(f"# embedded {len(texts)} texts in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def build(data_dir: Path, size: int) -> str:
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(data_dir=data_dir, index_creating_seconds=0)
    store = Store(data_dir / "kensaku.sqlite3")
    service = IndexService(settings, store)
    index_id = service.create_index({"Name": "scale", "RoleArn": ROLE})["Id"]
    service.require_active(index_id)
    fields = service.fields(index_id)
    base = real_passages()
    vectors = embeddings(settings, [embedding_text(t_, p) for t_, p, _ in base])
    titles = embeddings(settings, [t_ for t_, _, _ in base])  # each document's title has its own vector
    analysed = [lexical_document("x", t, p, {"_language_code": lang}, [], fields) for t, p, lang in base]
    lex, vec = service.lexical(index_id), service.vectors.get(index_id)
    assert vec is not None
    rng = np.random.default_rng(7)
    t = time.perf_counter()
    rows = []
    for n in range(size):
        i = n % len(base)
        doc_id = f"d{n}"
        lex.upsert([dataclasses.replace(analysed[i], doc_id=doc_id)])
        v, tv = (m[i] + (rng.normal(0, 0.02, m.shape[1]) if n >= len(base) else 0) for m in (vectors, titles))
        v, tv = ((x / np.linalg.norm(x)).astype(np.float32) for x in (v, tv))
        title, text, lang = base[i]
        vec.upsert(doc_id, [Passage(0, 0, len(text), text)], v[None, :], tv)
        rows.append((index_id, doc_id, "INDEXED", title, text, json.dumps({"_language_code": lang}), "[]",
                     len(text.encode()), time.time()))
        if len(rows) >= 5000:
            lex.commit()
            vec.commit()
            with store.write() as conn:
                conn.executemany("INSERT INTO documents (index_id, doc_id, status, title, body, attributes, acl,"
                                 " text_bytes, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            rows = []
            print(f"# {n + 1} passages written ({time.perf_counter() - t:.0f} s)", file=sys.stderr)
    lex.commit()
    vec.commit()
    if rows:
        with store.write() as conn:
            conn.executemany("INSERT INTO documents (index_id, doc_id, status, title, body, attributes, acl,"
                             " text_bytes, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    service.close()
    store.close()
    return index_id


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--passages", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=400)
    ap.add_argument("--modes", default="lexical,dense,hybrid")
    args = ap.parse_args(argv)
    server = LocalServer(keep_data=True)  # only for its folder; started per mode below
    tmp = server.tmp
    index_id = build(tmp / "data", args.passages)
    questions = []
    for name in ("vue-nlq-dev", "jsquad-valid", "xquad-en"):
        ds = load_set(name)
        questions += [(q.text, ds.query_filter_lang(q)) for q in ds.queries[: args.queries // 3 + 1]]
    questions = questions[: args.queries]
    rows = []
    for mode in args.modes.split(","):
        with LocalServer(keep_data=True, env={"KENSAKU_SEARCH_MODE": mode}, tmp=tmp) as srv:
            client = make_client(srv.endpoint)
            for text, lang in questions[:10]:  # warm-up: model load, caches
                call(client.query, IndexId=index_id, QueryText=text,
                     AttributeFilter={"EqualsTo": {"Key": "_language_code", "Value": {"StringValue": lang}}})
            times = []
            for text, lang in questions:
                t = time.perf_counter()
                call(client.query, IndexId=index_id, QueryText=text,
                     AttributeFilter={"EqualsTo": {"Key": "_language_code", "Value": {"StringValue": lang}}})
                times.append(time.perf_counter() - t)
        rows.append([mode, str(args.passages), str(len(times)), f"{1000 * percentile(times, 50):.1f}",
                     f"{1000 * percentile(times, 99):.1f}", f"{1000 * sum(times) / len(times):.1f}"])
        print(f"# {mode}: p50 {rows[-1][3]} ms p99 {rows[-1][4]} ms", file=sys.stderr)
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    print(markdown_table(["mode", "passages", "queries", "p50 ms", "p99 ms", "mean ms"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
