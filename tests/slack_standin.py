"""A local stand-in for Slack's side of a Slack app, speaking Slack's documented Web API.

Slack is a SaaS and cannot run here, so tests point ``KENSAKU_SLACK_API_URL`` at this server. It
answers the Web API methods the app calls (``auth.test``, ``chat.postMessage``, as documented at
https://api.slack.com/methods: form or JSON bodies, ``Authorization: Bearer <token>``, ``{"ok": ...}``
replies) and the ``response_url`` Slack hands out with slash commands and button presses
(https://api.slack.com/interactivity/handling#message_responses). Every call is recorded.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

TEAM_ID = "T0TEST"
BOT_USER_ID = "U0BOT"


@dataclass
class Call:
    """One request the app made: ``method`` is the Web API method or ``response_url``."""

    method: str
    path: str
    token: str | None
    body: dict[str, Any]


class SlackStandIn:
    """``url`` + ``/api/`` is the Web API base; ``response_url(name)`` makes a response URL."""

    def __init__(self, bot_token: str) -> None:
        self.bot_token = bot_token
        self.calls: list[Call] = []
        self._changed = threading.Condition()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8")
                if "json" in (self.headers.get("Content-Type") or ""):
                    body = json.loads(raw or "{}")
                else:
                    body = {k: v[0] for k, v in parse_qs(raw).items()}
                    for key in ("blocks", "attachments"):
                        if isinstance(body.get(key), str):
                            body[key] = json.loads(body[key])
                auth = self.headers.get("Authorization") or ""
                token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else body.get("token")
                path = self.path.split("?")[0]
                if path.startswith("/api/"):
                    reply = stand_in._web_api(path[len("/api/"):], token, body)
                elif path.startswith("/response/"):
                    stand_in._record(Call("response_url", path, token, body))
                    reply = {"ok": True}
                else:
                    reply = {"ok": False, "error": "unknown_method"}
                payload = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> SlackStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def response_url(self, name: str) -> str:
        return f"{self.url}/response/{name}"

    def _web_api(self, method: str, token: str | None, body: dict[str, Any]) -> dict[str, Any]:
        self._record(Call(method, f"/api/{method}", token, body))
        if token != self.bot_token:
            return {"ok": False, "error": "invalid_auth"}
        if method == "auth.test":
            return {"ok": True, "url": "https://kensaku-test.slack.com/", "team": "Test", "user": "kensaku",
                    "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": "B0BOT"}
        if method == "chat.postMessage":
            if not body.get("channel") or not (body.get("text") or body.get("blocks")):
                return {"ok": False, "error": "no_text" if body.get("channel") else "channel_not_found"}
            ts = f"{time.time():.6f}"
            return {"ok": True, "channel": body["channel"], "ts": ts,
                    "message": {"type": "message", "text": body.get("text", ""), "ts": ts}}
        return {"ok": False, "error": "unknown_method"}

    def _record(self, call: Call) -> None:
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    def wait_for(self, match: Callable[[Call], bool], timeout: float = 30) -> Call:
        """The first recorded call matching ``match``, waiting for it up to ``timeout`` seconds."""
        deadline = time.time() + timeout
        with self._changed:
            while True:
                found = next((c for c in self.calls if match(c)), None)
                if found is not None:
                    return found
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError(f"Slack stand-in: no matching call among {self.calls!r}")
                self._changed.wait(left)
