"""Query suggestions through the Kendra API: GetQuerySuggestions, its config and block lists.

Suggestions are served from an in-memory build per index (``IndexBuild``): the query-log
candidates and the suggestable document attribute values, each in a ``PrefixIndex``. A build is
made on first use, dropped when the config, a block list or a clear changes what it would hold, and
remade in the background every ``suggestions_refresh_seconds`` (so new queries show up within that
time). With a refresh of 0 every call builds afresh (tests, demos).

Config, clear times and block lists live in the analytics store (``migrations.ANALYTICS``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from analytics.blocklists import BlockListSourceError, parse_entries, read_source
from analytics.events import Clock
from analytics.store import AnalyticsStore
from analytics.suggestions import MAX_PREFIX, MIN_PREFIX, PrefixIndex, blocked, is_suggestible, suggestion_form
from kernel.errors import KendraError, ResourceNotFoundException, ValidationException
from kernel.paging import page
from kernel.times import from_epoch
from services.settings import Settings

log = logging.getLogger("kensaku.analytics")

DAY = 86_400.0
MAX_SUGGESTIONS = 10
TITLE = "_document_title"

# Kendra's defaults (MinimumQueryCount is undocumented; 1 is ours, reported by Describe).
DEFAULT_CONFIG: dict[str, Any] = {
    "Mode": "ENABLED",
    "QueryLogLookBackWindowInDays": 180,
    "IncludeQueriesWithoutUserInformation": True,
    "MinimumNumberOfQueryingUsers": 3,
    "MinimumQueryCount": 1,
    # Kensaku default: titles are suggestable.
    "AttributeSuggestionsConfig": {
        "SuggestableConfigList": [{"AttributeName": TITLE, "Suggestable": True}],
        "AttributeSuggestionsMode": "ACTIVE",
    },
}


class DocumentSource(Protocol):
    """What attribute suggestions need from the index (``services.query.suggestion_documents``)."""

    def suggestable(self, index_id: str, name: str) -> bool: ...

    def values(self, index_id: str, names: list[str]) -> list[tuple[str, str, str]]: ...

    def visible(self, index_id: str, doc_ids: list[str], attribute_filter: dict[str, Any] | None,
                user_context: dict[str, Any] | None) -> set[str]: ...

    def attributes(self, index_id: str, doc_ids: list[str],
                   names: list[str]) -> dict[str, list[dict[str, Any]]]: ...

    def titles(self, index_id: str, doc_ids: list[str]) -> dict[str, str | None]: ...

    def version(self, index_id: str) -> object: ...


@dataclass(slots=True)
class IndexBuild:
    """The suggestions of one index at one time."""

    queries: PrefixIndex
    attributes: PrefixIndex  # payload: list of (document id, attribute name)
    built_at: float
    marker: tuple[Any, ...] = ()  # what it was built from: unchanged -> no rebuild needed


class SuggestionService:
    """GetQuerySuggestions, Describe/Update/ClearQuerySuggestionsConfig and the block-list operations."""

    def __init__(self, settings: Settings, store: AnalyticsStore, clock: Clock, *,
                 require_index: Callable[[str], object], documents: DocumentSource | None = None) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self._require_index = require_index
        self._documents = documents
        self._builds: dict[str, IndexBuild] = {}
        self._build_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the background refresher (none when the refresh interval is 0)."""
        if self.settings.suggestions_refresh_seconds > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._refresh_loop, name="kensaku-suggestions", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _refresh_loop(self) -> None:
        while not self._stopping.wait(self.settings.suggestions_refresh_seconds):
            for index_id, build in list(self._builds.items()):
                try:
                    self._require_index(index_id)
                except KendraError:  # deleted or being deleted: forget it
                    self.invalidate(index_id)
                    continue
                try:
                    # Rebuild only when queries arrived or the documents changed (and at least daily,
                    # as the look-back window moves).
                    if build.marker != self._marker(index_id) or self.clock() - build.built_at > DAY:
                        self._build(index_id)
                except Exception:  # an index deleted meanwhile, a locked file: try again next round
                    log.exception("suggestions: rebuilding %s failed", index_id)

    def invalidate(self, index_id: str) -> None:
        """Forget the build of an index; the next call makes a new one."""
        self._builds.pop(index_id, None)

    # -- config -----------------------------------------------------------------------------------

    def config(self, index_id: str) -> tuple[dict[str, Any], float | None]:
        """The index's config (defaults filled in) and its last clear time."""
        rows = self.store.rows("SELECT config, last_clear FROM suggestion_configs WHERE index_id = ?", (index_id,))
        if not rows:
            return json.loads(json.dumps(DEFAULT_CONFIG)), None
        return {**DEFAULT_CONFIG, **json.loads(rows[0][0])}, rows[0][1]

    def _save_config(self, index_id: str, config: dict[str, Any], last_clear: float | None) -> None:
        self.store.execute(
            "DELETE FROM suggestion_configs WHERE index_id = ?", (index_id,),
            "INSERT INTO suggestion_configs (index_id, config, last_clear) VALUES (?, ?, ?)",
            (index_id, json.dumps(config), last_clear),
        )
        self.invalidate(index_id)

    def describe_config(self, p: dict[str, Any]) -> dict[str, Any]:
        """DescribeQuerySuggestionsConfig."""
        index_id = p["IndexId"]
        self._require_index(index_id)
        config, last_clear = self.config(index_id)
        updating = self._build_lock(index_id).locked()  # a rebuild is running now
        build = self._current(index_id)
        return {
            **config,
            "Status": "UPDATING" if updating else "ACTIVE",
            "LastSuggestionsBuildTime": from_epoch(build.built_at),
            "LastClearTime": from_epoch(last_clear),
            "TotalSuggestionsCount": len(build.queries),
        }

    def update_config(self, p: dict[str, Any]) -> None:
        """UpdateQuerySuggestionsConfig: only the members given change."""
        index_id = p["IndexId"]
        self._require_index(index_id)
        config, last_clear = self.config(index_id)
        days = p.get("QueryLogLookBackWindowInDays")
        if days is not None and not 0 <= days <= 365:
            raise ValidationException("QueryLogLookBackWindowInDays must be between 0 and 365")
        for key in ("Mode", "QueryLogLookBackWindowInDays", "IncludeQueriesWithoutUserInformation",
                    "MinimumNumberOfQueryingUsers", "MinimumQueryCount"):
            if key in p:
                config[key] = p[key]
        attrs = p.get("AttributeSuggestionsConfig")
        if attrs is not None:
            current = dict(config["AttributeSuggestionsConfig"])
            if "SuggestableConfigList" in attrs:
                for item in attrs["SuggestableConfigList"]:
                    name = item.get("AttributeName")
                    if not name:
                        raise ValidationException("SuggestableConfigList items need an AttributeName")
                    if self._documents is not None and not self._documents.suggestable(index_id, name):
                        raise ValidationException(
                            f"{name} cannot be suggested from: it must be _document_title or a STRING or"
                            " STRING_LIST field of the index")
                current["SuggestableConfigList"] = attrs["SuggestableConfigList"]
            if "AttributeSuggestionsMode" in attrs:
                current["AttributeSuggestionsMode"] = attrs["AttributeSuggestionsMode"]
            config["AttributeSuggestionsConfig"] = current
        self._save_config(index_id, config, last_clear)

    def clear(self, p: dict[str, Any]) -> None:
        """ClearQuerySuggestions: the log is kept; only queries after now count from now on."""
        index_id = p["IndexId"]
        self._require_index(index_id)
        config, _ = self.config(index_id)
        self._save_config(index_id, config, self.clock())

    # -- building ---------------------------------------------------------------------------------

    def _build_lock(self, index_id: str) -> threading.Lock:
        with self._lock:
            return self._build_locks.setdefault(index_id, threading.Lock())

    def _current(self, index_id: str) -> IndexBuild:
        build = self._builds.get(index_id)
        if build is None or self.settings.suggestions_refresh_seconds == 0:
            build = self._build(index_id)
        return build

    def _marker(self, index_id: str) -> tuple[Any, ...]:
        """Cheap signs of change: the newest query and query count, and the documents' version."""
        latest, count = self.store.latest_query(index_id)
        version = self._documents.version(index_id) if self._documents is not None else None
        return latest, count, version

    def _build(self, index_id: str) -> IndexBuild:
        with self._build_lock(index_id):
            marker = self._marker(index_id)
            config, last_clear = self.config(index_id)
            now = self.clock()
            since = now - config["QueryLogLookBackWindowInDays"] * DAY
            if last_clear is not None:
                since = max(since, last_clear)
            entries = self._block_entries(index_id)
            queries = PrefixIndex()
            for form, count in self._candidates(index_id, config, since):
                if not blocked(form, entries):
                    queries.add(form, count)
            attributes = PrefixIndex()
            attr_config = config["AttributeSuggestionsConfig"]
            names = [c["AttributeName"] for c in attr_config.get("SuggestableConfigList", []) if c.get("Suggestable")]
            if self._documents is not None and names and attr_config.get("AttributeSuggestionsMode") == "ACTIVE":
                clicks = self.store.clicks_per_document(index_id, since)
                by_value: dict[str, list[tuple[str, str]]] = {}
                for doc_id, name, value in self._documents.values(index_id, names):
                    if not blocked(suggestion_form(value), entries):
                        by_value.setdefault(value, []).append((doc_id, name))
                for value, sources in by_value.items():
                    attributes.add(value, sum(clicks.get(d, 0) for d, _ in sources), sources)
            build = IndexBuild(queries.freeze(), attributes.freeze(), now, marker)
            self._builds[index_id] = build
            return build

    def _candidates(self, index_id: str, config: dict[str, Any], since: float) -> list[tuple[str, int]]:
        with_users_only = not config["IncludeQueriesWithoutUserInformation"]
        rows = self.store.answered_query_texts(index_id, since, with_users_only)
        merged: dict[str, list[int]] = {}
        for text, count, users in rows:
            form = suggestion_form(text)
            if form and is_suggestible(form):
                # Forms differing only by quotes merge; their user counts add (an upper bound).
                totals = merged.setdefault(form, [0, 0])
                totals[0] += count
                totals[1] += users
        min_users = 0 if config["IncludeQueriesWithoutUserInformation"] else config["MinimumNumberOfQueryingUsers"]
        return [(form, count) for form, (count, users) in merged.items()
                if count >= config["MinimumQueryCount"] and users >= min_users]

    def _block_entries(self, index_id: str) -> list[str]:
        entries: list[str] = []
        for (raw,) in self.store.rows(
            "SELECT entries FROM block_lists WHERE index_id = ? AND status IN ('ACTIVE', 'ACTIVE_BUT_UPDATE_FAILED')",
            (index_id,),
        ):
            entries.extend(json.loads(raw))
        return entries

    # -- GetQuerySuggestions ----------------------------------------------------------------------

    def get_suggestions(self, p: dict[str, Any]) -> dict[str, Any]:
        """GetQuerySuggestions: QUERY suggestions from the log, DOCUMENT_ATTRIBUTES from documents."""
        index_id, text = p["IndexId"], p["QueryText"]
        self._require_index(index_id)
        limit = p.get("MaxSuggestionsCount", MAX_SUGGESTIONS)
        if limit < 1:
            raise ValidationException("MaxSuggestionsCount must be 1 or more")
        limit = min(limit, MAX_SUGGESTIONS)
        types = p.get("SuggestionTypes") or ["QUERY"]
        get_config = p.get("AttributeSuggestionsConfig") or {}
        response: dict[str, Any] = {"QuerySuggestionsId": str(uuid.uuid4()), "Suggestions": []}
        typed = text.strip()
        if not MIN_PREFIX <= len(typed) <= MAX_PREFIX:  # Kendra: no suggestions, no error
            return response
        config, _ = self.config(index_id)
        if config["Mode"] == "LEARN_ONLY":
            return response
        build = self._current(index_id)
        suggestions: list[dict[str, Any]] = []
        if "QUERY" in types:
            for match in build.queries.lookup(typed, limit):
                suggestions.append(_suggestion(match.text, match.highlight))
        if "DOCUMENT_ATTRIBUTES" in types and len(suggestions) < limit and self._documents is not None:
            suggestions.extend(self._attribute_suggestions(index_id, build, typed, limit - len(suggestions),
                                                           get_config))
        response["Suggestions"] = suggestions
        return response

    def _attribute_suggestions(self, index_id: str, build: IndexBuild, typed: str, limit: int,
                               get_config: dict[str, Any]) -> list[dict[str, Any]]:
        assert self._documents is not None
        wanted = set(get_config.get("SuggestionAttributes") or [])
        extra = list(get_config.get("AdditionalResponseAttributes") or [])
        # Look deeper than the limit: filters and ACLs may hide some of the first matches.
        matches = build.attributes.lookup(typed, limit * 5 + 20)
        if wanted:
            matches = [m for m in matches if any(name in wanted for _, name in _sources(m.payload))]
        doc_ids = sorted({d for m in matches for d, _ in _sources(m.payload)})
        if get_config.get("AttributeFilter") is not None or get_config.get("UserContext") is not None:
            visible = self._documents.visible(index_id, doc_ids, get_config.get("AttributeFilter"),
                                              get_config.get("UserContext"))
        else:
            visible = set(doc_ids)
        attributes = self._documents.attributes(index_id, doc_ids, extra) if extra else {}
        out = []
        for m in matches:
            sources = [(d, n) for d, n in _sources(m.payload) if d in visible and (not wanted or n in wanted)]
            if not sources:
                continue
            suggestion = _suggestion(m.text, m.highlight)
            docs: dict[str, list[str]] = {}
            for doc_id, name in sources:
                docs.setdefault(doc_id, []).append(name)
            suggestion["SourceDocuments"] = [
                {"DocumentId": doc_id, "SuggestionAttributes": names,
                 "AdditionalAttributes": attributes.get(doc_id, [])}
                for doc_id, names in docs.items()
            ]
            out.append(suggestion)
            if len(out) == limit:
                break
        return out

    # -- block lists ------------------------------------------------------------------------------

    def _block_list_row(self, index_id: str, list_id: str) -> tuple[Any, ...]:
        rows = self.store.rows(
            "SELECT id, index_id, name, description, source, role_arn, status, error, entries, file_size, created,"
            " updated FROM block_lists WHERE index_id = ? AND id = ?", (index_id, list_id))
        if not rows:
            raise ResourceNotFoundException(f"Block list {list_id} does not exist in index {index_id}")
        return rows[0]

    def _load_source(self, source: dict[str, Any]) -> tuple[list[str], int, str | None]:
        """Entries, file size and an error message (entries empty when it failed)."""
        try:
            data = read_source(self.settings, source)
            return parse_entries(data), len(data), None
        except BlockListSourceError as error:
            return [], 0, str(error)

    def create_block_list(self, p: dict[str, Any]) -> dict[str, Any]:
        """CreateQuerySuggestionsBlockList: the file is read now; unreadable -> Status FAILED."""
        index_id = p["IndexId"]
        self._require_index(index_id)
        token = p.get("ClientToken")
        if token:
            same = self.store.rows("SELECT id FROM block_lists WHERE index_id = ? AND client_token = ?",
                                   (index_id, token))
            if same:
                return {"Id": same[0][0]}
        list_id = str(uuid.uuid4())
        entries, size, error = self._load_source(p["SourceS3Path"])
        now = time.time()
        self.store.execute(
            "INSERT INTO block_lists (id, index_id, name, description, source, role_arn, status, error, entries,"
            " file_size, created, updated, client_token) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (list_id, index_id, p["Name"], p.get("Description"), json.dumps(p["SourceS3Path"]), p.get("RoleArn"),
             "FAILED" if error else "ACTIVE", error, json.dumps(entries), size, now, now, token),
        )
        self.invalidate(index_id)
        return {"Id": list_id}

    def describe_block_list(self, p: dict[str, Any]) -> dict[str, Any]:
        """DescribeQuerySuggestionsBlockList."""
        self._require_index(p["IndexId"])
        (list_id, index_id, name, description, source, role_arn, status, error, entries, size, created,
         updated) = self._block_list_row(p["IndexId"], p["Id"])
        return {
            "IndexId": index_id, "Id": list_id, "Name": name, "Description": description, "Status": status,
            "ErrorMessage": error, "CreatedAt": from_epoch(created), "UpdatedAt": from_epoch(updated),
            "SourceS3Path": json.loads(source), "ItemCount": len(json.loads(entries)), "FileSizeBytes": size,
            "RoleArn": role_arn,
        }

    def list_block_lists(self, p: dict[str, Any]) -> dict[str, Any]:
        """ListQuerySuggestionsBlockLists, paged by MaxResults / NextToken (an offset)."""
        index_id = p["IndexId"]
        self._require_index(index_id)
        rows = self.store.rows(
            "SELECT id, name, status, created, updated, entries FROM block_lists WHERE index_id = ?"
            " ORDER BY created, id", (index_id,))
        shown, following = page(rows, p)
        return {"BlockListSummaryItems": [
            {"Id": r[0], "Name": r[1], "Status": r[2], "CreatedAt": from_epoch(r[3]), "UpdatedAt": from_epoch(r[4]),
             "ItemCount": len(json.loads(r[5]))} for r in shown
        ], **following}

    def update_block_list(self, p: dict[str, Any]) -> None:
        """UpdateQuerySuggestionsBlockList: the file is read again (a failure keeps the old entries)."""
        index_id = p["IndexId"]
        self._require_index(index_id)
        row = self._block_list_row(index_id, p["Id"])
        source = p.get("SourceS3Path") or json.loads(row[4])
        entries, size, error = self._load_source(source)
        if error:
            status, entries, size = ("ACTIVE_BUT_UPDATE_FAILED" if row[6] != "FAILED" else "FAILED",
                                     json.loads(row[8]), row[9])
        else:
            status = "ACTIVE"
        self.store.execute(
            "UPDATE block_lists SET name = ?, description = ?, source = ?, role_arn = ?, status = ?, error = ?,"
            " entries = ?, file_size = ?, updated = ? WHERE id = ?",
            (p.get("Name", row[2]), p.get("Description", row[3]), json.dumps(source), p.get("RoleArn", row[5]),
             status, error, json.dumps(entries), size, time.time(), row[0]),
        )
        self.invalidate(index_id)

    def delete_block_list(self, p: dict[str, Any]) -> None:
        """DeleteQuerySuggestionsBlockList."""
        index_id = p["IndexId"]
        self._require_index(index_id)
        self._block_list_row(index_id, p["Id"])
        self.store.execute("DELETE FROM block_lists WHERE id = ?", (p["Id"],))
        self.invalidate(index_id)


def _sources(payload: object) -> list[tuple[str, str]]:
    return payload if isinstance(payload, list) else []


def _suggestion(text: str, highlight: tuple[int, int]) -> dict[str, Any]:
    begin, end = highlight
    return {
        "Id": str(uuid.uuid4()),
        "Value": {"Text": {"Text": text, "Highlights": [{"BeginOffset": begin, "EndOffset": end}] if end > begin
                           else []}},
    }
