"""Thesauri: Create/Describe/List/Update/DeleteThesaurus, and the synonyms a Query searches with.

A thesaurus is a synonym file (services/query/synonyms.py: Solr's format, as Kendra's) named by
``SourceS3Path``: read from the S3-compatible store at KENSAKU_S3_ENDPOINT_URL or, as a Kensaku
extension, a ``file://`` key below KENSAKU_LOCAL_FILES_ROOT (``services/files.py`` reads both, as
for FAQs). CreateThesaurus answers at once; the thesaurus is CREATING until its file is read, then
ACTIVE, or FAILED with the reason (a malformed line names its number) as ErrorMessage.
UpdateThesaurus with a SourceS3Path reads the file again: UPDATING, then ACTIVE with the new rules,
or ACTIVE_BUT_UPDATE_FAILED keeping the rules in effect (FAILED when there were none); an Update
while the file is being read is a ConflictException. Delete is immediate (no DELETING is shown).
An index has at most KENSAKU_MAX_THESAURI_PER_INDEX thesauri (Kendra's quota: 1).

A Query in any language uses the rules of its index's thesaurus while they are in effect (ACTIVE,
UPDATING, ACTIVE_BUT_UPDATE_FAILED), and, in Japanese, the built-in orthographic variants
(``variants_ja.txt``) unless KENSAKU_BUILTIN_VARIANTS is off. Rules are compiled for each analyzer on
first use (and right after a file is read) and kept until the thesaurus changes.

Table (in the index store, owned by this module): ``thesauri``, one row a thesaurus; ``source`` is the
S3Path asked for last, ``rules`` the rules in effect (JSON; NULL: none), with the size, term and rule
counts of the file they came from. A row left CREATING or UPDATING by a stop is read again on start.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import unicodedata
import uuid
from typing import Any

from kernel.errors import (
    ConflictException,
    ResourceNotFoundException,
    ServiceQuotaExceededException,
    ValidationException,
)
from kernel.handlers import Handler
from kernel.paging import page
from kernel.times import from_epoch
from services.database import Row
from services.engine.analysis import QueryWord, analyzer_for
from services.files import FileReadError, is_local, local_path, read_s3_path
from services.index.service import IndexService
from services.query.synonyms import (
    Alternative,
    Compiled,
    Rule,
    SynonymFileError,
    builtin_variants,
    merge,
    parse_synonyms,
    positions,
)
from services.settings import Settings

log = logging.getLogger("kensaku.thesauri")

MAX_FILE_BYTES = 5 * 1024 * 1024  # Kendra's quota for a thesaurus file
_LOADING = ("CREATING", "UPDATING")
# Languages whose rules are compiled as soon as a file is read (others on their first query).
_WARM = ("ja", "en")

def _rules_json(rules: tuple[Rule, ...]) -> str:
    return json.dumps([[r.line, list(r.inputs), None if r.outputs is None else list(r.outputs)] for r in rules],
                      ensure_ascii=False)


def _rules(text: str) -> list[Rule]:
    return [Rule(line, tuple(inputs), None if outputs is None else tuple(outputs))
            for line, inputs, outputs in json.loads(text)]


class Thesauri:
    """The thesauri of every index, in the index store; the synonyms of a Query."""

    def __init__(self, settings: Settings, indexes: IndexService) -> None:
        self.settings = settings
        self.indexes = indexes
        self.store = indexes.store
        self._lock = threading.Lock()
        # (index id, analyzer name) -> its thesaurus's rules compiled; ("", "ja") -> the built-in variants
        self._compiled: dict[tuple[str, str], Compiled] = {}
        self._rules: dict[str, list[Rule]] = {}  # index id -> the rules in effect (empty: none)
        self._generation: dict[str, int] = {}  # index id -> changes of its thesauri so far
        # Distributed topology: other API processes change thesauri; index id -> (what the store said, when).
        self._seen: dict[str, tuple[tuple[Any, ...], float]] = {}
        for row in self.store.read().execute(
                "SELECT id FROM thesauri WHERE status IN ('CREATING', 'UPDATING')").fetchall():
            self._start_load(row["id"])  # left loading by a stop

    def operations(self) -> dict[str, Handler]:
        return {"CreateThesaurus": self.create_thesaurus, "DescribeThesaurus": self.describe_thesaurus,
                "ListThesauri": self.list_thesauri, "UpdateThesaurus": self.update_thesaurus,
                "DeleteThesaurus": self.delete_thesaurus}

    # -- operations -----------------------------------------------------------------------------

    def create_thesaurus(self, p: dict[str, Any]) -> dict[str, Any]:
        index_id = p["IndexId"]
        self.indexes.require_active(index_id)
        _check_source(p["SourceS3Path"])
        token = p.get("ClientToken")
        thesaurus_id = str(uuid.uuid4())
        now = time.time()
        with self.store.write() as conn:
            if token and (same := conn.execute("SELECT id FROM thesauri WHERE index_id = ? AND client_token = ?",
                                               (index_id, token)).fetchone()) is not None:
                return {"Id": same["id"]}
            count = conn.execute("SELECT COUNT(*) FROM thesauri WHERE index_id = ?", (index_id,)).fetchone()[0]
            quota = self.settings.max_thesauri_per_index
            if count >= quota:
                raise ServiceQuotaExceededException(
                    f"Index {index_id} already has {count} {'thesaurus' if count == 1 else 'thesauri'};"
                    f" an index has at most {quota} (KENSAKU_MAX_THESAURI_PER_INDEX)")
            conn.execute(
                "INSERT INTO thesauri (id, index_id, name, description, role_arn, source, status, client_token,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'CREATING', ?, ?, ?)",
                (thesaurus_id, index_id, p["Name"], p.get("Description"), p.get("RoleArn"),
                 json.dumps(p["SourceS3Path"]), token, now, now),
            )
        self._start_load(thesaurus_id)
        return {"Id": thesaurus_id}

    def describe_thesaurus(self, p: dict[str, Any]) -> dict[str, Any]:
        row = self._row(p["IndexId"], p["Id"])
        out: dict[str, Any] = {
            "Id": row["id"], "IndexId": row["index_id"], "Name": row["name"], "Status": row["status"],
            "CreatedAt": from_epoch(row["created_at"]), "UpdatedAt": from_epoch(row["updated_at"]),
            "SourceS3Path": json.loads(row["source"]), "FileSizeBytes": row["file_size"],
            "TermCount": row["term_count"], "SynonymRuleCount": row["rule_count"],
        }
        for member, column in (("Description", "description"), ("RoleArn", "role_arn"), ("ErrorMessage", "error")):
            if row[column] is not None:
                out[member] = row[column]
        return out

    def list_thesauri(self, p: dict[str, Any]) -> dict[str, Any]:
        index_id = p["IndexId"]
        self.indexes.require_active(index_id)
        rows = self.store.read().execute(
            "SELECT id, name, status, created_at, updated_at FROM thesauri WHERE index_id = ?"
            " ORDER BY created_at, id", (index_id,)).fetchall()
        shown, following = page(rows, p)
        return {"ThesaurusSummaryItems": [
            {"Id": r["id"], "Name": r["name"], "Status": r["status"], "CreatedAt": from_epoch(r["created_at"]),
             "UpdatedAt": from_epoch(r["updated_at"])} for r in shown], **following}

    def update_thesaurus(self, p: dict[str, Any]) -> None:
        row = self._row(p["IndexId"], p["Id"])
        source = p.get("SourceS3Path")
        if source is not None:
            _check_source(source)
        with self.store.write() as conn:
            status = conn.execute("SELECT status FROM thesauri WHERE id = ?", (row["id"],)).fetchone()["status"]
            if status in _LOADING:
                raise ConflictException(f"Thesaurus {row['id']} is {status}; update it when its file has been read")
            conn.execute(
                "UPDATE thesauri SET name = ?, description = ?, role_arn = ?, source = ?, status = ?, error = ?,"
                " updated_at = ? WHERE id = ?",
                (p.get("Name", row["name"]), p.get("Description", row["description"]),
                 p.get("RoleArn", row["role_arn"]), json.dumps(source) if source is not None else row["source"],
                 "UPDATING" if source is not None else status, None if source is not None else row["error"],
                 time.time(), row["id"]),
            )
        if source is not None:
            self._start_load(row["id"])

    def delete_thesaurus(self, p: dict[str, Any]) -> None:
        row = self._row(p["IndexId"], p["Id"])
        with self.store.write() as conn:
            conn.execute("DELETE FROM thesauri WHERE id = ?", (row["id"],))
        self._forget(row["index_id"])

    def drop_index(self, index_id: str) -> None:
        """The thesauri of a deleted index go with it."""
        with self.store.write() as conn:
            conn.execute("DELETE FROM thesauri WHERE index_id = ?", (index_id,))
        self._forget(index_id)

    def _row(self, index_id: str, thesaurus_id: str) -> Row:
        self.indexes.require_active(index_id)
        row: Row | None = self.store.read().execute(
            "SELECT * FROM thesauri WHERE id = ? AND index_id = ?", (thesaurus_id, index_id)).fetchone()
        if row is None:
            raise ResourceNotFoundException(f"Thesaurus {thesaurus_id} does not exist in index {index_id}")
        return row

    # -- loading --------------------------------------------------------------------------------

    def _start_load(self, thesaurus_id: str) -> None:
        threading.Thread(target=self._load, args=(thesaurus_id,), name=f"thesaurus-{thesaurus_id[:8]}",
                         daemon=True).start()

    def _load(self, thesaurus_id: str) -> None:
        """Read the file a CREATING or UPDATING thesaurus names, and put its rules in effect."""
        row = self.store.read().execute("SELECT * FROM thesauri WHERE id = ?", (thesaurus_id,)).fetchone()
        if row is None or row["status"] not in _LOADING:
            return
        try:
            data = read_s3_path(self.settings, json.loads(row["source"]), MAX_FILE_BYTES, "thesaurus file")
            parsed = parse_synonyms(data)
            update: tuple[Any, ...] = ("ACTIVE", None, len(data), parsed.term_count, len(parsed.rules),
                                       _rules_json(parsed.rules))
        except (FileReadError, SynonymFileError) as failure:
            update = self._failed(row, str(failure))
        except Exception as failure:  # never leave it loading forever
            log.exception("reading thesaurus %s failed", thesaurus_id)
            update = self._failed(row, f"Internal error: {failure!r}")
        with self.store.write() as conn:
            written = conn.execute(
                "UPDATE thesauri SET status = ?, error = ?, file_size = ?, term_count = ?, rule_count = ?,"
                " rules = ?, updated_at = ? WHERE id = ? AND status IN ('CREATING', 'UPDATING')",
                (*update, time.time(), thesaurus_id)).rowcount  # 0: deleted meanwhile
        self._forget(row["index_id"])
        if written and update[0] == "ACTIVE":
            for lang in _WARM:  # the first queries need not wait for the rules to be compiled
                self._compiled_for(row["index_id"], lang)

    @staticmethod
    def _failed(row: Row, message: str) -> tuple[Any, ...]:
        """The columns of a thesaurus whose file could not be used: its rules in effect stay. (ErrorMessage
        allows no control characters.)"""
        message = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in message)[:2000]
        if row["rules"] is not None:
            return ("ACTIVE_BUT_UPDATE_FAILED", message, row["file_size"], row["term_count"], row["rule_count"],
                    row["rules"])
        return "FAILED", message, 0, 0, 0, None

    # -- Query ----------------------------------------------------------------------------------

    def _forget(self, index_id: str) -> None:
        with self._lock:
            self._generation[index_id] = self._generation.get(index_id, 0) + 1
            self._rules.pop(index_id, None)
            for key in [k for k in self._compiled if k[0] == index_id]:
                del self._compiled[key]

    def _compiled_for(self, index_id: str, lang: str) -> Compiled | None:
        """The rules of the index's thesaurus, compiled for ``lang``'s analyzer (None: no rules).
        Compiling (an analysis of every term) runs outside the lock; a change meanwhile discards it."""
        analyzer = analyzer_for(lang)
        if self.settings.topology == "distributed":
            self._follow(index_id)
        with self._lock:
            found = self._compiled.get((index_id, analyzer.name))
            if found is not None:
                return found or None
            generation, rules = self._generation.get(index_id, 0), self._rules.get(index_id)
        if rules is None:
            rows = self.store.read().execute(
                "SELECT rules FROM thesauri WHERE index_id = ? AND rules IS NOT NULL", (index_id,)).fetchall()
            rules = [r for row in rows for r in _rules(row["rules"])]
        compiled = Compiled(rules, analyzer)
        with self._lock:
            if self._generation.get(index_id, 0) == generation:
                self._rules[index_id] = rules
                self._compiled[(index_id, analyzer.name)] = compiled
        return compiled or None

    def _follow(self, index_id: str) -> None:
        """Forget the index's compiled rules when another process changed its thesauri (looked at every
        ``shared_refresh_seconds``: every change of a thesaurus sets its updated_at)."""
        now = time.monotonic()
        seen = self._seen.get(index_id)
        if seen is not None and now - seen[1] < self.settings.shared_refresh_seconds:
            return
        state = tuple(self.store.read().execute(
            "SELECT COUNT(*), COALESCE(MAX(updated_at), 0) FROM thesauri WHERE index_id = ?", (index_id,)).fetchone())
        if seen is not None and seen[0] != state:
            self._forget(index_id)
        self._seen[index_id] = (state, now)

    def _variants(self, lang: str) -> Compiled | None:
        analyzer = analyzer_for(lang)
        if not self.settings.builtin_variants or analyzer.name != "ja":
            return None
        with self._lock:
            found = self._compiled.get(("", analyzer.name))
            if found is None:
                found = self._compiled[("", analyzer.name)] = Compiled(builtin_variants(), analyzer)
        return found

    def alternatives(self, index_id: str, text: str,
                     words_by_lang: dict[str, list[QueryWord]]) -> dict[str, list[Alternative]]:
        """Per language searched, what the query also searches by the index's thesaurus and the built-in
        variants (languages without any: absent)."""
        out: dict[str, list[Alternative]] = {}
        for lang, words in words_by_lang.items():
            sets = [c for c in (self._compiled_for(index_id, lang), self._variants(lang)) if c is not None]
            if not sets or not any(w.content for w in words):
                continue
            sequence = positions(analyzer_for(lang), text)
            if found := merge(*(c.expand(sequence, words) for c in sets)):
                out[lang] = found
        return out


def _check_source(source: dict[str, Any]) -> None:
    """A ``file://`` key must be a file URL (whether it may be read is the load's business)."""
    if is_local(source["Key"]):
        try:
            local_path(source["Key"])
        except FileReadError as error:
            raise ValidationException(f"SourceS3Path.Key: {error}") from None
