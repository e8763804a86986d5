"""Slack user -> the directory user and groups a Query's UserContext carries.

The mapping is a JSON file (``KENSAKU_SLACK_USER_MAP``)::

    {"U012ABCDEF": {"UserId": "alice@example.com", "Groups": ["engineering", "tokyo"]},
     "T0TEAM/U0OTHER": {"UserId": "bob@example.com"}}

keyed by Slack user id, or ``team/user`` where ids of several workspaces might clash. It is re-read
when the file changes.

Kendra's ACL rule is that a Query *without* UserContext sees every document, so an unmapped Slack user
must never query without one. Such a user is sent as ``UserId = "slack:<team>/<user>"``, a principal
no directory uses: documents without an ACL (public) stay visible, every document with an allow list
is hidden unless it names that Slack principal explicitly, and deny lists still apply.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

UNMAPPED_PREFIX = "slack:"

log = logging.getLogger("kensaku.chat")


class UserMapError(ValueError):
    """The mapping file is not a JSON object of Slack id -> {"UserId": str, "Groups": [str]}."""


class SlackUsers:
    """Resolves Slack users to Kendra UserContexts from an optional mapping file."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._stamp: float | None = None
        self._map: dict[str, dict[str, Any]] = {}
        if path is not None:
            self._load()  # fail fast on a bad file

    def user_context(self, team_id: str | None, user_id: str) -> dict[str, Any]:
        """The UserContext for a Slack user; never empty (see the module docstring)."""
        mapping = self._current()
        entry = mapping.get(f"{team_id}/{user_id}") or mapping.get(user_id)
        if entry is None:
            return {"UserId": f"{UNMAPPED_PREFIX}{team_id or '-'}/{user_id}"}
        context: dict[str, Any] = {"UserId": entry["UserId"]}
        if entry.get("Groups"):
            context["Groups"] = list(entry["Groups"])
        return context

    def _current(self) -> dict[str, dict[str, Any]]:
        if self._path is None:
            return {}
        with self._lock:
            try:
                stamp = self._path.stat().st_mtime
            except OSError as error:
                log.warning("KENSAKU_SLACK_USER_MAP: %s (keeping the previous mapping)", error)
                return self._map
            if stamp != self._stamp:
                try:
                    self._load()
                except UserMapError as error:  # keep the last good mapping, warn once per change
                    log.warning("%s (keeping the previous mapping)", error)
                    self._stamp = stamp
            return self._map

    def _load(self) -> None:
        assert self._path is not None
        stamp = self._path.stat().st_mtime
        try:
            raw = json.loads(self._path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise UserMapError(f"KENSAKU_SLACK_USER_MAP: cannot read {self._path}: {error}") from None
        if not isinstance(raw, dict):
            raise UserMapError("KENSAKU_SLACK_USER_MAP: the file must hold a JSON object")
        for key, entry in raw.items():
            ok = (isinstance(entry, dict) and isinstance(entry.get("UserId"), str) and entry["UserId"]
                  and all(isinstance(g, str) and g for g in entry.get("Groups", [])))
            if not ok:
                raise UserMapError(
                    f'KENSAKU_SLACK_USER_MAP: {key!r} must map to {{"UserId": "...", "Groups": ["..."]}}')
        self._map, self._stamp = raw, stamp
