"""The connector contract, checked for every source that runs without a server (contract tests as a
mixin, run over FILESYSTEM and GITWIKI), plus schedules and inclusion patterns."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest

from connectors import registry
from connectors.contract import Change, Checkpoint, Connector, Deletion, SourceMisconfigured, Upsert
from connectors.documents import kendra_document
from connectors.outbound import OutboundPolicy
from connectors.patterns import Patterns
from connectors.sources.filesystem import FilesystemConnector
from connectors.sources.gitwiki import GitWikiConnector
from kernel.language import document_language
from services.datasources import schedule
from tests.sync_helpers import git

C = TypeVar("C")


def drain(connector: Connector[C], checkpoint: C | None, known: Mapping[str, str]) -> tuple[list[Change], C]:
    gen = connector.changes(checkpoint, known)
    changes: list[Change] = []
    while True:
        try:
            changes.append(next(gen))
        except StopIteration as stop:
            return changes, stop.value


def local_policy(root: Path) -> OutboundPolicy:
    """The outbound policy with ``root`` as its one allowed local folder."""
    return OutboundPolicy.parse(["public"], [root])


class ConnectorContract:
    """Every connector: a first listing yields each item once; fetching it gives a document with that
    id, a source URI, bytes and dates; a second listing after an edit and a removal yields the edit
    (a new version) and a deletion; the checkpoint round-trips through JSON."""

    def make(self, root: Path) -> Connector[Any]:
        raise NotImplementedError

    def populate(self, root: Path) -> None:
        raise NotImplementedError

    def edit_and_remove(self, root: Path) -> None:
        raise NotImplementedError

    def test_contract(self, tmp_path: Path) -> None:
        import json

        root = tmp_path / "src"
        root.mkdir()
        self.populate(root)
        connector = self.make(root)
        changes, checkpoint = drain(connector, None, {})
        upserts = [c for c in changes if isinstance(c, Upsert)]
        assert len(upserts) == 3 and len({u.doc_id for u in upserts}) == 3
        assert isinstance(checkpoint, Checkpoint)
        assert type(checkpoint).from_json(json.loads(json.dumps(checkpoint.to_json()))) == checkpoint
        for upsert in upserts:
            doc = connector.fetch(upsert)
            assert doc.doc_id == upsert.doc_id and doc.data and doc.source_uri and doc.updated_at is not None
            kendra = kendra_document(doc, max_text_chars=100_000)
            keys = {a["Key"] for a in kendra["Attributes"]}
            assert {"_source_uri", "_document_title", "_file_type", "_language_code", "_last_updated_at"} <= keys
        known = {u.doc_id: u.version for u in upserts}
        self.edit_and_remove(root)
        changes, _ = drain(self.make(root), checkpoint, known)
        changed = [c for c in changes if isinstance(c, Upsert) and known.get(c.doc_id) != c.version]
        deleted = [c for c in changes if isinstance(c, Deletion)]
        assert len(changed) == 1 and len(deleted) == 1


class TestFilesystemContract(ConnectorContract):
    def make(self, root: Path) -> Connector[Any]:
        return FilesystemConnector(str(root), Patterns(), 10_000_000, local_policy(root))

    def populate(self, root: Path) -> None:
        (root / "a").mkdir()
        for name in ("a/one.md", "two.txt", "three.html"):
            (root / name).write_text(f"# {name}\n\ncontent of {name}\n")
        (root / "image.png").write_bytes(b"\x89PNG")  # not a document type: skipped
        (root / ".hidden.md").write_text("skipped")

    def edit_and_remove(self, root: Path) -> None:
        (root / "two.txt").write_text("changed, and longer than before\n")
        (root / "three.html").unlink()


class TestGitWikiContract(ConnectorContract):
    def make(self, root: Path) -> Connector[Any]:
        return GitWikiConnector(str(root), None, Patterns(), 10_000_000, outbound=local_policy(root))

    def populate(self, root: Path) -> None:
        git(root, "init", "-q", "-b", "main")
        (root / "docs").mkdir()
        for name in ("docs/one.md", "two.md", "three.md"):
            (root / name).write_text(f"# {name}\n\nページ {name}\n")
        (root / "code.py").write_text("print(1)\n")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "one")

    def edit_and_remove(self, root: Path) -> None:
        (root / "two.md").write_text("# two\n\n変更\n")
        git(root, "rm", "-q", "three.md")
        git(root, "commit", "-q", "-am", "two")


def test_stored_checkpoints_read_back_and_unreadable_ones_mean_a_full_listing(tmp_path: Path) -> None:
    """What the runner sees (registry.build): checkpoints as the JSON the job rows store, the keys the
    sources always wrote; a stored checkpoint that does not read as the source's own lists everything."""
    import json

    root = tmp_path / "wiki"
    root.mkdir()
    TestGitWikiContract().populate(root)
    head = git(root, "rev-parse", "HEAD").strip()
    spec = registry.ConnectorSpec("GITWIKI", {"repositoryUrl": str(root)})
    options = registry.ConnectorOptions(outbound=local_policy(root))
    changes, stored = drain(registry.build(spec, options), None, {})
    assert stored == {"commit": head}  # the JSON the source always stored
    known = {c.doc_id: c.version for c in changes if isinstance(c, Upsert)}
    assert len(known) == 3
    changes, again = drain(registry.build(spec, options), json.loads(json.dumps(stored)), known)
    assert changes == [] and again == stored  # incremental from the stored commit: nothing changed
    unreadable: list[Any] = [{"commit": 5}, {"sha": stored["commit"]}, {}, [], "x"]
    for bad in unreadable:
        changes, again = drain(registry.build(spec, options), bad, known)
        assert len([c for c in changes if isinstance(c, Upsert)]) == 3 and again == stored


@pytest.mark.parametrize(("module", "name", "stored"), [
    ("filesystem", "FilesystemCheckpoint", {"listed_at": "2026-01-02T03:04:05.000006+00:00"}),
    ("gitwiki", "GitWikiCheckpoint", {"commit": "0123456789abcdef0123456789abcdef01234567"}),
    ("s3", "S3Checkpoint", {"bucket": "docs", "prefix": "team/"}),
    ("confluence", "ConfluenceCheckpoint", {"spaces": ["ENG", "HR"]}),
    ("mediawiki", "MediaWikiCheckpoint", {"since": "2026-01-02T03:04:05Z", "rcid": 12, "logid": 3}),
    ("mediawiki", "MediaWikiCheckpoint", {"dump": "/data/wiki.xml"}),
    ("webcrawler", "WebCrawlerCheckpoint", {"crawled_at": 1767322800.25}),
])
def test_checkpoints_read_what_the_sources_stored(module: str, name: str, stored: dict[str, Any]) -> None:
    import importlib

    cls: type[Checkpoint] = getattr(importlib.import_module(f"connectors.sources.{module}"), name)
    checkpoint = cls.from_json(stored)
    assert checkpoint is not None and checkpoint.to_json() == stored
    assert cls.from_json({**stored, "added_later": 1}) == checkpoint  # unknown keys are ignored


def test_configurations_are_read_once_typed_and_a_stored_bad_one_fails_the_sync() -> None:
    from connectors.sources.mediawiki import MediaWikiConfig
    from connectors.sources.webcrawler import WebCrawlerConfig

    def spec(kind: str, endpoint: dict[str, Any]) -> registry.ConnectorSpec:
        return registry.ConnectorSpec(kind, endpoint)

    assert registry.webcrawler_config(spec("WEBCRAWLER", {"seedUrls": ["https://a.test/"]})) == WebCrawlerConfig(
        seed_urls=("https://a.test/",), crawl_depth=2, max_links_per_page=100, max_urls_per_minute=300)
    assert registry.mediawiki_config(spec("MEDIAWIKI", {"apiUrl": "https://w.test/api.php", "namespaces": [0, "4"]})) \
        == MediaWikiConfig(api_url="https://w.test/api.php", namespaces=(0, 4))
    with pytest.raises(ValueError, match="^WEBCRAWLER crawlDepth must be an integer from 0 to 10$"):
        registry.webcrawler_config(spec("WEBCRAWLER", {"seedUrls": ["https://a.test/"], "crawlDepth": 11}))
    with pytest.raises(ValueError, match="maxLinksPerPage must be an integer"):
        registry.webcrawler_config(spec("WEBCRAWLER", {"seedUrls": ["https://a.test/"], "maxLinksPerPage": "x"}))
    # A stored configuration that no longer reads fails the sync as a SourceError, not a crash.
    with pytest.raises(SourceMisconfigured, match="must be an absolute path"):
        registry.build(spec("FILESYSTEM", {"path": "relative"}), registry.ConnectorOptions())


def test_filesystem_refuses_traversal_in_fetch(tmp_path: Path) -> None:
    from connectors.contract import ItemFailed

    (tmp_path / "root").mkdir()
    (tmp_path / "secret.txt").write_text("secret")
    connector = FilesystemConnector(str(tmp_path / "root"), Patterns(), 1000, local_policy(tmp_path))
    with pytest.raises(ItemFailed, match="outside the root"):
        connector.fetch(Upsert("x", "1", {"path": "../secret.txt"}))
    with pytest.raises(SourceMisconfigured):
        drain(FilesystemConnector(str(tmp_path / "missing"), Patterns(), 1000, local_policy(tmp_path)), None, {})


def test_patterns_include_and_exclude() -> None:
    p = Patterns(include=("**/*.md", "*.txt"), exclude=("drafts/**",))
    assert p.allows("guide/intro.md") and p.allows("notes.txt") and p.allows("a/b/notes.txt")
    assert not p.allows("drafts/x.md") and not p.allows("guide/intro.pdf")
    assert Patterns().allows("anything")


def test_language_detection() -> None:
    assert document_language("東京都は日本の首都です。Tokyo.") == "ja"
    assert document_language("The capital of Japan is Tokyo (東京).") == "en"


def _t(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@pytest.mark.parametrize(("expression", "since", "now", "fires"), [
    ("0 3 * * *", "2025-01-01T02:59:30", "2025-01-01T03:00:10", True),
    ("0 3 * * *", "2025-01-01T03:00:10", "2025-01-01T03:59:00", False),
    ("cron(0 12 * * ? *)", "2025-01-01T11:00:00", "2025-01-01T12:00:00", True),
    ("cron(15 10 ? * MON-FRI *)", "2025-01-04T10:00:00", "2025-01-04T10:30:00", False),  # a Saturday
    ("cron(15 10 ? * MON-FRI *)", "2025-01-06T10:00:00", "2025-01-06T10:30:00", True),  # a Monday
    ("*/15 * * * *", "2025-01-01T00:01:00", "2025-01-01T00:14:59", False),
    ("*/15 * * * *", "2025-01-01T00:01:00", "2025-01-01T00:15:00", True),
])
def test_schedule_fires_when_due(expression: str, since: str, now: str, fires: bool) -> None:
    assert schedule.due(expression, _t(since), _t(now)) is fires


@pytest.mark.parametrize("bad", ["every day", "61 * * * *", "cron(0 12 * * ?)", "* * * *", "0 3 * * MOON"])
def test_bad_schedules_are_refused(bad: str) -> None:
    with pytest.raises(schedule.ScheduleError):
        schedule.parse(bad)




def test_supervisor_starts_scheduled_syncs(tmp_path: Path) -> None:
    """The schedule check of the server's supervisor, in-process with a recording launcher."""
    import time

    from services.datasources.jobs import JobTracker
    from services.datasources.service import DataSourceService
    from services.datasources.supervisor import Supervisor
    from services.index.service import IndexService
    from services.index.store import Store
    from services.settings import Settings

    settings = Settings(data_dir=tmp_path, index_creating_seconds=0)
    store = Store(tmp_path / "kensaku.sqlite3")
    launched: list[str] = []

    class Recorder:
        def launch(self, job_id: str) -> None:
            launched.append(job_id)

    indexes = IndexService(settings, store, jobs=JobTracker(store))
    service = DataSourceService(indexes, store, Recorder(), local_policy(tmp_path))
    index = service.indexes.create_index({"Name": "i"})["Id"]
    config = {"TemplateConfiguration": {"Template": {"type": "FILESYSTEM", "connectionConfiguration": {
        "repositoryEndpointMetadata": {"path": str(tmp_path)}}}}}
    ds = service.create_data_source({"IndexId": index, "Name": "s", "Type": "TEMPLATE", "Configuration": config,
                                     "RoleArn": "arn:aws:iam::000000000000:role/kendra",
                                     "Schedule": "cron(0 3 * * ? *)"})["Id"]
    supervisor = Supervisor(service, Recorder(), interval=1, resume=False)
    created = time.time()
    next_three = int(created // 86400) * 86400 + 3 * 3600  # the first 03:00 UTC after the source was created
    if next_three <= created:
        next_three += 86400
    supervisor.tick(next_three - 60)
    assert launched == []
    supervisor.tick(next_three + 5)
    assert len(launched) == 1
    supervisor.tick(next_three + 65)  # the same minute does not fire twice
    assert len(launched) == 1
    assert service.list_data_source_sync_jobs({"Id": ds, "IndexId": index})["History"][0]["ExecutionId"] == launched[0]
    store.close()


def test_transient_source_errors_are_retried_with_backoff() -> None:
    from connectors.contract import SourceUnavailable
    from connectors.runner import with_retries

    calls: list[int] = []
    waits: list[float] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise SourceUnavailable("try later")
        return "ok"

    assert with_retries(flaky, retries=3, backoff=0.5, what="flaky", sleep=waits.append) == "ok"
    assert len(calls) == 3 and waits == [0.5, 1.0]  # the wait doubles
    attempts: list[int] = []

    def down() -> str:
        attempts.append(1)
        raise SourceUnavailable("down")

    with pytest.raises(SourceUnavailable):
        with_retries(down, retries=2, backoff=0.5, what="down", sleep=waits.append)
    assert len(attempts) == 3 and waits == [0.5, 1.0, 0.5, 1.0]  # no wait after the last try
