"""Query latency through the Kendra API at scale (default 100k passages): lexical, dense and hybrid.

    python bench/hybrid_latency.py [--passages 100000] [--queries 400] [--modes lexical,dense,hybrid]
                                   [--engine embedded,opensearch] [--opensearch-url URL] [--keep-data]
                                   [--reuse KEPT_FOLDER]

Embedding 100k passages takes long on 2 cores (see bench/embedders.py for passages/s), so the data
folder is built directly with the engine library, not through BatchPutDocument: the ~6,000 real
passages of the shared eval corpora are embedded once (cached as .npy under
/tmp/kensaku-bench-cache/) and repeated, with new document ids, until there are ``--passages``
one-passage documents, each with its title vector; each copy's vectors get a little Gaussian noise
(sigma 0.02 per dimension before normalising) so that the HNSW graph holds distinct points. The
lexical index gets the same analysed text for every copy. Then a real server is started on that folder, once per mode
(KENSAKU_SEARCH_MODE), and eval questions are sent as Query calls, one at a time, with their language
filter; the table shows the latency percentiles as the client sees them.
``--engine embedded,opensearch`` builds and times each engine in turn (the same passages, vectors and
questions), written through the index service's engine (KENSAKU_ENGINE; OpenSearch at
``--opensearch-url`` under an index prefix of its own, deleted at the end unless ``--keep-data``).
Each row names its engine, the load average while its queries ran, and how fast the build wrote.
OpenSearch is timed once the background merges the build set off are over (merging 100k vectors
rebuilds HNSW graphs for minutes on every copy and would take the cores the queries are timed on).
What this does not measure: relevance (copies blur it) and the cost of indexing (bench/relevance.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import (  # noqa: E402
    DEFAULT_OPENSEARCH_URL,
    ENGINES,
    LoadSampler,
    LocalServer,
    call,
    delete_opensearch_indexes,
    engine_env,
    make_client,
    opensearch_memory,
    opensearch_prefix,
    parse_engines,
    percentile,
    wait_opensearch_merges,
)
from metrics import load_set, markdown_table  # noqa: E402

from services.datasources.jobs import JobTracker  # noqa: E402
from services.engine.passages import Passage, embedding_text, split_passages  # noqa: E402
from services.index.documents import lexical_document  # noqa: E402
from services.index.service import IndexService  # noqa: E402
from services.index.store import Store  # noqa: E402
from services.settings import Settings  # noqa: E402

CORPORA = ("jsquad-valid", "jsquad-test", "xquad-en", "vue-nlq-dev")
CACHE = Path("/tmp/kensaku-bench-cache")
ROLE = "arn:aws:iam::000000000000:role/kendra"
BUILD_TIMEOUT_SECONDS = 600.0
BUILT = "bench-build.json"  # in a kept folder: what --reuse needs to time it again


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


def build(settings: Settings, size: int) -> str:
    """Write ``size`` one-passage documents into a new index of ``settings``' engine and data folder (the
    store's rows, the lexical index, the passage store); the index id."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.data_dir / "kensaku.sqlite3")
    service = IndexService(settings, store, jobs=JobTracker(store))
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
        if len(rows) >= 5000 or n + 1 == size:
            lex.commit()
            vec.commit()
            with store.write() as conn:
                conn.executemany("INSERT INTO documents (index_id, doc_id, status, title, body, attributes, acl,"
                                 " text_bytes, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            rows = []
            print(f"# {settings.engine}: {n + 1} passages written ({time.perf_counter() - t:.0f} s)",
                  file=sys.stderr)
    service.close()
    store.close()
    return index_id


def engine_settings(engine: str, data_dir: Path, opensearch_url: str, prefix: str) -> Settings:
    """The settings build() writes with: the servers' engine (``engine_env``) on ``data_dir``. The build
    sends 5,000 documents a commit, which a busy cluster takes longer than a query's timeout to index."""
    if engine == "embedded":
        return Settings(data_dir=data_dir, index_creating_seconds=0, engine="embedded")
    return Settings(data_dir=data_dir, index_creating_seconds=0, engine="opensearch", opensearch_url=opensearch_url,
                    opensearch_index_prefix=prefix, opensearch_timeout_seconds=BUILD_TIMEOUT_SECONDS)


def questions_for(n: int) -> list[tuple[str, str]]:
    """``n`` eval questions with their language, from three sets in turn."""
    questions = []
    for name in ("vue-nlq-dev", "jsquad-valid", "xquad-en"):
        ds = load_set(name)
        questions += [(q.text, ds.query_filter_lang(q)) for q in ds.queries[: n // 3 + 1]]
    return questions[:n]


def time_queries(endpoint: str, index_id: str, questions: list[tuple[str, str]]) -> list[float]:
    """Seconds per Query, one at a time, after ten warm-up queries (model load, caches)."""
    client = make_client(endpoint)

    def query(text: str, lang: str) -> None:
        call(client.query, IndexId=index_id, QueryText=text,
             AttributeFilter={"EqualsTo": {"Key": "_language_code", "Value": {"StringValue": lang}}})

    for text, lang in questions[:10]:
        query(text, lang)
    times = []
    for text, lang in questions:
        t = time.perf_counter()
        query(text, lang)
        times.append(time.perf_counter() - t)
    return times


def run_engine(engine: str, args: argparse.Namespace, questions: list[tuple[str, str]]) -> list[list[str]]:
    """Build the index on one engine (or take a kept one, ``--reuse``), then time each mode's server on
    it; the table's rows."""
    if args.reuse is not None:
        tmp = args.reuse
        kept = json.loads((tmp / BUILT).read_text())
        if kept["engine"] != engine:
            raise SystemExit(f"{tmp} holds a build of the {kept['engine']} engine, not {engine}")
        prefix, index_id, built, args.passages = kept["prefix"], kept["index_id"], kept["seconds"], kept["passages"]
        args.keep_data = True
    else:
        prefix = opensearch_prefix("hyb") if engine == "opensearch" else ""
        tmp = Path(tempfile.mkdtemp(prefix="kensaku-bench-"))
    rows = []
    try:
        if args.reuse is None:
            with LoadSampler() as load:
                t = time.perf_counter()
                index_id = build(engine_settings(engine, tmp / "data", args.opensearch_url, prefix), args.passages)
                built = time.perf_counter() - t
            print(f"# {engine}: {args.passages} passages built in {built:.0f} s ({args.passages / built:.0f}/s),"
                  f" load {load.summary()}", file=sys.stderr)
            (tmp / BUILT).write_text(json.dumps({"engine": engine, "prefix": prefix, "index_id": index_id,
                                                 "seconds": built, "passages": args.passages}))
        if prefix:
            waited = wait_opensearch_merges(args.opensearch_url, prefix)
            print(f"# {engine}: waited {waited:.0f} s for the cluster's background merges; "
                  f"{opensearch_memory(args.opensearch_url)}", file=sys.stderr)
        for mode in args.modes.split(","):
            with LoadSampler() as load, LocalServer(keep_data=True, tmp=tmp, env={
                    **engine_env(engine, args.opensearch_url, prefix), "KENSAKU_SEARCH_MODE": mode}) as srv:
                times = time_queries(srv.endpoint, index_id, questions)
            rows.append([engine, mode, str(args.passages), str(len(times)), f"{1000 * percentile(times, 50):.1f}",
                         f"{1000 * percentile(times, 99):.1f}", f"{1000 * sum(times) / len(times):.1f}",
                         load.summary(), f"{args.passages / built:.0f}"])
            print(f"# {engine} {mode}: p50 {rows[-1][4]} ms p99 {rows[-1][5]} ms, load {load.summary()}",
                  file=sys.stderr)
        if prefix:
            rows[-1].append(opensearch_memory(args.opensearch_url))
    finally:
        if args.keep_data:
            print(f"# {engine}: data folder {tmp} kept" + (f", OpenSearch indexes {prefix}*" if prefix else ""),
                  file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
            if prefix:
                names = delete_opensearch_indexes(args.opensearch_url, prefix)
                print(f"# deleted {len(names)} OpenSearch indexes {prefix}*", file=sys.stderr)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--passages", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=400)
    ap.add_argument("--modes", default="lexical,dense,hybrid")
    ap.add_argument("--engine", default="embedded",
                    help=f"comma-separated KENSAKU_ENGINE values, each built and timed in turn ({', '.join(ENGINES)};"
                         " %(default)s)")
    ap.add_argument("--opensearch-url", default=DEFAULT_OPENSEARCH_URL,
                    help="the cluster of the opensearch engine (%(default)s)")
    ap.add_argument("--keep-data", action="store_true", help="keep the data folders (and the OpenSearch indexes)")
    ap.add_argument("--reuse", type=Path, help="time the build kept (--keep-data) in this folder again, without"
                                               " building (one engine)")
    args = ap.parse_args(argv)
    if args.reuse is not None and "," in args.engine:
        ap.error("--reuse times one engine's kept build")
    try:
        engines = parse_engines(args.engine)
    except ValueError as e:
        ap.error(str(e))
    questions = questions_for(args.queries)
    rows = [row for engine in engines for row in run_engine(engine, args, questions)]
    print(markdown_table(["engine", "mode", "passages", "queries", "p50 ms", "p99 ms", "mean ms", "load (1 min)",
                          "built passages/s"], [row[:9] for row in rows]))
    for row in rows:
        if len(row) > 9:
            print(f"\n{row[0]}: {row[9]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
