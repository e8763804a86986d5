"""FILESYSTEM and GITWIKI sources synced by the embedded runner (threads of a real server),
with real files through the real parsers, and git repositories made from the Vue docs."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from tests.conftest import JA, ids_of
from tests.sync_helpers import create_source, git, markdown_count, metrics, office_folder, sync, vue_repo


def _query_ids(kendra: Any, index: str, text: str, lang_filter: Any = None) -> list[str]:
    kwargs = {"AttributeFilter": lang_filter} if lang_filter else {}
    return ids_of(kendra.query(IndexId=index, QueryText=text, PageSize=100, **kwargs))


@pytest.mark.databases  # with PostgreSQL too
def test_filesystem_source_syncs_office_files_and_follows_edits(kendra: Any, new_index: Any,
                                                               tmp_path: Path) -> None:
    index = new_index()
    root = office_folder(tmp_path / "share")
    files = sorted(p for p in root.rglob("*") if p.is_file())
    ds = create_source(kendra, index, "share", "FILESYSTEM", path=str(root))
    job = sync(kendra, index, ds)
    assert job["Status"] == "SUCCEEDED", job
    assert metrics(job) == {"Added": len(files), "Modified": 0, "Deleted": 0, "Failed": 0, "Scanned": len(files)}

    hits = kendra.query(IndexId=index, QueryText="有給休暇", AttributeFilter=JA,
                        RequestedDocumentAttributes=["_source_uri", "_category", "_file_type", "_language_code",
                                                     "_authors", "_last_updated_at", "_created_at",
                                                     "_data_source_id", "_document_title"])["ResultItems"]
    leave = next(h for h in hits if unquote(h["DocumentId"]).endswith("有給休暇の申請方法.docx"))
    attrs = {a["Key"]: a["Value"] for a in leave["DocumentAttributes"]}
    assert leave["DocumentURI"] == (root / "人事" / "有給休暇の申請方法.docx").resolve().as_uri()
    assert attrs["_category"] == {"StringValue": "人事"}
    assert attrs["_file_type"] == {"StringValue": "docx"}
    assert attrs["_language_code"] == {"StringValue": "ja"}
    assert attrs["_data_source_id"] == {"StringValue": ds}
    assert attrs["_authors"]["StringListValue"]
    assert {"_created_at", "_last_updated_at", "_document_title"} <= set(attrs)
    assert _query_ids(kendra, index, "wombat") == [(root / "notes" / "plan.txt").resolve().as_uri()]

    # Nothing changed: nothing is sent again.
    again = sync(kendra, index, ds)
    assert metrics(again) == {"Added": 0, "Modified": 0, "Deleted": 0, "Failed": 0, "Scanned": len(files)}

    # An edit, an add and a delete.
    plan = root / "notes" / "plan.txt"
    plan.write_text("Quarterly plan: retire the platypus cluster.\n")
    os.utime(plan, (time.time() + 5, time.time() + 5))
    (root / "notes" / "new.md").write_text("# New\n\nA page about narwhal husbandry.\n")
    (root / "notes" / "welcome.md").unlink()
    job = sync(kendra, index, ds)
    assert metrics(job) == {"Added": 1, "Modified": 1, "Deleted": 1, "Failed": 0, "Scanned": len(files)}
    assert _query_ids(kendra, index, "zebrafish") == []
    assert _query_ids(kendra, index, "wombat") == []
    assert len(_query_ids(kendra, index, "platypus")) == 1
    assert len(_query_ids(kendra, index, "narwhal")) == 1


def test_bad_files_fail_alone_with_reasons(kendra: Any, new_index: Any, tmp_path: Path) -> None:
    index = new_index()
    root = tmp_path / "share"
    (root / "ok").mkdir(parents=True)
    (root / "ok" / "fine.txt").write_text("a perfectly fine capybara page\n")
    (root / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage without xref\n")
    with (root / "huge.txt").open("wb") as f:  # 200 MB, sparse: never read
        f.truncate(200 * 1024 * 1024)
    (root / "dangling.md").symlink_to(root / "missing.md")
    outside = tmp_path / "secret.txt"
    outside.write_text("the secret aardvark\n")
    (root / "escape.txt").symlink_to(outside)
    job = sync(kendra, index, ds := create_source(kendra, index, "bad", "FILESYSTEM", path=str(root)))
    assert job["Status"] == "INCOMPLETE", job
    assert metrics(job)["Added"] == 1 and metrics(job)["Failed"] == 4, job
    assert "4 documents failed" in job["ErrorMessage"]
    for word in ("broken.pdf", "huge.txt", "200", "dangling.md", "escape.txt", "outside the root"):
        assert word in job["ErrorMessage"], (word, job["ErrorMessage"])
    assert len(_query_ids(kendra, index, "capybara")) == 1
    assert _query_ids(kendra, index, "aardvark") == []
    assert ds


def test_missing_folder_fails_the_job_with_the_reason(kendra: Any, new_index: Any, tmp_path: Path) -> None:
    index = new_index()
    ds = create_source(kendra, index, "gone", "FILESYSTEM", path=str(tmp_path / "nope"))
    job = sync(kendra, index, ds)
    assert job["Status"] == "FAILED"
    assert "nope" in job["ErrorMessage"] and job["DataSourceErrorCode"] == "SourceMisconfigured"


def test_gitwiki_source_syncs_vue_docs_and_follows_commits(kendra: Any, new_index: Any, tmp_path: Path) -> None:
    index = new_index()
    repo = vue_repo(tmp_path / "wiki", "guide")
    pages = markdown_count(repo)
    ds = create_source(kendra, index, "vue", "GITWIKI", repositoryUrl=str(repo),
                       webUrl="https://example.org/vue-docs/blob/main")
    job = sync(kendra, index, ds, timeout=300)
    assert job["Status"] == "SUCCEEDED", job
    assert metrics(job) == {"Added": pages, "Modified": 0, "Deleted": 0, "Failed": 0, "Scanned": pages}
    r = kendra.query(IndexId=index, QueryText="リアクティビティー", AttributeFilter=JA,
                     RequestedDocumentAttributes=["_source_uri", "_authors", "_category"])
    assert r["ResultItems"], "the Japanese Vue guide is searchable"
    top = r["ResultItems"][0]
    assert top["DocumentURI"].startswith("https://example.org/vue-docs/blob/main/")
    assert {a["Key"]: a["Value"] for a in top["DocumentAttributes"]}["_authors"] == {"StringListValue": ["Tester"]}

    md = sorted(p for p in repo.rglob("*.md"))
    md[0].write_text(md[0].read_text() + "\n\n追記: ハリネズミの飼い方。\n")
    git(repo, "rm", "-q", str(md[1].relative_to(repo)))
    (repo / "extra").mkdir()
    (repo / "extra" / "okapi.md").write_text("# Okapi\n\nThe okapi page.\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "edit, delete, add")
    job = sync(kendra, index, ds)
    assert metrics(job) == {"Added": 1, "Modified": 1, "Deleted": 1, "Failed": 0, "Scanned": 2}
    assert len(_query_ids(kendra, index, "okapi")) == 1
    assert len(_query_ids(kendra, index, "ハリネズミ", JA)) == 1
    assert md[1].name not in " ".join(_query_ids(kendra, index, "Vue", JA))


@pytest.mark.parametrize("mode", ["FORCED_FULL_CRAWL"])
def test_forced_full_crawl_sends_everything_again(kendra: Any, new_index: Any, tmp_path: Path, mode: str) -> None:
    index = new_index()
    root = tmp_path / "share"
    root.mkdir()
    for i in range(3):
        (root / f"p{i}.txt").write_text(f"page {i} about quokkas\n")
    from tests.conftest import ROLE
    from tests.sync_helpers import template

    ds = kendra.create_data_source(IndexId=index, Name="f", Type="TEMPLATE", RoleArn=ROLE,
                                   Configuration=template("FILESYSTEM", mode, path=str(root)))["Id"]
    assert metrics(sync(kendra, index, ds))["Added"] == 3
    assert metrics(sync(kendra, index, ds))["Modified"] == 3


@pytest.mark.databases  # with PostgreSQL too
def test_deleting_a_data_source_removes_its_documents(kendra: Any, new_index: Any, tmp_path: Path) -> None:
    index = new_index()
    root = tmp_path / "share"
    root.mkdir()
    (root / "a.txt").write_text("the ocelot page\n")
    ds = create_source(kendra, index, "gone", "FILESYSTEM", path=str(root))
    assert metrics(sync(kendra, index, ds))["Added"] == 1
    assert len(_query_ids(kendra, index, "ocelot")) == 1
    kendra.delete_data_source(Id=ds, IndexId=index)
    from tests.conftest import wait_for

    wait_for(lambda: _query_ids(kendra, index, "ocelot") == [], what="the source's documents to go")


def test_embedded_sync_resumes_after_the_server_is_killed(tmp_path: Path) -> None:
    from tests.conftest import ROLE, Server, make_client, wait_for
    from tests.sync_helpers import wait_job

    root = tmp_path / "share"
    root.mkdir()
    total = 400
    for i in range(total):
        (root / f"d{i:03}.txt").write_text(f"document {i} of the binturong archive\n")
    env = {"KENSAKU_SYNC_BATCH_SIZE": "5"}
    server = Server(tmp_path / "data", env=env).start()
    try:
        c = make_client(server.url)
        index = c.create_index(Name="resume", RoleArn=ROLE)["Id"]
        wait_for(lambda: c.describe_index(Id=index)["Status"] == "ACTIVE")
        ds = create_source(c, index, "many", "FILESYSTEM", path=str(root))
        ex = c.start_data_source_sync_job(Id=ds, IndexId=index)["ExecutionId"]
        wait_for(lambda: int(c.list_data_source_sync_jobs(Id=ds, IndexId=index)["History"][0]["Metrics"]
                             ["DocumentsScanned"]) >= 10, 60, "progress")
        server.kill()
        server = Server(tmp_path / "data", env=env).start()
        c = make_client(server.url)
        job = wait_job(c, index, ds, ex, timeout=180)
        assert job["Status"] == "SUCCEEDED", job
        assert metrics(job) == {"Added": total, "Modified": 0, "Deleted": 0, "Failed": 0, "Scanned": total}
        assert c.query(IndexId=index, QueryText="binturong")["TotalNumberOfResults"] == total
    finally:
        server.stop()
