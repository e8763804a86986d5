"""`kensaku serve` as a process: safe by default off loopback (issue 14, part 5), one per data folder,
quiet about clients that hang up (issue 20, 9).

With auth off and no authenticating proxy, an address other than loopback would let anyone who
reaches it call every operation; the command refuses to start and says why, unless told the network
is trusted.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from kensaku.cli import exposure_refusal, is_loopback
from services.settings import Settings
from tests.conftest import REPO, free_port


def _serve(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "kensaku.cli", "serve", "--data-dir", str(tmp_path / "data"), *args],
        cwd=REPO, env={**os.environ, "KENSAKU_LOG_LEVEL": "warning", "KENSAKU_EMBEDDER": "none", **(env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _answers(proc: subprocess.Popen[str], port: int) -> bool:
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            time.sleep(0.1)
    return False


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "search.example.com"])
def test_serve_off_loopback_without_auth_refuses_to_start_and_says_why(tmp_path: Path, host: str) -> None:
    proc = _serve(tmp_path, "--host", host, "--port", str(free_port()))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert f"refusing to listen on {host}" in err
    for remedy in ("KENSAKU_AUTH_MODE=sigv4", "KENSAKU_TRUSTED_USER_HEADER", "--trust-network"):
        assert remedy in err
    assert not (tmp_path / "data").exists()  # refused before anything was created


def test_serve_off_loopback_starts_when_the_network_is_trusted(tmp_path: Path) -> None:
    port = free_port()
    proc = _serve(tmp_path, "--host", "0.0.0.0", "--port", str(port), "--trust-network")
    try:
        assert _answers(proc, port)
    finally:
        _stop(proc)


def test_serve_off_loopback_starts_with_sigv4(tmp_path: Path) -> None:
    port = free_port()
    proc = _serve(tmp_path, "--host", "0.0.0.0", "--port", str(port),
                  env={"KENSAKU_AUTH_MODE": "sigv4", "KENSAKU_ACCESS_KEYS": '{"AKID": "secret"}'})
    try:
        assert _answers(proc, port)
    finally:
        _stop(proc)


def test_which_settings_may_serve_off_loopback() -> None:
    def refused(**values: Any) -> bool:
        return exposure_refusal(Settings.model_validate(values)) is not None

    for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"):
        assert is_loopback(host) and not refused(host=host)
    assert refused(host="0.0.0.0")
    assert not refused(host="0.0.0.0", trust_network=True)
    assert not refused(host="0.0.0.0", auth_mode="sigv4", access_keys={"AKID": "secret"})
    assert not refused(host="0.0.0.0", trusted_user_header="X-Forwarded-User")


def test_a_second_server_on_a_data_folder_in_use_stops_before_starting_anything(tmp_path: Path) -> None:
    port = free_port()
    first = _serve(tmp_path, "--port", str(port))
    try:
        assert _answers(first, port)
        for second_port in (port, free_port()):  # the same port (which it could not bind) or another
            second = _serve(tmp_path, "--port", str(second_port))
            out, err = second.communicate(timeout=60)
            assert second.returncode == 2, err
            assert "is in use by another Kensaku server" in err and str(first.pid) in err
            assert "Kendra API on" not in out and "Traceback" not in err  # nothing started, nothing broke
        assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200  # the first goes on
    finally:
        _stop(first)
    again = _serve(tmp_path, "--port", str(port))  # the lock went with the first server
    try:
        assert _answers(again, port)
    finally:
        _stop(again)


def test_clients_that_hang_up_mid_request_are_no_errors(tmp_path: Path) -> None:
    port = free_port()
    proc = _serve(tmp_path, "--port", str(port), env={"KENSAKU_LOG_LEVEL": "info", "KENSAKU_ADMIN_TOKEN": "t"})
    try:
        assert _answers(proc, port)
        for path, target in (("/", "AWSKendraFrontendService.ListIndices"), ("/admin/session", "")):
            with socket.create_connection(("127.0.0.1", port)) as sock:  # promises 1000 bytes, sends 5, leaves
                sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             f"X-Amz-Target: {target}\r\nContent-Length: 1000\r\n\r\n{{\"a\":".encode())
                time.sleep(0.3)
        time.sleep(0.5)
        assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert err.count("left before its POST") == 2, err
    assert "Traceback" not in err and " ERROR " not in err, err
