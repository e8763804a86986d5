"""One bad document never blocks an index (issue 14, part 4).

Documents a client can send but no index can hold (NaN / Infinity / out-of-range dates, strings with
lone surrogates) are refused at the wire with typed errors; odd language codes and control
characters are indexed. Whatever happens, a good document put after the bad one becomes INDEXED.
And should a document still break the indexer's own thread, it fails alone with its reason.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from kernel.model import parse_input
from services.datasources.jobs import JobTracker
from services.engine.lexical import LexicalIndex
from services.index.indexer import Indexer
from services.index.service import IndexService
from services.index.store import Store
from services.settings import Settings
from tests.conftest import ROLE, Server, text_doc, wait_for, wait_indexed

pytestmark = pytest.mark.engines

TARGET = "AWSKendraFrontendService."
BLOB = base64.b64encode(b"A document about the platypus.").decode()


def _raw(server: Server, operation: str, body: str) -> httpx.Response:
    return httpx.post(server.url + "/", content=body.encode("utf-8"), timeout=30, headers={
        "X-Amz-Target": TARGET + operation, "Content-Type": "application/x-amz-json-1.1"})


def _put_raw(server: Server, index_id: str, doc_id: str, attribute: str) -> httpx.Response:
    """A BatchPutDocument whose one document carries ``attribute`` (raw JSON text, as botocore never
    sends NaN or a lone surrogate)."""
    body = (f'{{"IndexId":"{index_id}","Documents":[{{"Id":"{doc_id}","Blob":"{BLOB}",'
            f'"ContentType":"PLAIN_TEXT","Attributes":[{attribute}]}}]}}')
    return _raw(server, "BatchPutDocument", body)


def _good_after(kendra: Any, index_id: str, doc_id: str) -> None:
    kendra.batch_put_document(IndexId=index_id, Documents=[text_doc(doc_id, "A good document.")])
    (status,) = wait_indexed(kendra, index_id, [doc_id], timeout=30)
    assert status["DocumentStatus"] == "INDEXED", status


@pytest.mark.parametrize(("attribute", "error"), [
    ('{"Key":"_created_at","Value":{"DateValue":NaN}}', "SerializationException"),
    ('{"Key":"_created_at","Value":{"DateValue":Infinity}}', "SerializationException"),
    ('{"Key":"_created_at","Value":{"DateValue":-Infinity}}', "SerializationException"),
    ('{"Key":"_created_at","Value":{"DateValue":1e999}}', "ValidationException"),
    ('{"Key":"_created_at","Value":{"DateValue":1e20}}', "ValidationException"),
    ('{"Key":"_last_updated_at","Value":{"DateValue":-1e15}}', "ValidationException"),
    ('{"Key":"_created_at","Value":{"DateValue":"99999-01-01T00:00:00Z"}}', "ValidationException"),
    ('{"Key":"_view_count","Value":{"LongValue":9223372036854775808}}', "ValidationException"),
    ('{"Key":"_category","Value":{"StringValue":"t\\ud800"}}', "ValidationException"),
    ('{"Key":"_language_code","Value":{"StringValue":"\\udfffja"}}', "ValidationException"),
])
def test_unholdable_values_are_refused_at_the_wire(server: Server, kendra: Any, new_index: Callable[..., str],
                                                   attribute: str, error: str) -> None:
    index_id = new_index()
    r = _put_raw(server, index_id, "bad", attribute)
    assert r.status_code == 400 and r.json()["__type"] == error, r.text
    _good_after(kendra, index_id, "good")


def test_a_lone_surrogate_in_a_title_or_an_id_is_refused(server: Server, kendra: Any,
                                                          new_index: Callable[..., str]) -> None:
    index_id = new_index()
    for head in ('"Id":"bad\\ud800"', '"Id":"bad","Title":"t\\ud800"'):
        doc = "{" + head + f',"Blob":"{BLOB}","ContentType":"PLAIN_TEXT"' + "}"
        r = _raw(server, "BatchPutDocument", f'{{"IndexId":"{index_id}","Documents":[{doc}]}}')
        assert r.status_code == 400 and r.json()["__type"] == "ValidationException", r.text
    _good_after(kendra, index_id, "good")


def test_odd_language_codes_and_control_characters_are_indexed_and_block_nothing(
        kendra: Any, new_index: Callable[..., str]) -> None:
    index_id = new_index()
    odd = ["xx-odd", "JA", "ja\u0001", "../../etc", "zh-Hant-TW", "a" * 200, "en\u202e"]
    docs = [text_doc(f"odd-{n}", "A document in an odd language.", lang=code) for n, code in enumerate(odd)]
    docs += [text_doc("ctrl\u0001id", "An id with a control character."), text_doc("tab\tid", "An id with a tab.")]
    for i in range(0, len(docs), 10):
        assert kendra.batch_put_document(IndexId=index_id, Documents=docs[i : i + 10])["FailedDocuments"] == []
    statuses = wait_indexed(kendra, index_id, [d["Id"] for d in docs], timeout=30)
    assert {s["DocumentStatus"] for s in statuses} == {"INDEXED"}, statuses
    _good_after(kendra, index_id, "good")
    hits = kendra.query(IndexId=index_id, QueryText="odd language", AttributeFilter={
        "EqualsTo": {"Key": "_language_code", "Value": {"StringValue": "xx-odd"}}})["ResultItems"]
    assert [h["DocumentId"] for h in hits] == ["odd-0"]


def test_update_index_with_a_lone_surrogate_in_a_field_name_is_refused(server: Server,
                                                                        new_index: Callable[..., str]) -> None:
    index_id = new_index()
    body = json.dumps({"Id": index_id, "DocumentMetadataConfigurationUpdates": [
        {"Name": "dept\ud800", "Type": "STRING_VALUE"}]})  # json.dumps escapes it as \ud800
    r = _raw(server, "UpdateIndex", body)
    assert r.status_code == 400 and r.json()["__type"] == "ValidationException", r.text
    assert "surrogate" in r.json()["message"]


def test_a_document_that_breaks_the_indexer_thread_fails_alone(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A document the indexer's own thread cannot write (here: forced) fails with its reason after a
    few attempts alone; the documents around it and after it are INDEXED."""
    real = LexicalIndex._to_tantivy

    def poisoned(self: LexicalIndex, doc: Any) -> Any:
        if doc.doc_id == "poison":
            raise ValueError("cannot convert this document")
        return real(self, doc)

    monkeypatch.setattr(LexicalIndex, "_to_tantivy", poisoned)
    settings = Settings.model_validate({
        "data_dir": tmp_path, "embedder": "none", "analysis_workers": 0, "index_creating_seconds": 0,
        "commit_interval_seconds": 0.01})
    store = Store(tmp_path / "kensaku.sqlite3")
    indexes = IndexService(settings, store, jobs=JobTracker(store))
    indexer = Indexer(indexes)
    index_id = indexes.create_index(parse_input("CreateIndex", {"Name": "x", "RoleArn": ROLE}))["Id"]

    def put(ids: list[str]) -> None:
        documents = [{"Id": i, "Blob": BLOB, "ContentType": "PLAIN_TEXT"} for i in ids]
        assert indexes.batch_put_document(parse_input("BatchPutDocument", {
            "IndexId": index_id, "Documents": documents}))["FailedDocuments"] == []

    put(["before", "poison", "after"])
    put(["later"])
    indexer.start()
    try:
        def settled() -> dict[str, dict[str, Any]] | None:
            r = indexes.batch_get_document_status({"IndexId": index_id, "DocumentInfoList": [
                {"DocumentId": d} for d in ("before", "poison", "after", "later")]})
            found = {s["DocumentId"]: s for s in r["DocumentStatusList"]}
            return found if all(s["DocumentStatus"] != "PROCESSING" for s in found.values()) else None

        found = wait_for(settled, 30, "documents settled")
        assert {d: s["DocumentStatus"] for d, s in found.items()} == {
            "before": "INDEXED", "poison": "FAILED", "after": "INDEXED", "later": "INDEXED"}
        assert "cannot convert this document" in found["poison"]["FailureReason"]
        put(["last"])
        wait_for(lambda: indexes.batch_get_document_status({"IndexId": index_id, "DocumentInfoList": [
            {"DocumentId": "last"}]})["DocumentStatusList"][0]["DocumentStatus"] == "INDEXED", 30, "last INDEXED")
    finally:
        indexer.stop()
        indexes.close()
        store.close()
