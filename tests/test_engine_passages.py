"""The passage store's promises (services/engine/base.py ``PassageStore``), checked on both engines:
the embedded ``PassageVectors`` (SQLite and usearch) and ``OpenSearchPassages`` (a knn_vector index in
the test cluster, tests/conftest.py ``opensearch_url``). Both must give the same neighbours with the
same cosines."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from opensearchpy import OpenSearch

from services.engine.base import TITLE_KEYS, EngineUnavailable, PassageStore
from services.engine.embedder import Vectors
from services.engine.opensearch import passages as passages_module
from services.engine.opensearch.passages import OpenSearchPassages
from services.engine.passages import Passage
from services.engine.vectors import LAYOUT, PassageVectors
from tests.conftest import free_port, opensearch_url

DIM = 8
MODEL = "test-model"
Open = Callable[..., PassageStore]  # open_store(model=MODEL): the same store each call, opened again


def _client(url: str, timeout: float = 30) -> OpenSearch:
    return OpenSearch(hosts=[url], timeout=timeout, max_retries=0)


def _cluster() -> OpenSearch:
    return _client(opensearch_url())


@pytest.fixture
def opensearch_store() -> Iterator[Open]:
    client = _cluster()
    name = f"kensaku-test-passages-{uuid.uuid4().hex[:12]}"

    def open_store(model: str = MODEL) -> PassageStore:
        return OpenSearchPassages(client, name, DIM, model, shards=2, replicas=1)

    yield open_store
    client.indices.delete(index=name, ignore_unavailable=True)


@pytest.fixture
def embedded_store(tmp_path: Path) -> Iterator[Open]:
    opened: list[PassageVectors] = []

    def open_store(model: str = MODEL) -> PassageStore:
        for store in opened:
            store.close()
        opened.clear()
        store = PassageVectors(tmp_path / "vectors", DIM, model)
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        store.close()


@pytest.fixture(params=["embedded", "opensearch"])
def open_store(request: pytest.FixtureRequest) -> Open:
    store: Open = request.getfixturevalue(f"{request.param}_store")
    return store


def _vectors(rng: np.random.Generator, n: int) -> Vectors:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    out: Vectors = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def _passages(doc_id: str, n: int) -> list[Passage]:
    return [Passage(i, 10 * i, 10 * i + 9, f"{doc_id} passage {i}") for i in range(n)]


def _f16(v: Vectors) -> Vectors:
    out: Vectors = np.asarray(v, dtype=np.float16).astype(np.float32)
    return out


CORPUS = {f"doc-{d}": _vectors(np.random.default_rng(d), 4) for d in range(5)}
TITLES = {doc_id: _vectors(np.random.default_rng(100 + i), 1)[0] for i, doc_id in enumerate(CORPUS)}
QUERIES = _vectors(np.random.default_rng(999), 6)


def _fill(store: PassageStore) -> None:
    for doc_id, vectors in CORPUS.items():
        store.upsert(doc_id, _passages(doc_id, len(vectors)), vectors, TITLES[doc_id])
    store.commit()


def _named(store: PassageStore, found: list[tuple[int, float]]) -> list[tuple[str, float]]:
    """Search results named the same on both engines: doc:number for a passage, doc:title for a title."""
    passages, titles = store.passages([k for k, _ in found]), store.title_documents([k for k, _ in found])
    return [(f"{passages[k].doc_id}:{passages[k].number}" if k in passages else f"{titles[k]}:title", cos)
            for k, cos in found]


def _expected(query: Vectors, count: int) -> list[tuple[str, float]]:
    """Brute force over the float16-rounded vectors."""
    rows = [(f"{doc_id}:{i}", v) for doc_id, vectors in CORPUS.items() for i, v in enumerate(vectors)]
    rows += [(f"{doc_id}:title", v) for doc_id, v in TITLES.items()]
    scored = sorted(((name, float(_f16(v) @ query)) for name, v in rows), key=lambda r: -r[1])
    return scored[:count]


def test_changes_are_visible_after_commit(open_store: Open) -> None:
    """Promised: searchable after the commit. OpenSearch shows nothing before it; the embedded store
    shows its own uncommitted rows to its own reads (one SQLite connection, one graph)."""
    store = open_store()
    store.upsert("doc-0", _passages("doc-0", 4), CORPUS["doc-0"], TITLES["doc-0"])
    if isinstance(store, OpenSearchPassages):
        assert store.search(QUERIES[0], 5) == []
        assert store.passages_of(["doc-0"]) == {}
        assert store.passage_keys(["doc-0"]) == {}
        assert store.title_vectors(["doc-0"]) == {}
        assert len(store) == 0
    store.commit()
    assert len(store.search(QUERIES[0], 5)) == 5
    assert [p.number for p in store.passages_of(["doc-0"])["doc-0"]] == [0, 1, 2, 3]


def test_search_finds_the_nearest_with_its_cosine(open_store: Open) -> None:
    store = open_store()
    _fill(store)
    for query in QUERIES:
        found = store.search(query, 5)
        assert [cos for _, cos in found] == sorted((cos for _, cos in found), reverse=True)
        named = _named(store, found)
        expected = _expected(query, 5)
        assert [n for n, _ in named] == [n for n, _ in expected]
        assert np.allclose([c for _, c in named], [c for _, c in expected], atol=1e-3)
    key, _ = store.search(CORPUS["doc-3"][2], 1)[0]
    passage = store.passages([key])[key]
    assert (passage.doc_id, passage.number, passage.start, passage.end) == ("doc-3", 2, 20, 29)
    # The nearest passages may come without their texts (OpenSearch reads them from doc values): the
    # text is then the passage's span of the document's body.
    assert passage.text in ("doc-3 passage 2", None)
    assert passage.text_in("x" * 20 + "its span.") == passage.text or "its span."
    assert [p.text for _, p in store.scored_passages(["doc-3"], QUERIES[0])["doc-3"]][2] == "doc-3 passage 2"
    (stored,) = store.passages_of(["doc-3"])["doc-3"][2:3]  # vectors are read with a document's passages
    assert stored.vector is not None and stored.vector.dtype == np.float32
    assert np.array_equal(stored.vector, _f16(CORPUS["doc-3"][2]))


def test_cosines_of_given_documents_are_computed_where_the_vectors_are(open_store: Open) -> None:
    """What hybrid ranking and Retrieve ask of a document found by its words: each passage's cosine and
    its title's, equal to the cosine of the stored (float16) vectors."""
    store = open_store()
    _fill(store)
    query = QUERIES[0]
    scored = store.scored_passages(["doc-1", "doc-3", "absent"], query)
    assert sorted(scored) == ["doc-1", "doc-3"]
    for doc_id, pairs in scored.items():
        assert [p.number for _, p in pairs] == list(range(len(CORPUS[doc_id])))
        expected = [float(_f16(v) @ query) for v in CORPUS[doc_id]]
        assert np.allclose([cos for cos, _ in pairs], expected, atol=5e-4)  # the knn script's float32
    titles = store.title_similarities(["doc-1", "doc-3"], query)
    vectors = store.title_vectors(["doc-1", "doc-3"])
    assert titles.keys() == vectors.keys() and all(abs(titles[d] - float(vectors[d] @ query)) < 5e-4 for d in titles)


def test_both_engines_give_the_same_cosines(embedded_store: Open, opensearch_store: Open) -> None:
    embedded, opensearch = embedded_store(), opensearch_store()
    _fill(embedded)
    _fill(opensearch)
    for query in QUERIES:
        a, b = _named(embedded, embedded.search(query, 8)), _named(opensearch, opensearch.search(query, 8))
        assert [n for n, _ in a] == [n for n, _ in b]
        assert np.allclose([c for _, c in a], [c for _, c in b], atol=1e-3)


def test_titles_have_their_own_keys(open_store: Open) -> None:
    store = open_store()
    _fill(store)
    key, cos = store.search(TITLES["doc-2"], 1)[0]
    assert key >= TITLE_KEYS
    assert cos == pytest.approx(1.0, abs=1e-3)
    assert store.title_documents([key, 5]) == {key: "doc-2"}
    assert store.passages([key]) == {}
    vectors = store.title_vectors(["doc-2", "doc-4", "missing"])
    assert set(vectors) == {"doc-2", "doc-4"}
    assert vectors["doc-2"].dtype == np.float32
    assert np.array_equal(vectors["doc-2"], _f16(TITLES["doc-2"]))
    passage_keys = store.passage_keys(["doc-2"])["doc-2"]
    assert len(passage_keys) == 4 and all(k < TITLE_KEYS for k in passage_keys)


def test_a_shorter_version_replaces_every_old_passage(open_store: Open) -> None:
    store = open_store()
    _fill(store)
    old = set(store.passage_keys(["doc-1"])["doc-1"])
    new_vectors = _vectors(np.random.default_rng(7), 2)
    store.upsert("doc-1", _passages("doc-1", 2), new_vectors)  # and no title now
    store.commit()
    assert [p.number for p in store.passages_of(["doc-1"])["doc-1"]] == [0, 1]
    assert len(store.passage_keys(["doc-1"])["doc-1"]) == 2
    assert store.title_vectors(["doc-1"]) == {}
    assert len(store) == 5 * 5 - 3
    gone = old - set(store.passage_keys(["doc-1"])["doc-1"])
    found = store.search(CORPUS["doc-1"][3], 30)
    assert len(found) == 22 and not gone & {k for k, _ in found}
    key, cos = store.search(new_vectors[1], 1)[0]
    assert store.passages([key])[key].doc_id == "doc-1" and cos == pytest.approx(1.0, abs=1e-3)


def test_delete(open_store: Open) -> None:
    store = open_store()
    _fill(store)
    keys = set(store.passage_keys(["doc-0"])["doc-0"])
    store.delete(["doc-0", "never-there"])
    if isinstance(store, OpenSearchPassages):
        assert len(store.passages_of(["doc-0"])["doc-0"]) == 4  # until the commit
    store.commit()
    assert store.passages_of(["doc-0"]) == {}
    assert store.title_vectors(["doc-0"]) == {}
    assert store.passages(sorted(keys)) == {}
    assert len(store) == 4 * 5
    assert not keys & {k for k, _ in store.search(CORPUS["doc-0"][0], 30)}


def test_passages_of_are_in_order(open_store: Open) -> None:
    store = open_store()
    passages = _passages("doc-x", 6)
    order = [3, 0, 5, 1, 4, 2]
    vectors = _vectors(np.random.default_rng(3), 6)
    store.upsert("doc-x", [passages[i] for i in order], vectors[order])
    store.upsert("doc-y", _passages("doc-y", 1), vectors[:1])
    store.commit()
    got = store.passages_of(["doc-x", "doc-y", "doc-z"])
    assert set(got) == {"doc-x", "doc-y"}
    assert [p.text for p in got["doc-x"]] == [p.text for p in passages]
    assert all(np.array_equal(p.vector, _f16(vectors[p.number])) for p in got["doc-x"])
    keys = store.passage_keys(["doc-x"])["doc-x"]
    assert sorted(keys) == sorted(p.key for p in got["doc-x"])
    assert set(store.passages(keys)) == set(keys)


def test_layout_and_model(open_store: Open) -> None:
    store = open_store()
    assert store.layout == LAYOUT
    if isinstance(store, OpenSearchPassages):
        store.client.indices.put_mapping(index=store.name, body={"_meta": {"model": MODEL, "layout": 1}})
    else:
        assert isinstance(store, PassageVectors)
        store._set_meta("layout", "1")
        store.commit()
    store = open_store()
    assert store.layout == 1
    store.mark_layout_current()
    store.commit()
    assert store.layout == LAYOUT
    assert open_store().layout == LAYOUT
    with pytest.raises(ValueError, match="other-model"):
        open_store("other-model")


def test_len_counts_passages_and_titles(open_store: Open) -> None:
    store = open_store()
    assert len(store) == 0
    _fill(store)
    assert len(store) == 5 * (4 + 1)
    assert len(open_store()) == 25


def test_zero_vectors(open_store: Open) -> None:
    """An embedder gives a text without content a zero vector: it is kept (read back as zeros) and
    is near nothing (lucene refuses zero vectors under cosine: OpenSearch leaves it out of the graph)."""
    store = open_store()
    _fill(store)
    vectors = np.zeros((2, DIM), dtype=np.float32)
    vectors[1] = CORPUS["doc-0"][0]
    store.upsert("blank", _passages("blank", 2), vectors, np.zeros(DIM, dtype=np.float32))
    store.commit()
    blank = store.passages_of(["blank"])["blank"]
    assert [p.vector.tolist() for p in blank] == [[0.0] * DIM, _f16(vectors[1]).tolist()]
    assert store.title_vectors(["blank"])["blank"].tolist() == [0.0] * DIM
    if isinstance(store, OpenSearchPassages):  # usearch: a zero query is at cosine 1 from a zero vector
        assert store.search(np.zeros(DIM, dtype=np.float32), 5) == []
    assert all(abs(cos) < 1e-6 for key, cos in store.search(CORPUS["doc-2"][1], 30) if key == blank[0].key)


def test_requests_are_chunked_and_paged(opensearch_store: Open, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bulk requests split by size, terms queries by id count, hits paged by search_after, mget by id count."""
    monkeypatch.setattr(passages_module, "_BULK_BYTES", 600)
    monkeypatch.setattr(passages_module, "_IDS_PER_REQUEST", 2)
    monkeypatch.setattr(passages_module, "_PAGE", 3)
    store = opensearch_store()
    _fill(store)
    store.upsert("doc-4", _passages("doc-4", 1), CORPUS["doc-4"][:1])
    store.commit()
    doc_ids = list(CORPUS)
    assert {d: len(p) for d, p in store.passages_of(doc_ids).items()} == {**{d: 4 for d in doc_ids}, "doc-4": 1}
    keys = [k for found in store.passage_keys(doc_ids).values() for k in found]
    assert len(keys) == len(set(keys)) == 17
    assert set(opensearch_store().passages(keys)) == set(keys)  # a new store: nothing cached, all by mget
    assert set(store.title_vectors(doc_ids)) == set(doc_ids) - {"doc-4"}
    assert len(store) == 17 + 4


def test_refused_passages_raise_and_are_dropped(opensearch_store: Open) -> None:
    """Passages the cluster refuses (here: vectors of another dimension) raise ValueError once the rest
    of the commit is written; they are not written again by the next commit."""
    store = opensearch_store()
    store.upsert("good", _passages("good", 2), CORPUS["doc-0"][:2])
    store.upsert("bad", _passages("bad", 1), np.ones((1, DIM // 2), dtype=np.float32))
    with pytest.raises(ValueError, match="refused 1 passages"):
        store.commit()
    assert set(store.passages_of(["good", "bad"])) == {"good"}
    store.commit()
    assert len(store) == 2


def test_an_unreachable_cluster_raises_engine_unavailable() -> None:
    dead = _client(f"http://127.0.0.1:{free_port()}", timeout=1)
    with pytest.raises(EngineUnavailable):
        OpenSearchPassages(dead, "kensaku-test-passages-dead", DIM, MODEL, 1, 0)


def test_a_cluster_lost_after_opening_raises_engine_unavailable(opensearch_store: Open) -> None:
    store = opensearch_store()
    assert isinstance(store, OpenSearchPassages)
    live, store.client = store.client, _client(f"http://127.0.0.1:{free_port()}", timeout=1)
    store.upsert("doc-0", _passages("doc-0", 4), CORPUS["doc-0"])
    with pytest.raises(EngineUnavailable):
        store.commit()
    with pytest.raises(EngineUnavailable):
        store.search(QUERIES[0], 3)
    with pytest.raises(EngineUnavailable):
        store.passages_of(["doc-0"])
    store.client = live  # the changes stayed buffered: the next commit writes them
    store.commit()
    assert len(store.passages_of(["doc-0"])["doc-0"]) == 4


def test_vectors_stay_out_of_the_source_and_an_older_index_is_read(opensearch_store: Open) -> None:
    """The knn field is not in ``_source`` (a hit read would parse it); ``vector16`` reads it back. An index
    made before ``vector16`` (its numbers in the source, a strict mapping without the field) is opened,
    given the field, read either way and written again."""
    store = opensearch_store()
    assert isinstance(store, OpenSearchPassages)
    _fill(store)
    source = store.client.get(index=store.name, id=str(store.passage_keys(["doc-1"])["doc-1"][0]))["_source"]
    assert "vector" not in source and "vector16" in source
    assert np.array_equal(store.title_vectors(["doc-1"])["doc-1"], _f16(TITLES["doc-1"]))

    old = f"{store.name}-old"
    body = store.client.indices.get_mapping(index=store.name)[store.name]["mappings"]
    del body["_source"], body["properties"]["vector16"]
    store.client.indices.create(index=old, body={"settings": {"index": {"knn": True}}, "mappings": body})
    try:
        vector = _f16(CORPUS["doc-2"][0])
        store.client.index(index=old, id="1", refresh=True, body={
            "key": 1, "doc_id": "doc-2", "kind": "passage", "number": 0, "start": 0, "end": 5, "text": "older",
            "vector": vector.tolist()})
        older = OpenSearchPassages(store.client, old, DIM, MODEL, shards=1, replicas=0)
        assert np.array_equal(older.passages_of(["doc-2"])["doc-2"][0].vector, vector)
        assert "vector16" in store.client.indices.get_mapping(index=old)[old]["mappings"]["properties"]
        older.upsert("doc-3", _passages("doc-3", 1), CORPUS["doc-3"][:1])
        older.commit()
        assert np.array_equal(older.passages_of(["doc-3"])["doc-3"][0].vector, _f16(CORPUS["doc-3"][0]))
    finally:
        store.client.indices.delete(index=old, ignore_unavailable=True)
