"""A ``kensaku serve`` child process on a free local port: what the tests and the benchmarks start.

``LocalServer(data_dir, env).start()`` runs ``python -m kensaku.cli serve --port <free> --data-dir
<data_dir>`` from the repository root with this process's environment plus ``env``, and returns once
``/health`` answers 200; ``stop()`` asks it to shut down (SIGTERM), and kills it after a while. It is
also a context manager (start on enter, stop on exit).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

REPO_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (now: take it soon)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerFailed(RuntimeError):
    """The server exited before it answered, or did not answer in time."""


class LocalServer:
    """A ``kensaku serve`` child process; ``url`` is where it listens once started."""

    def __init__(self, data_dir: Path, env: Mapping[str, str] | None = None, *,
                 args: Sequence[str] = (), ready_timeout: float = 60.0, stop_timeout: float = 20.0) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **(env or {})}
        self.args = list(args)
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, output: IO[bytes] | None = None) -> Self:
        """Start the server (its output to ``output``, else this process's) and wait until it answers."""
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kensaku.cli", "serve", "--port", str(self.port), "--data-dir", str(self.data_dir),
             *self.args],
            cwd=REPO_ROOT, env=self.env, stdout=output, stderr=subprocess.STDOUT if output is not None else None,
        )
        deadline = time.time() + self.ready_timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise ServerFailed(f"server exited with {self.proc.returncode}")
            if self.healthy():
                return self
            time.sleep(0.1)
        raise ServerFailed("server did not start")

    def healthy(self) -> bool:
        """Whether ``/health`` answers 200."""
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:
                return int(response.status) == 200
        except (OSError, urllib.error.URLError):
            return False

    def stop(self) -> None:
        """Shut the server down (SIGTERM), killing it when it has not stopped within ``stop_timeout``."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks run."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()
