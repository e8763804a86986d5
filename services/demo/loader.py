"""Load the bundled sample into an index through the Kendra API (``kensaku demo``).

Everything goes through Kendra operations (ListIndices, CreateIndex, BatchGetDocumentStatus,
BatchPutDocument, Query), given as a ``call(operation, params)`` function, so the same loader serves
a botocore client over HTTP or any other caller of the protocol.

Idempotent: the index is found by name before one is made, documents keep fixed ids (BatchPutDocument
replaces a document with the same id), and documents already INDEXED are not sent again; the example
queries that seed the query log (suggestions, dashboard) run only on the load that sent the documents.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

DEMO_INDEX_NAME = "kensaku-demo"
ROLE_ARN = "arn:aws:iam::000000000000:role/kensaku-demo"  # Kendra requires one; Kensaku does not use it
BATCH = 10  # BatchPutDocument and BatchGetDocumentStatus take at most 10 documents a call
DONE = ("INDEXED", "UPDATED", "FAILED")
# Real questions about the sample, searched once after loading, so that the query log (suggestions, the
# dashboard's top queries) is not empty: (query text, language).
EXAMPLE_QUERIES: tuple[tuple[str, str], ...] = (
    ("算出プロパティ", "ja"), ("v-if と v-show の違い", "ja"), ("イベントハンドリング", "ja"),
    ("リストレンダリング", "ja"), ("経費精算", "ja"), ("有給休暇の申請", "ja"), ("VPN 設定", "ja"),
    ("パスワード", "ja"), ("梅雨", "ja"),
    ("computed properties", "en"), ("event handling", "en"), ("form input bindings", "en"),
    ("Nikola Tesla", "en"), ("Super Bowl 50", "en"), ("steam engine", "en"),
)

Call = Callable[[str, dict[str, Any]], dict[str, Any]]
Progress = Callable[[str], None]


class DemoFailed(Exception):
    """The sample could not be loaded (the index did not become ACTIVE, or indexing did not finish)."""


@dataclass
class DemoReport:
    """What a load did; filled in as it goes (KensakuLoadDemo reads it while the load runs)."""

    index_id: str = ""
    created_index: bool = False
    total: int = 0
    already: int = 0  # documents found INDEXED, not sent again
    sent: int = 0
    indexed: int = 0  # of those sent, how many are INDEXED (or FAILED) so far
    failed: dict[str, str] = field(default_factory=dict)  # document id -> reason
    queries: int = 0
    seconds: float = 0.0


def sample_records() -> list[dict[str, Any]]:
    """The bundled sample: ``{id, title, lang, category, text | blob (base64) + content_type, url?}`` each."""
    data = resources.files("services.demo").joinpath("sample.jsonl.gz").read_bytes()
    return [json.loads(line) for line in gzip.decompress(data).decode("utf-8").splitlines() if line]


def kendra_document(record: dict[str, Any]) -> dict[str, Any]:
    """A BatchPutDocument Document (``Blob`` as bytes: botocore encodes it) for one sample record."""
    import base64

    attributes = [{"Key": "_language_code", "Value": {"StringValue": record["lang"]}},
                  {"Key": "_category", "Value": {"StringValue": record["category"]}}]
    if record.get("url"):
        attributes.append({"Key": "_source_uri", "Value": {"StringValue": record["url"]}})
    if "blob" in record:
        blob, content_type = base64.b64decode(record["blob"]), record["content_type"]
    else:
        blob, content_type = record["text"].encode("utf-8"), "PLAIN_TEXT"
    return {"Id": f"demo/{record['id']}", "Title": record["title"], "Blob": blob, "ContentType": content_type,
            "Attributes": attributes}


def _batches(items: list[Any]) -> Iterator[list[Any]]:
    for i in range(0, len(items), BATCH):
        yield items[i : i + BATCH]


def find_or_create_index(call: Call, name: str, progress: Progress, timeout: float = 120.0) -> tuple[str, bool]:
    """The id of the index called ``name`` (made when there is none, and waited for until ACTIVE), and
    whether it was made now."""
    token: str | None = None
    while True:
        page = call("ListIndices", {"MaxResults": 100, **({"NextToken": token} if token else {})})
        for item in page.get("IndexConfigurationSummaryItems", []):
            if item.get("Name") == name and item.get("Status") != "DELETING":
                index_id = str(item["Id"])
                _wait_active(call, index_id, timeout)
                return index_id, False
        token = page.get("NextToken")
        if not token:
            break
    created = call("CreateIndex", {"Name": name, "RoleArn": ROLE_ARN, "Edition": "DEVELOPER_EDITION",
                                   "Description": "Kensaku's bundled sample (kensaku demo)"})
    index_id = str(created["Id"])
    progress(f"Created the index {name} ({index_id}).")
    _wait_active(call, index_id, timeout)
    return index_id, True


def _wait_active(call: Call, index_id: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while (status := call("DescribeIndex", {"Id": index_id}).get("Status")) != "ACTIVE":
        if status == "FAILED" or time.monotonic() > deadline:
            raise DemoFailed(f"the index {index_id} is {status}, not ACTIVE")
        time.sleep(0.2)


def statuses(call: Call, index_id: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    """BatchGetDocumentStatus for any number of documents, by document id."""
    out: dict[str, dict[str, Any]] = {}
    for batch in _batches(ids):
        response = call("BatchGetDocumentStatus", {"IndexId": index_id,
                                                   "DocumentInfoList": [{"DocumentId": i} for i in batch]})
        for status in response.get("DocumentStatusList", []):
            out[status["DocumentId"]] = status
    return out


def load_demo(call: Call, progress: Progress, *, index_name: str = DEMO_INDEX_NAME, reload: bool = False,
              timeout: float = 900.0, report: DemoReport | None = None) -> DemoReport:
    """Load the sample into the index ``index_name`` (made if missing) and wait until it is indexed.

    ``reload``: send every document again, even those already INDEXED (they are replaced, not doubled).
    ``report``: the report to fill in as the load goes (a new one by default); returned.
    """
    started = time.monotonic()
    report = report if report is not None else DemoReport()
    documents = [kendra_document(r) for r in sample_records()]
    report.total = len(documents)
    index_id, created = find_or_create_index(call, index_name, progress)
    report.index_id, report.created_index = index_id, created
    known = {} if created else statuses(call, index_id, [d["Id"] for d in documents])
    todo = [d for d in documents if reload or known.get(d["Id"], {}).get("DocumentStatus") not in ("INDEXED",
                                                                                                   "UPDATED")]
    report.already = len(documents) - len(todo)
    if report.already:
        progress(f"{report.already} of {report.total} sample documents are already indexed"
                 f"{'' if todo else '; nothing to send'}.")
    for batch in _batches(todo):
        response = call("BatchPutDocument", {"IndexId": index_id, "Documents": batch})
        for failure in response.get("FailedDocuments", []):
            report.failed[failure["Id"]] = str(failure.get("ErrorMessage", ""))
        report.sent += len(batch)
        if report.sent % 100 == 0 or report.sent == len(todo):
            progress(f"Sent {report.sent}/{len(todo)} documents.")
    waiting = [d["Id"] for d in todo if d["Id"] not in report.failed]
    deadline = time.monotonic() + timeout
    shown = -1
    while waiting:
        now = statuses(call, index_id, waiting)
        for doc_id, status in now.items():
            if status.get("DocumentStatus") == "FAILED":
                report.failed[doc_id] = str(status.get("FailureReason", ""))
        waiting = [i for i in waiting if now.get(i, {}).get("DocumentStatus") not in DONE]
        done = report.indexed = len(todo) - len(waiting)
        if done != shown and (done == len(todo) or done - shown >= 50 or shown < 0):
            progress(f"Indexed {done}/{len(todo)} documents.")
            shown = done
        if waiting:
            if time.monotonic() > deadline:
                raise DemoFailed(f"{len(waiting)} documents were still being indexed after {timeout:.0f} s")
            time.sleep(0.5)
    if report.sent:  # only on the load that sent documents: a second run does not count the queries twice
        for text, lang in EXAMPLE_QUERIES:
            call("Query", {"IndexId": index_id, "QueryText": text, "PageSize": 3, "AttributeFilter": {
                "EqualsTo": {"Key": "_language_code", "Value": {"StringValue": lang}}}})
            report.queries += 1
    report.seconds = time.monotonic() - started
    return report


def botocore_call(endpoint: str, region: str = "us-east-1", timeout: float = 60.0) -> Call:
    """A ``call`` that sends Kendra operations to ``endpoint`` with botocore (SigV4 with the environment's
    credentials when there are any; a Kensaku with auth off ignores the signature)."""
    import botocore.session
    from botocore import xform_name
    from botocore.config import Config

    session = botocore.session.get_session()
    credentials: dict[str, Any] = {}
    if session.get_credentials() is None:  # botocore will not send unsigned
        credentials = {"aws_access_key_id": "kensaku", "aws_secret_access_key": "kensaku"}
    client: Any = session.create_client("kendra", endpoint_url=endpoint, region_name=region, config=Config(
        connect_timeout=timeout, read_timeout=timeout, retries={"mode": "standard"}), **credentials)

    def call(operation: str, params: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = getattr(client, xform_name(operation))(**params)
        return result

    return call
