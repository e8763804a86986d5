"""Files a request names are read through one guarded reader (services/files.py; issue 14, part 2).

CreateFaq and CreateQuerySuggestionsBlockList with a ``file://`` Key read only regular files below
KENSAKU_LOCAL_FILES_ROOT, within their size limits; S3 reads give up after KENSAKU_S3_TIMEOUT_SECONDS.
Refusals follow Kendra's semantics: CreateFaq answers, then the FAQ goes FAILED with the reason as
its ErrorMessage (a block list likewise); a URL that cannot name a local file at all is a
ValidationException at once.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROLE, Server, make_client, wait_active, wait_for

FAQ_LIMIT = 5 * 1024 * 1024
GOOD_CSV = '"How do I reset my password?","Use the self-service portal."\n'


@pytest.fixture(scope="module")
def silent_s3() -> Iterator[str]:
    """An endpoint that accepts connections and never answers (a stalled S3 store)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    for conn in accepted:
        conn.close()
    listener.close()


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("allowed")
    outside = tmp_path_factory.mktemp("secret")
    return root, outside


@pytest.fixture(scope="module")
def client(folders: tuple[Path, Path], silent_s3: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root, _ = folders
    server = Server(tmp_path_factory.mktemp("data"), {
        "KENSAKU_LOCAL_FILES_ROOT": str(root), "KENSAKU_S3_ENDPOINT_URL": silent_s3,
        "KENSAKU_S3_TIMEOUT_SECONDS": "1", "KENSAKU_EMBEDDER": "none",
        "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
    }).start()
    try:
        yield make_client(server.url)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def index_id(client: Any) -> str:
    found: str = client.create_index(Name="files", RoleArn=ROLE)["Id"]
    wait_active(client, found)
    return found


def _faq(client: Any, index_id: str, key: str) -> dict[str, Any]:
    faq_id = client.create_faq(IndexId=index_id, Name="f", RoleArn=ROLE, S3Path={"Bucket": "local", "Key": key})["Id"]

    def done() -> dict[str, Any] | None:
        d: dict[str, Any] = client.describe_faq(IndexId=index_id, Id=faq_id)
        return d if d["Status"] != "CREATING" else None

    described: dict[str, Any] = wait_for(done, 30, "FAQ loaded")
    client.delete_faq(IndexId=index_id, Id=faq_id)
    return described


def test_a_faq_file_inside_the_root_is_read(client: Any, index_id: str, folders: tuple[Path, Path]) -> None:
    root, _ = folders
    (root / "sub").mkdir(exist_ok=True)
    (root / "sub" / "ok.csv").write_text(GOOD_CSV, encoding="utf-8")
    os.symlink(root / "sub" / "ok.csv", root / "inner-link.csv")  # a link that stays inside is fine
    for path in (root / "sub" / "ok.csv", root / "inner-link.csv"):
        assert _faq(client, index_id, path.as_uri())["Status"] == "ACTIVE"


def test_a_faq_file_outside_the_root_fails_the_faq(client: Any, index_id: str, folders: tuple[Path, Path]) -> None:
    root, outside = folders
    secret = outside / "secret.csv"
    secret.write_text('"What is the password?","hunter2"\n', encoding="utf-8")
    for key in (secret.as_uri(), "file:///etc/passwd", f"file://{root}/../{outside.name}/secret.csv"):
        failed = _faq(client, index_id, key)
        assert failed["Status"] == "FAILED", key
        assert "outside the folder" in failed["ErrorMessage"], failed["ErrorMessage"]
    hits = client.query(IndexId=index_id, QueryText="what is the password")["ResultItems"]
    assert not [h for h in hits if h["Type"] == "QUESTION_ANSWER"]


def test_a_symlink_out_of_the_root_is_refused(client: Any, index_id: str, folders: tuple[Path, Path]) -> None:
    root, outside = folders
    (outside / "linked.csv").write_text(GOOD_CSV, encoding="utf-8")
    os.symlink(outside / "linked.csv", root / "escape.csv")
    os.symlink(outside, root / "escape-dir")
    for path in (root / "escape.csv", root / "escape-dir" / "linked.csv"):
        failed = _faq(client, index_id, path.as_uri())
        assert failed["Status"] == "FAILED" and "outside the folder" in failed["ErrorMessage"], failed


def test_oversized_files_devices_and_folders_are_refused(
    client: Any, index_id: str, folders: tuple[Path, Path]
) -> None:
    root, _ = folders
    big = root / "big.csv"
    with big.open("wb") as f:
        f.truncate(FAQ_LIMIT + 1)  # sparse: no 5 MB written
    failed = _faq(client, index_id, big.as_uri())
    assert failed["Status"] == "FAILED" and "the limit is" in failed["ErrorMessage"], failed
    os.mkfifo(root / "fifo.csv")  # a reader that opened it would wait forever
    for path, reason in ((root / "fifo.csv", "not a regular file"), (root, "not a regular file"),
                         (root / "none.csv", "No such file")):
        failed = _faq(client, index_id, path.as_uri())
        assert failed["Status"] == "FAILED" and reason in failed["ErrorMessage"], failed
    block = client.create_query_suggestions_block_list(
        IndexId=index_id, Name="big", RoleArn=ROLE, SourceS3Path={"Bucket": "local", "Key": big.as_uri()})
    described = client.describe_query_suggestions_block_list(IndexId=index_id, Id=block["Id"])
    assert described["Status"] == "FAILED" and "the limit is" in described["ErrorMessage"]


def test_a_url_that_names_no_local_file_is_a_validation_error(client: Any, index_id: str) -> None:
    for key in ("file://other-host/etc/passwd", "file://relative.csv"):
        with pytest.raises(client.exceptions.ValidationException):
            client.create_faq(IndexId=index_id, Name="f", RoleArn=ROLE, S3Path={"Bucket": "local", "Key": key})


def test_a_stalled_s3_store_fails_the_faq_after_the_timeout(client: Any, index_id: str) -> None:
    started = time.time()
    failed = _faq(client, index_id, "faq.csv")  # Bucket "local" on the silent endpoint
    assert failed["Status"] == "FAILED" and "s3://local/faq.csv" in failed["ErrorMessage"], failed
    assert time.time() - started < 20


def test_file_urls_are_refused_when_no_root_is_set(server: Any, kendra: Any, new_index: Any) -> None:
    index = new_index()
    failed = _faq(kendra, index, "file:///etc/hostname")
    assert failed["Status"] == "FAILED" and "KENSAKU_LOCAL_FILES_ROOT" in failed["ErrorMessage"], failed
