"""KensakuLoadDemo: the admin page's "Load the sample documents" button (docs/api.md, "Extension operations").

A Kensaku extension operation on the Kendra protocol. It runs the loader of ``kensaku demo``
(services/demo/loader.py) in the server, in the background, through the server's own Kendra handlers
(each request validated against botocore's model as if it had come over HTTP), into the index
``kensaku-demo`` (made if missing). Request: ``{}`` starts a load, unless one runs: then the call only
returns its progress. A load sends only the documents not yet INDEXED, so calling it again never
doubles anything. ``{"StatusOnly": true}`` starts nothing and says how the last load went (polling).

Response: ``Status`` LOADING, SUCCEEDED, FAILED (``Message`` says why) or NONE (no load since the
server started; only with StatusOnly); ``IndexId`` (once known),
``IndexName``, ``Total`` (documents in the sample), ``AlreadyIndexed``, ``Sent``, ``Indexed`` (of those
sent), ``Failed`` (documents that could not be indexed).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

from kernel import model
from kernel.errors import ValidationException
from kernel.handlers import NotBuilt
from services.demo.loader import DEMO_INDEX_NAME, Call, DemoReport, load_demo

log = logging.getLogger("kensaku.demo")


def local_call(table: Mapping[str, Any]) -> Call:
    """A loader ``call`` that runs the server's own handlers, with input parsed as the HTTP path parses it."""

    def call(operation: str, params: dict[str, Any]) -> dict[str, Any]:
        handler = table[operation]
        if isinstance(handler, NotBuilt):
            raise handler.refuse()
        # bytes (Blob) travel as base64, as in a request body; parse_input turns them back into bytes
        wire = json.loads(json.dumps(params, default=lambda b: base64.b64encode(b).decode("ascii")))
        result: dict[str, Any] = handler(model.parse_input(operation, wire))
        return result

    return call


class DemoLoads:
    """The handler of KensakuLoadDemo; at most one load at a time."""

    def __init__(self, table: Mapping[str, Any]) -> None:
        self._call = local_call(table)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._report: DemoReport | None = None
        self._status = ""
        self._message = ""

    def operations(self) -> dict[str, Any]:
        return {"KensakuLoadDemo": self.load}

    def load(self, p: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(p, dict):
            raise ValidationException("The request body must be a JSON object")
        unknown = sorted(set(p) - {"StatusOnly"})
        if unknown:
            raise ValidationException(f"Unknown member(s): {', '.join(unknown)}")
        status_only = p.get("StatusOnly", False)
        if not isinstance(status_only, bool):
            raise ValidationException("StatusOnly must be true or false")
        with self._lock:
            if not status_only and (self._thread is None or not self._thread.is_alive()):
                self._report, self._status, self._message = DemoReport(), "LOADING", ""
                self._thread = threading.Thread(target=self._run, args=(self._report,), name="demo-load",
                                                daemon=True)
                self._thread.start()
            return self._state()

    def _run(self, report: DemoReport) -> None:
        try:
            load_demo(self._call, lambda line: log.info("demo: %s", line), report=report)
            status, message = "SUCCEEDED", ""
        except Exception as error:  # said to the page that asked; the server keeps serving
            log.warning("demo: the sample could not be loaded: %s", error)
            status, message = "FAILED", str(getattr(error, "message", None) or error)
        with self._lock:
            self._status, self._message = status, message

    def _state(self) -> dict[str, Any]:
        report = self._report or DemoReport()
        state: dict[str, Any] = {"Status": self._status or "NONE", "IndexName": DEMO_INDEX_NAME, "Total": report.total,
                                 "AlreadyIndexed": report.already, "Sent": report.sent, "Indexed": report.indexed,
                                 "Failed": len(report.failed)}
        if report.index_id:
            state["IndexId"] = report.index_id
        if self._message:
            state["Message"] = self._message
        return state
