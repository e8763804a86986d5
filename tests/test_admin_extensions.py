"""The admin page's extension operations on the Kendra protocol: KensakuTestDataSourceConnection (a
source's reachability, as the first step of a sync sees it) and KensakuListDocumentFailures (every failed
document of an index with its reason)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import TEST_MAX_DOCUMENT_BYTES, Server, put_and_wait, text_doc, wait_indexed
from tests.sync_helpers import create_source, sync, template
from tests.test_wire import TARGET, raw_post


def call(server: Server, operation: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    r = raw_post(server.url, TARGET + operation, json.dumps(body))
    return r.status_code, r.json()


def test_connection_test_lists_a_folder_without_indexing_it(server: Server, kendra: Any,
                                                             new_index: Callable[..., str], tmp_path: Path) -> None:
    index = new_index()
    folder = tmp_path / "share"
    folder.mkdir()
    for n in range(3):
        (folder / f"note-{n}.md").write_text(f"# Note {n}\n")
    (folder / "picture.png").write_bytes(b"\x89PNG")  # not a type Kensaku indexes: not counted
    draft = {"IndexId": index, "Type": "TEMPLATE", "Configuration": template("FILESYSTEM", path=str(folder))}
    status, body = call(server, "KensakuTestDataSourceConnection", draft)
    assert status == 200, body
    assert body["Status"] == "SUCCEEDED" and body["ListingComplete"] is True and body["DocumentsFound"] == 3
    assert sorted(body["SampleDocumentIds"]) == sorted((folder / f"note-{n}.md").as_uri() for n in range(3))
    assert body["FailedDocuments"] == []
    # an existing data source, by id
    ds = create_source(kendra, index, "share", "FILESYSTEM", path=str(folder))
    status, body = call(server, "KensakuTestDataSourceConnection", {"IndexId": index, "Id": ds})
    assert status == 200 and body["Status"] == "SUCCEEDED" and body["DocumentsFound"] == 3
    # nothing was sent: the index is still empty and the source has no sync history
    assert kendra.describe_index(Id=index)["IndexStatistics"]["TextDocumentStatistics"][
        "IndexedTextDocumentsCount"] == 0
    assert kendra.list_data_source_sync_jobs(Id=ds, IndexId=index)["History"] == []


def test_connection_test_says_why_a_source_cannot_be_read(server: Server, new_index: Callable[..., str],
                                                          tmp_path: Path) -> None:
    index = new_index()

    def test(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return call(server, "KensakuTestDataSourceConnection", {"IndexId": index, **body})

    gone = tmp_path / "no-such-folder"
    status, body = test({"Type": "TEMPLATE", "Configuration": template("FILESYSTEM", path=str(gone))})
    assert status == 200 and body["Status"] == "FAILED" and body["DataSourceErrorCode"] == "SourceMisconfigured"
    assert str(gone) in body["Message"]
    # refused on sight by the outbound policy, as CreateDataSource refuses it
    status, body = test({"Type": "TEMPLATE", "Configuration": template("FILESYSTEM", path="/etc")})
    assert status == 400 and body["__type"] == "ValidationException" and "/etc" in body["message"]
    status, body = test({"Type": "TEMPLATE", "Configuration": template("FILESYSTEM", path="relative/path")})
    assert status == 400 and "absolute" in body["message"]
    for bad, word in (({"Type": "CUSTOM", "Configuration": {}}, "CUSTOM"), ({"Type": "NOPE"}, "Type"),
                      ({"Id": "x", "Type": "TEMPLATE"}, "either"), ({"Surprise": 1}, "Surprise")):
        status, body = test(bad)
        assert status == 400 and body["__type"] == "ValidationException" and word in body["message"], body
    status, body = call(server, "KensakuTestDataSourceConnection", {"IndexId": index, "Id": "no-such-source"})
    assert status == 400 and body["__type"] == "ResourceNotFoundException"


def test_failed_documents_are_listed_with_their_reasons(server: Server, kendra: Any,
                                                        new_index: Callable[..., str], tmp_path: Path) -> None:
    index = new_index()
    put_and_wait(kendra, index, [text_doc("fine", "all good")])
    kendra.batch_put_document(IndexId=index, Documents=[
        {"Id": "broken.docx", "Blob": b"this is no zip file", "ContentType": "MS_WORD"}])
    [status] = wait_indexed(kendra, index, ["broken.docx"])
    assert status["DocumentStatus"] == "FAILED"
    folder = tmp_path / "share"
    folder.mkdir()
    (folder / "ok.md").write_text("# fine\n")
    (folder / "huge.txt").write_bytes(b"x" * (TEST_MAX_DOCUMENT_BYTES + 1))
    ds = create_source(kendra, index, "share", "FILESYSTEM", path=str(folder))
    assert sync(kendra, index, ds)["Status"] == "INCOMPLETE"

    status_code, body = call(server, "KensakuListDocumentFailures", {"IndexId": index})
    assert status_code == 200, body
    by_id = {f["DocumentId"]: f for f in body["Failures"]}
    assert set(by_id) == {"broken.docx", (folder / "huge.txt").as_uri()}
    broken = by_id["broken.docx"]
    assert broken["Status"] == "FAILED" and broken["ErrorCode"] and broken["ErrorMessage"] == status["FailureReason"]
    huge = by_id[(folder / "huge.txt").as_uri()]
    assert huge["Status"] == "NOT_SENT" and huge["DataSourceId"] == ds and "limit" in huge["ErrorMessage"]
    assert huge["ExecutionId"] and huge["FailedAt"] >= broken["FailedAt"]  # newest first
    assert body["Failures"][0] is not None and body["Failures"][0]["DocumentId"] == huge["DocumentId"]

    _, only = call(server, "KensakuListDocumentFailures", {"IndexId": index, "DataSourceId": ds})
    assert [f["DocumentId"] for f in only["Failures"]] == [huge["DocumentId"]]
    _, first = call(server, "KensakuListDocumentFailures", {"IndexId": index, "MaxResults": 1})
    _, second = call(server, "KensakuListDocumentFailures", {"IndexId": index, "MaxResults": 1,
                                                             "NextToken": first["NextToken"]})
    assert len(first["Failures"]) == len(second["Failures"]) == 1 and "NextToken" not in second
    for bad in ({"IndexId": index, "MaxResults": 0}, {"IndexId": "short"}, {"IndexId": index, "Extra": 1},
                {"IndexId": index, "NextToken": "nope"}):
        code, error = call(server, "KensakuListDocumentFailures", bad)
        assert code == 400 and error["__type"] == "ValidationException", bad
