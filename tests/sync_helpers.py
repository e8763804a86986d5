"""Helpers for connector sync tests: source folders and git repositories made from the shared corpora,
TEMPLATE configurations, and waiting for a sync job to end."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import ROLE, SHARED, wait_for

OFFICE = SHARED / "data" / "corpora" / "office"
VUE_JA = SHARED / "data" / "corpora" / "vue-docs-ja"
ENDED = ("SUCCEEDED", "INCOMPLETE", "FAILED", "ABORTED")


def template(kind: str, sync_mode: str = "FULL_CRAWL", **endpoint: Any) -> dict[str, Any]:
    return {"TemplateConfiguration": {"Template": {
        "type": kind, "syncMode": sync_mode,
        "connectionConfiguration": {"repositoryEndpointMetadata": endpoint},
        "additionalProperties": {"inclusionPatterns": [], "exclusionPatterns": []},
    }}}


def create_source(kendra: Any, index: str, name: str, kind: str, **endpoint: Any) -> str:
    ds: str = kendra.create_data_source(IndexId=index, Name=name, Type="TEMPLATE", RoleArn=ROLE,
                                        Configuration=template(kind, **endpoint))["Id"]
    return ds


def sync(kendra: Any, index: str, ds: str, timeout: float = 120) -> dict[str, Any]:
    """Start a sync job and wait for it to end; the job as ListDataSourceSyncJobs reports it."""
    ex = kendra.start_data_source_sync_job(Id=ds, IndexId=index)["ExecutionId"]
    return wait_job(kendra, index, ds, ex, timeout)


def wait_job(kendra: Any, index: str, ds: str, ex: str, timeout: float = 120) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        for job in kendra.list_data_source_sync_jobs(Id=ds, IndexId=index)["History"]:
            if job["ExecutionId"] == ex and job["Status"] in ENDED:
                return dict(job)
        return None

    result: dict[str, Any] = wait_for(ended, timeout, f"sync job {ex} to end")
    return result


def metrics(job: dict[str, Any]) -> dict[str, int]:
    return {k.removeprefix("Documents"): int(v) for k, v in job["Metrics"].items()}


def office_folder(dest: Path) -> Path:
    """The self-authored Japanese Office files (docx, pptx, xlsx) plus two small text pages."""
    shutil.copytree(OFFICE / "authored", dest)
    (dest / "notes").mkdir()
    (dest / "notes" / "welcome.md").write_text("# Welcome\n\nThe onboarding checklist for zebrafish lab.\n")
    (dest / "notes" / "plan.txt").write_text("Quarterly plan: migrate the wombat cluster.\n")
    return dest


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env={"GIT_AUTHOR_NAME": "Tester", "GIT_AUTHOR_EMAIL": "t@example.com",
                               "GIT_COMMITTER_NAME": "Tester", "GIT_COMMITTER_EMAIL": "t@example.com",
                               "HOME": str(repo), "PATH": "/usr/bin:/bin"})
    return done.stdout


def vue_repo(dest: Path, subfolder: str | None = None) -> Path:
    """A git repository of the Japanese Vue docs (or one folder of them), one commit."""
    source = VUE_JA / subfolder if subfolder else VUE_JA
    shutil.copytree(source, dest)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "import")
    return dest


def markdown_count(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.suffix in (".md", ".markdown") and ".git" not in p.parts)
