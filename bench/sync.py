"""Sync throughput: documents per second from StartDataSourceSyncJob to the job's end (documents
fetched, extracted, sent through BatchPutDocument and indexed), for the Vue Markdown corpus (a GITWIKI
source: vue-docs-ja + vue-docs-en in one git repository) and the office folder (a FILESYSTEM source,
``--office-copies`` copies of ../shared/data/corpora/office), in embedded mode and with Celery workers
on a local redis-server.

    python bench/sync.py [--modes embedded,celery] [--workers 2] [--office-copies 5]

Prints a Markdown table. Each run uses a fresh server and data folder.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import REPO_ROOT, ROLE_ARN, LocalServer, create_index, free_port, make_client  # noqa: E402

SHARED = Path(os.environ.get("KENSAKU_SHARED_DIR", REPO_ROOT.parent / "shared"))
CORPORA = SHARED / "data" / "corpora"
ENDED = ("SUCCEEDED", "INCOMPLETE", "FAILED", "ABORTED")


def _git(repo: Path, *args: str) -> None:
    env = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@example.com", "GIT_COMMITTER_NAME": "bench",
           "GIT_COMMITTER_EMAIL": "b@example.com", "HOME": str(repo), "PATH": "/usr/bin:/bin"}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def vue_repo(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for lang in ("ja", "en"):
        shutil.copytree(CORPORA / f"vue-docs-{lang}", dest / lang)
    _git(dest, "init", "-q", "-b", "main")
    _git(dest, "add", "-A")
    _git(dest, "commit", "-q", "-m", "import")
    return dest


def office_folder(dest: Path, copies: int) -> Path:
    for i in range(copies):
        shutil.copytree(CORPORA / "office", dest / f"copy{i}")
    return dest


def template(kind: str, **endpoint: str) -> dict[str, Any]:
    return {"TemplateConfiguration": {"Template": {
        "type": kind, "syncMode": "FULL_CRAWL", "connectionConfiguration": {"repositoryEndpointMetadata": endpoint},
        "additionalProperties": {}}}}


def run_sync(client: Any, index: str, name: str, kind: str, **endpoint: str) -> tuple[dict[str, str], float]:
    ds = client.create_data_source(IndexId=index, Name=name, Type="TEMPLATE", RoleArn=ROLE_ARN,
                                   Configuration=template(kind, **endpoint))["Id"]
    t0 = time.monotonic()
    ex = client.start_data_source_sync_job(Id=ds, IndexId=index)["ExecutionId"]
    while True:
        for job in client.list_data_source_sync_jobs(Id=ds, IndexId=index)["History"]:
            if job["ExecutionId"] == ex and job["Status"] in ENDED:
                return job["Metrics"] | {"Status": job["Status"]}, time.monotonic() - t0
        time.sleep(0.1)


def start_redis() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, start_new_session=True)
    for _ in range(100):
        if subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout.strip() == b"PONG":
            break
        time.sleep(0.1)
    return proc, f"redis://127.0.0.1:{port}/0"


def bench_mode(mode: str, workers: int, sources: dict[str, tuple[str, dict[str, str]]]) -> list[list[str]]:
    rows: list[list[str]] = []
    redis_proc = None
    saved = dict(os.environ)
    worker_procs: list[subprocess.Popen[bytes]] = []
    try:
        # the sources are copied into the temporary folder, which the outbound policy must open
        os.environ.setdefault("KENSAKU_CONNECTOR_LOCAL_ROOTS", str(Path(tempfile.gettempdir()).resolve()))
        if mode == "celery":
            redis_proc, url = start_redis()
            os.environ.update({"KENSAKU_SYNC_MODE": "celery", "KENSAKU_SYNC_BROKER_URL": url,
                               "KENSAKU_LOG_LEVEL": "warning"})
        with LocalServer() as server:
            if mode == "celery":
                env = {**os.environ, "KENSAKU_DATA_DIR": str(server.data_dir),
                       "KENSAKU_CONNECTOR_ENDPOINT": server.endpoint}
                worker_procs = [subprocess.Popen([sys.executable, "-m", "kensaku.cli", "worker", "--concurrency",
                                                  "1"], cwd=REPO_ROOT, env=env, start_new_session=True,
                                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                                for _ in range(workers)]
            client = make_client(server.endpoint)
            for name, (kind, endpoint) in sources.items():
                slug = "".join(ch if ch.isalnum() else "-" for ch in name).strip("-")
                index = create_index(client, f"bench-{slug}")
                metrics, seconds = run_sync(client, index, slug, kind, **endpoint)
                docs = int(metrics["DocumentsScanned"])
                label = "embedded" if mode == "embedded" else f"celery, {workers} workers"
                rows.append([name, label, str(docs), metrics["DocumentsFailed"], metrics["Status"],
                             f"{seconds:.1f}", f"{docs / seconds:.1f}"])
                print(f"# {name} {label}: {docs} docs in {seconds:.1f} s", file=sys.stderr)
    finally:
        for p in worker_procs:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(timeout=30)
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait()
        os.environ.clear()
        os.environ.update(saved)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="embedded,celery")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--office-copies", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kensaku-sync-bench-") as tmp:
        repo = vue_repo(Path(tmp) / "vue")
        office = office_folder(Path(tmp) / "office", args.office_copies)
        sources = {"vue-docs (GITWIKI)": ("GITWIKI", {"repositoryUrl": str(repo)}),
                   f"office x{args.office_copies} (FILESYSTEM)": ("FILESYSTEM", {"path": str(office)})}
        rows: list[list[str]] = []
        for mode in args.modes.split(","):
            rows += bench_mode(mode, args.workers, sources)
    load = os.getloadavg()
    print(f"\nload average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; cores: {os.cpu_count()}\n")
    print("| source | mode | documents | failed | status | seconds | documents/s |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
