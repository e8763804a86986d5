"""Re-scoring with a second, stronger model: its vectors are filled in the background after indexing,
follow updates and deletes, and re-order a question's top documents only once all of them have
vectors. Real models from their wheels (USE for the index, multilingual-e5-small for re-scoring)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from services.engine.embedder import E5Embedder, UseEmbedder
from services.engine.passages import Passage
from services.engine.rescore import RescoreVectors
from services.engine.vectors import PassageVectors
from services.query.hybrid import Candidate, Rescoring, _rescore
from tests.conftest import ROLE, Server, ids_of, make_client, put_and_wait, text_doc, wait_active, wait_for
from tests.test_semantic import BOTH, CORPUS


@pytest.fixture(scope="module")
def e5() -> E5Embedder:
    model = E5Embedder(threads=1)
    model.warm_up()
    return model


def _documents(data_dir: Path, index_id: str) -> set[str]:
    """The documents that have passages."""
    (folder,) = (data_dir / "indexes" / index_id).glob("vectors-*")
    with sqlite3.connect(folder / "passages.sqlite3") as conn:
        found = {d for (d,) in conn.execute("SELECT DISTINCT doc_id FROM passages")}
    conn.close()
    return found


def _keys(data_dir: Path, index_id: str) -> tuple[set[int], set[int]]:
    """The passage keys of the index, and the keys that have re-scoring vectors."""
    (folder,) = (data_dir / "indexes" / index_id).glob("vectors-*")
    with sqlite3.connect(folder / "passages.sqlite3") as conn:
        passages = {k for (k,) in conn.execute("SELECT key FROM passages")}
    conn.close()
    (rescore,) = folder.glob("rescore-*.sqlite3")
    with sqlite3.connect(rescore) as conn:
        vectors = {k for (k,) in conn.execute("SELECT key FROM vectors")}
    conn.close()
    return passages, vectors


def test_rescoring_vectors_are_filled_and_follow_updates_and_deletes(tmp_path: Path) -> None:
    srv = Server(tmp_path, {"KENSAKU_RESCORE_EMBEDDER": "e5"}).start()
    try:
        c = make_client(srv.url)
        index_id = c.create_index(Name="rescore", RoleArn=ROLE)["Id"]
        wait_active(c, index_id)
        put_and_wait(c, index_id, CORPUS)

        def filled() -> bool:
            return bool(httpx.get(f"{srv.url}/health").json()["rescore_pending"] == 0)

        wait_for(filled, timeout=120, what="re-scoring vectors")
        passages, vectors = _keys(tmp_path, index_id)
        assert passages and vectors == passages
        r = c.query(IndexId=index_id, QueryText="How many days of paid vacation do I get?", AttributeFilter=BOTH)
        assert ids_of(r)[0] == "leave-ja"

        put_and_wait(c, index_id, [text_doc("lunch", "Lunch is now served in the garden pavilion from noon.",
                                            title="Cafeteria")])
        c.batch_delete_document(IndexId=index_id, DocumentIdList=["pc-ja"])
        # The delete is applied after the call returns: wait for it, or the keys below may still hold it.
        wait_for(lambda: "pc-ja" not in _documents(tmp_path, index_id), what="the delete applied")
        wait_for(lambda: filled() and _keys(tmp_path, index_id)[1] == _keys(tmp_path, index_id)[0],
                 timeout=120, what="vectors of the new passages, none of the old")
        now, _ = _keys(tmp_path, index_id)
        added = now - passages
        assert len(now) == len(passages) - 1 and added and min(added) > max(passages)  # new keys, none reused
        assert ids_of(c.query(IndexId=index_id, QueryText="when is lunch served in the garden?"))[0] == "lunch"
    finally:
        srv.stop()


def test_health_says_nothing_of_rescoring_when_it_is_off(server: Any) -> None:
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}


def _two_documents(tmp_path: Path) -> tuple[PassageVectors, list[Candidate]]:
    use = UseEmbedder(threads=1)
    vectors = PassageVectors(tmp_path, use.dim, use.name)
    texts = {"office": "The office is on the fifth floor of the station building.",
             "vpn": "Install the GlobalProtect client to reach the company network from home."}
    for doc_id, text in texts.items():
        vectors.upsert(doc_id, [Passage(0, 0, len(text), text)], use.embed_passages([text]))
    vectors.commit()
    # BM25 and USE put the office first; the question is about working from home.
    return vectors, [Candidate("office", lexical=9.0, dense=0.5, score=0.9),
                     Candidate("vpn", lexical=3.0, dense=0.4, score=0.5)]


def test_rescoring_reorders_the_top_documents_by_the_stronger_model(tmp_path: Path, e5: E5Embedder) -> None:
    vectors, candidates = _two_documents(tmp_path)
    rescore = RescoreVectors(tmp_path, e5.name)
    rows = rescore.missing()
    rescore.put([k for k, _, _ in rows], e5.embed_passages([text for _, _, text in rows]))
    question = "how do I connect to work from my house?"
    _rescore(candidates, 0.0, 0.1, question, vectors, Rescoring(e5, rescore, top=10, share=1.0))
    by_id = {c.doc_id: c.score for c in candidates}
    assert by_id["vpn"] > by_id["office"]
    assert sorted(by_id.values()) == [0.5, 0.9]  # the top's old span: documents below keep their places
    rescore.close()
    vectors.close()


def test_no_rescoring_until_every_top_document_has_vectors(tmp_path: Path, e5: E5Embedder) -> None:
    vectors, candidates = _two_documents(tmp_path)
    rescore = RescoreVectors(tmp_path, e5.name)
    key, _, text = rescore.missing()[1]
    rescore.put([key], e5.embed_passages([text]))
    assert rescore.pending() == 1
    _rescore(candidates, 0.0, 0.1, "how do I connect to work from my house?", vectors,
             Rescoring(e5, rescore, top=10, share=1.0))
    assert [(c.doc_id, c.score) for c in candidates] == [("office", 0.9), ("vpn", 0.5)]
    rescore.close()
    vectors.close()


def test_passage_keys_are_never_reused(tmp_path: Path) -> None:
    """A vector kept under a passage key elsewhere cannot be taken for a later passage's."""
    vectors = PassageVectors(tmp_path, 4, "test")
    one = np.eye(4, dtype=np.float32)[:1]
    vectors.upsert("a", [Passage(0, 0, 1, "a")], one)
    vectors.commit()
    (first,) = vectors.passages_of(["a"])["a"]
    vectors.delete(["a"])
    vectors.commit()
    vectors.close()
    vectors = PassageVectors(tmp_path, 4, "test")
    vectors.upsert("b", [Passage(0, 0, 1, "b")], one)
    vectors.commit()
    (second,) = vectors.passages_of(["b"])["b"]
    assert second.key > first.key
    vectors.close()
