"""Hostile documents and bodies cost a bounded amount (issue 14 item 6, issue 20 item 8).

Zip bombs, entity expansion and PDF reference loops are FAILED with their reason; deeply nested HTML
and a single enormous word are read in linear time and cut into bounded passages; a document past a
worker's deadline or memory fails alone; a body over the request limit is refused before it is read.
A normal document put behind the hostile ones is INDEXED.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.extraction import ExtractionError, extract
from connectors.extraction._dispatch import _HANDLERS
from connectors.extraction._markup import MAX_HTML_DEPTH, _flatten_deep
from services.engine.passages import MAX_CHARS, split_passages
from services.index.indexer import Limits, prepare
from services.index.worker import DeadlineExceeded, deadline, init_worker
from tests.conftest import ROLE, Server, make_client, text_doc, wait_active, wait_indexed
from tests.hostile_docs import billion_laughs, nested_html, one_word_csv, pdf_reference_loop, zip_bomb

MAX_REQUEST_BYTES = 1024 * 1024


@pytest.fixture(scope="module")
def limited() -> Iterator[Server]:
    with tempfile.TemporaryDirectory(prefix="kensaku-limits-") as tmp:
        server = Server(Path(tmp), {"KENSAKU_MAX_REQUEST_BYTES": str(MAX_REQUEST_BYTES * 8),
                                    "KENSAKU_MAX_DOCUMENT_BYTES": str(MAX_REQUEST_BYTES * 4),
                                    "KENSAKU_ANALYSIS_WORKERS": "2", "KENSAKU_INDEXER_BATCH_SIZE": "4"}).start()
        yield server
        server.stop()


# ------------------------------------------------------------------------------------- extraction


@pytest.mark.parametrize("kind", ["docx", "xlsx", "pptx"])
@pytest.mark.parametrize("expanded", [8 * 1024 * 1024, 200 * 1024 * 1024])
def test_an_office_zip_bomb_is_refused_from_its_directory(kind: str, expanded: int) -> None:
    # 8 MB trips the ratio (about 1000:1), 200 MB the total a package may inflate to.
    with pytest.raises(ExtractionError, match="zip bomb"):
        extract(zip_bomb(kind, expanded), None)


def test_nested_html_reaches_the_parser_at_most_max_depth_deep() -> None:
    flat = _flatten_deep(nested_html(200_000, "div").decode())
    depth = deepest = 0
    for piece in flat.split("<")[1:]:
        depth += -1 if piece.startswith("/") else 1
        deepest = max(deepest, depth)
    assert deepest == MAX_HTML_DEPTH
    assert "deep" in flat


@pytest.mark.parametrize("tag", ["article", "div", "p"])
def test_two_hundred_thousand_nested_tags_extract(tag: str) -> None:
    # Quadratic (the parser's open-element checks, an ancestor walk per <article>) this took hours.
    assert extract(nested_html(200_000, tag), "HTML").text == "deep"


def test_shallow_html_is_parsed_as_it_is() -> None:
    page = "<html><body>" + "<div><p>one</p><ul><li>two</li></ul></div>" * 1000 + "</body></html>"
    assert _flatten_deep(page) is page


def test_entity_expansion_is_refused() -> None:
    with pytest.raises(ExtractionError, match="entity"):
        extract(billion_laughs(), "XML")


def test_a_pdf_reference_loop_is_refused() -> None:
    with pytest.raises(ExtractionError, match="reference loop"):
        extract(pdf_reference_loop(), "PDF")


# ------------------------------------------------------------------------------------- passages


def test_a_four_megabyte_word_is_cut_into_bounded_passages() -> None:
    body = extract(one_word_csv(), "CSV").text
    passages = split_passages(body)
    assert max(len(p.text) for p in passages) <= MAX_CHARS
    assert "".join(p.text for p in passages).replace("\n", "") == body.replace("\n", "")


def test_text_the_token_estimate_does_not_count_is_cut_too() -> None:
    body = "Съешь же ещё этих мягких французских булок " * 500  # Cyrillic: no tokens by the estimate
    passages = split_passages(body)
    assert len(passages) > 1 and max(len(p.text) for p in passages) <= MAX_CHARS
    assert all(p.text == body[p.start : p.end] and not p.text.startswith(" ") for p in passages)


def test_ordinary_passages_are_unchanged_by_the_character_cap() -> None:
    body = "The cat sat on the mat. " * 400
    assert split_passages(body) == split_passages(body, max_chars=10**9)


# ------------------------------------------------------------------------------------- the worker


def test_a_deadline_interrupts_a_loop_that_never_ends() -> None:
    with pytest.raises(DeadlineExceeded), deadline(0.2):
        while True:
            pass


def test_a_document_past_the_extraction_deadline_fails_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    def forever(_blob: bytes, _limit: int) -> tuple[str, str | None]:
        while True:
            try:
                pass
            except Exception:  # a parser's own catch-all must not swallow the deadline
                continue

    monkeypatch.setitem(_HANDLERS, "PLAIN_TEXT", forever)
    done = prepare("slow", b"text", {"content_type": "PLAIN_TEXT"}, {}, Limits(1000, 0.3))
    assert done.failure == "Extracting text took longer than 0.3 s (KENSAKU_EXTRACTION_TIMEOUT_SECONDS)"


def _allocate(cap: int, size: int, out: Any) -> None:
    init_worker(os.getppid(), cap)
    try:
        bytearray(size)
        out.put("allocated")
    except MemoryError:
        out.put("MemoryError")


def test_a_worker_cannot_allocate_past_its_memory_cap() -> None:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    process = context.Process(target=_allocate, args=(512 * 1024 * 1024, 1024 * 1024 * 1024, out))
    process.start()
    assert out.get(timeout=60) == "MemoryError"
    process.join(timeout=30)


# ------------------------------------------------------------------------------------- through HTTP


def test_hostile_documents_fail_with_their_reason_and_the_queue_goes_on(limited: Server) -> None:
    kendra = make_client(limited.url)
    index_id = kendra.create_index(Name="hostile", RoleArn=ROLE)["Id"]
    wait_active(kendra, index_id)
    hostile = [
        ("bomb-docx", zip_bomb("docx"), "MS_WORD", "zip bomb"),
        ("bomb-xlsx", zip_bomb("xlsx", 8 * 1024 * 1024), "MS_EXCEL", "zip bomb"),
        ("bomb-pptx", zip_bomb("pptx"), "PPT", "zip bomb"),
        ("laughs", billion_laughs(), "XML", "entity"),
        ("loop", pdf_reference_loop(), "PDF", "reference loop"),
        ("nested", nested_html(100_000), "HTML", None),
        ("word", one_word_csv(256 * 1024), "CSV", None),
    ]
    kendra.batch_put_document(IndexId=index_id, Documents=[
        {"Id": doc_id, "Blob": blob, "ContentType": content_type} for doc_id, blob, content_type, _ in hostile])
    kendra.batch_put_document(IndexId=index_id, Documents=[text_doc("normal", "A normal document.")])
    ids = [doc_id for doc_id, *_ in hostile] + ["normal"]
    statuses = {s["DocumentId"]: s for s in wait_indexed(kendra, index_id, ids, timeout=120)}
    for doc_id, _, _, reason in hostile:
        status = statuses[doc_id]
        if reason is None:
            assert status["DocumentStatus"] == "INDEXED", status
        else:
            assert status["DocumentStatus"] == "FAILED" and reason in status["FailureReason"], status
    assert statuses["normal"]["DocumentStatus"] == "INDEXED"


def test_a_slow_document_does_not_hold_the_documents_behind_it(limited: Server) -> None:
    kendra = make_client(limited.url)
    index_id = kendra.create_index(Name="straggler", RoleArn=ROLE)["Id"]
    wait_active(kendra, index_id)
    # A single 512 KB word: about 260 passages to embed, well past a batch's patience.
    kendra.batch_put_document(IndexId=index_id, Documents=[
        {"Id": "slow", "Blob": one_word_csv(512 * 1024), "ContentType": "CSV"}])
    kendra.batch_put_document(IndexId=index_id, Documents=[text_doc("normal", "A normal document.")])
    (status,) = wait_indexed(kendra, index_id, ["normal"], timeout=120)
    assert status["DocumentStatus"] == "INDEXED"
    (slow,) = kendra.batch_get_document_status(IndexId=index_id, DocumentInfoList=[{"DocumentId": "slow"}])[
        "DocumentStatusList"]
    assert slow["DocumentStatus"] == "PROCESSING"
    (slow,) = wait_indexed(kendra, index_id, ["slow"], timeout=300)
    assert slow["DocumentStatus"] == "INDEXED"


def test_a_slow_backlog_of_one_index_does_not_hold_another(limited: Server) -> None:
    kendra = make_client(limited.url)
    slow, quick = (kendra.create_index(Name=name, RoleArn=ROLE)["Id"] for name in ("slow", "quick"))
    wait_active(kendra, slow)
    wait_active(kendra, quick)
    # Each a single 128 KB word: 66 passages to embed, seconds of work; three batches of four.
    backlog = [f"w{n}" for n in range(12)]
    for at in range(0, len(backlog), 4):
        kendra.batch_put_document(IndexId=slow, Documents=[
            {"Id": doc_id, "Blob": one_word_csv(128 * 1024), "ContentType": "CSV"} for doc_id in backlog[at : at + 4]])
    kendra.batch_put_document(IndexId=quick, Documents=[text_doc("normal", "A normal document.")])
    (status,) = wait_indexed(kendra, quick, ["normal"], timeout=120)
    assert status["DocumentStatus"] == "INDEXED"
    waiting = kendra.batch_get_document_status(IndexId=slow, DocumentInfoList=[{"DocumentId": d} for d in backlog[4:]])
    assert sum(s["DocumentStatus"] == "PROCESSING" for s in waiting["DocumentStatusList"]) >= 4
    assert {s["DocumentStatus"] for s in wait_indexed(kendra, slow, backlog[4:], timeout=300)} == {"INDEXED"}


def _peak_rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def _send_huge_body(server: Server, size: int, *, chunked: bool) -> bytes:
    """A BatchPutDocument of ``size`` bytes, sent until the server answers; returns its answer."""
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    head = (f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: AWSKendraFrontendService.BatchPutDocument\r\n"
            f"Content-Type: application/x-amz-json-1.1\r\n{length}\r\n\r\n").encode()
    block = b"x" * (1024 * 1024)
    piece = b"%x\r\n%s\r\n" % (len(block), block) if chunked else block
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as conn:
        conn.sendall(head)
        conn.settimeout(0.05)
        answer = b""
        for _ in range(size // len(block)):
            try:
                answer = conn.recv(4096)
            except TimeoutError:
                pass
            if answer:
                break
            try:
                conn.sendall(piece)
            except OSError:  # the server answered and closed
                break
        conn.settimeout(30)
        while b"\r\n\r\n" not in answer:
            more = conn.recv(4096)
            if not more:
                break
            answer += more
    return answer


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_limit_is_refused_before_it_is_read(limited: Server, chunked: bool) -> None:
    assert limited.proc is not None
    before = _peak_rss(limited.proc.pid)
    size = 256 * 1024 * 1024
    answer = _send_huge_body(limited, size, chunked=chunked)
    assert answer.startswith(b"HTTP/1.1 4"), answer[:200]
    assert _peak_rss(limited.proc.pid) - before < size // 8
