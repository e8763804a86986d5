"""FAQs: CreateFaq / DescribeFaq / ListFaqs / DeleteFaq, and QUESTION_ANSWER results matched by meaning.

A FAQ file (CSV, CSV_WITH_HEADER or JSON; Kendra's formats, at most 5 MB) is read from
``S3Path``: from the S3-compatible endpoint ``KENSAKU_S3_ENDPOINT_URL`` (any S3 API: MinIO, moto,
AWS), or, as a Kensaku extension, from a local file below KENSAKU_LOCAL_FILES_ROOT when ``Key`` is a
``file://`` URL (``Bucket`` is then any valid name and ignored); ``services/files.py`` reads both.
CreateFaq answers at once; the FAQ is CREATING until its file is read and its questions embedded,
then ACTIVE (or FAILED with ErrorMessage: a file refused by the reader fails the FAQ, as Kendra does).

Entries live in ``faqs.sqlite3`` in the data folder (or PostgreSQL: ``services.database``). A query
matches an entry when the cosine of the query and the FAQ question reaches the model's paraphrase
level, or when most query words occur in the question; at most 4 QUESTION_ANSWER results, ahead of
the documents, on page 1 only.
A FAQ entry's attributes (CSV_WITH_HEADER columns, JSON ``Attributes``: built-ins such as ``_category``
and custom fields the index declares) are typed by the index's fields, filtered by the query's
AttributeFilter, and returned, with ``_faq_id``, as the result's DocumentAttributes (those Displayable
or asked for in RequestedDocumentAttributes).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import numpy as np

from kernel.errors import (
    ResourceNotFoundException,
    ServiceQuotaExceededException,
    ValidationException,
)
from kernel.handlers import Handler
from kernel.paging import page
from kernel.times import from_epoch
from services.database import Row, open_database
from services.database.migrations import migrate
from services.engine.analysis import analyzer_for, normalize
from services.files import FileReadError, is_local, local_path, read_s3_path
from services.index.documents import principal_term
from services.index.fields import DATE, LONG, STRING_LIST, displayed_attributes, displayed_uri
from services.index.service import IndexService
from services.query.filters import LANGUAGE_KEY, Principals, matches, may_see
from services.settings import Settings

log = logging.getLogger("kensaku.faqs")

MAX_FAQS_PER_INDEX = 30
MAX_FAQ_BYTES = 5 * 1024 * 1024
MAX_FAQ_RESULTS = 4
# A query matches a FAQ question on words when at least this share of its words occur in it.
WORD_MATCH_SHARE = 0.75
# Cosine at which a query and a FAQ question are taken as the same question, per model.
PARAPHRASE_SIMILARITY = {"use-m3": 0.5, "e5-small-q4": 0.88}
DEFAULT_PARAPHRASE_SIMILARITY = 0.6
# CSV_WITH_HEADER columns that are not attributes.
_ENTRY_COLUMNS = frozenset({"_question", "_answer"})
_ACL_COLUMNS = {"_acl_user_allow": ("USER", "ALLOW"), "_acl_user_deny": ("USER", "DENY"),
                "_acl_group_allow": ("GROUP", "ALLOW"), "_acl_group_deny": ("GROUP", "DENY")}

class FaqFileError(Exception):
    """The FAQ file cannot be read or parsed (the FAQ becomes FAILED with this message)."""


def _principals(value: str) -> list[str]:
    return [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]


def parse_faq(data: bytes, file_format: str) -> list[dict[str, Any]]:
    """Kendra's FAQ formats -> [{question, answer, source_uri, allow, deny}]."""
    if len(data) > MAX_FAQ_BYTES:
        raise FaqFileError(f"The FAQ file is {len(data)} bytes; the limit is {MAX_FAQ_BYTES}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FaqFileError("The FAQ file is not UTF-8 text") from None
    entries: list[dict[str, Any]] = []
    if file_format == "JSON":
        try:
            doc = json.loads(text)
            items = doc["FaqDocuments"]
        except (ValueError, KeyError, TypeError):
            raise FaqFileError('A JSON FAQ file needs {"SchemaVersion": 1, "FaqDocuments": [...]}') from None
        for n, item in enumerate(items):
            if not isinstance(item, dict) or not item.get("Question") or not item.get("Answer"):
                raise FaqFileError(f"FaqDocuments[{n}] needs a Question and an Answer")
            attrs = item.get("Attributes") or {}
            allow: list[str] = []
            deny: list[str] = []
            for entry in item.get("AccessControlList") or []:
                term = principal_term(entry.get("Type", "USER"), str(entry.get("Name", "")))
                (deny if entry.get("Access") == "DENY" else allow).append(term)
            if not isinstance(attrs, dict):
                raise FaqFileError(f"FaqDocuments[{n}].Attributes must be an object")
            entries.append({"question": str(item["Question"]), "answer": str(item["Answer"]),
                            "source_uri": attrs.get("_source_uri"), "allow": allow, "deny": deny,
                            "attributes": attrs, "where": f"FaqDocuments[{n}]"})
        return entries
    rows = list(csv.reader(io.StringIO(text)))
    if file_format == "CSV_WITH_HEADER":
        if not rows:
            raise FaqFileError("The FAQ file is empty")
        header = [h.strip() for h in rows[0]]
        if "_question" not in header or "_answer" not in header:
            raise FaqFileError("A CSV_WITH_HEADER FAQ file needs the columns _question and _answer")
        for n, row in enumerate(rows[1:], start=2):
            if not any(cell.strip() for cell in row):
                continue
            record = dict(zip(header, row, strict=False))
            allow, deny = [], []
            for column, (kind, access) in _ACL_COLUMNS.items():
                for name in _principals(record.get(column, "")):
                    (deny if access == "DENY" else allow).append(principal_term(kind, name))
            if set(allow) & set(deny):
                raise FaqFileError(f"Line {n}: a principal is both allowed and denied")
            if not record.get("_question") or not record.get("_answer"):
                raise FaqFileError(f"Line {n}: _question and _answer are required")
            attrs = {k: v for k, v in record.items()
                     if k not in _ENTRY_COLUMNS and k not in _ACL_COLUMNS and k and v.strip()}
            entries.append({"question": record["_question"], "answer": record["_answer"],
                            "source_uri": record.get("_source_uri") or None, "allow": allow, "deny": deny,
                            "attributes": attrs, "where": f"Line {n}"})
        return entries
    for n, row in enumerate(rows, start=1):  # CSV: question, answer[, source URI]
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < 2 or not row[0].strip() or not row[1].strip():
            raise FaqFileError(f"Line {n}: a CSV FAQ row is question, answer[, source URI]")
        uri = row[2] if len(row) > 2 and row[2].strip() else None
        entries.append({"question": row[0], "answer": row[1], "source_uri": uri, "allow": [], "deny": [],
                        "attributes": {"_source_uri": uri} if uri else {}, "where": f"Line {n}"})
    return entries


def typed_attributes(raw: dict[str, Any], fields: dict[str, dict[str, Any]], where: str) -> dict[str, Any]:
    """A FAQ entry's attributes as the index stores document attributes (str, list[str], int, epoch
    seconds), by the index's field types; a name the index does not declare, or a value of the wrong
    type, is an error in the file."""
    out: dict[str, Any] = {}
    for name, value in raw.items():
        field = fields.get(name)
        if field is None:
            raise FaqFileError(f"{where}: {name} is not a field of the index (declare it with UpdateIndex)")
        kind = field["Type"]
        try:
            if kind == STRING_LIST:
                items = value if isinstance(value, list) else str(value).split(",")
                out[name] = [str(v).strip() for v in items if str(v).strip()]
            elif kind == LONG:
                if isinstance(value, bool) or not isinstance(value, int | str):
                    raise ValueError(value)
                out[name] = int(value)
            elif kind == DATE:
                parsed = datetime.fromisoformat(str(value))
                out[name] = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
            else:
                out[name] = str(value)
        except ValueError:
            raise FaqFileError(f"{where}: {name} must be a {kind} (got {value!r})") from None
    return out


class FaqService:
    """FAQ operations and matching; one per process, next to the query service."""

    def __init__(self, settings: Settings, indexes: IndexService) -> None:
        self.settings = settings
        self.indexes = indexes
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self._db = open_database(settings, "faqs")
        migrate(self._db)
        self._lock = threading.RLock()
        self._open = True
        self._cache: dict[str, tuple[list[Row], Any]] = {}  # index id -> ACTIVE entries, vectors
        # Distributed topology: other API processes add and delete FAQs; an entry is read again after this.
        self._cache_seconds = settings.shared_refresh_seconds if settings.topology == "distributed" else math.inf
        self._cached_at: dict[str, float] = {}
        # A FAQ left CREATING by a stop is read again.
        for row in self._db.read().execute("SELECT id FROM faqs WHERE status = 'CREATING'").fetchall():
            self._start_load(row["id"])

    def operations(self) -> dict[str, Handler]:
        return {"CreateFaq": self.create_faq, "DescribeFaq": self.describe_faq, "ListFaqs": self.list_faqs,
                "DeleteFaq": self.delete_faq}

    def close(self) -> None:
        with self._lock:
            self._open = False
            self._db.close()

    # -- operations -----------------------------------------------------------------------------

    def create_faq(self, p: dict[str, Any]) -> dict[str, Any]:
        index_id = p["IndexId"]
        self.indexes.require_active(index_id)
        with self._lock, self._db.write() as db:
            token = p.get("ClientToken")
            if token:
                row = db.execute("SELECT id FROM faqs WHERE index_id = ? AND client_token = ?",
                                 (index_id, token)).fetchone()
                if row is not None:
                    return {"Id": row["id"]}
            count = db.execute("SELECT COUNT(*) FROM faqs WHERE index_id = ?", (index_id,)).fetchone()[0]
            if count >= MAX_FAQS_PER_INDEX:
                raise ServiceQuotaExceededException(f"At most {MAX_FAQS_PER_INDEX} FAQs per index")
            key = p["S3Path"]["Key"]
            if is_local(key):
                try:
                    local_path(key)
                except FileReadError as error:
                    raise ValidationException(f"S3Path.Key: {error}") from None
            faq_id = str(uuid.uuid4())
            now = time.time()
            db.execute(
                "INSERT INTO faqs (id, index_id, name, description, bucket, key, role_arn, file_format, language,"
                " status, client_token, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'CREATING', ?, ?, ?)",
                (faq_id, index_id, p["Name"], p.get("Description"), p["S3Path"]["Bucket"], key, p.get("RoleArn"),
                 p.get("FileFormat", "CSV"), p.get("LanguageCode", "en"), token, now, now),
            )
        self._start_load(faq_id)
        return {"Id": faq_id}

    def _row(self, index_id: str, faq_id: str) -> Row:
        self.indexes.require_active(index_id)
        with self._lock:
            row = self._db.read().execute("SELECT * FROM faqs WHERE id = ? AND index_id = ?",
                                          (faq_id, index_id)).fetchone()
        if row is None:
            raise ResourceNotFoundException(f"FAQ {faq_id} does not exist in index {index_id}")
        found: Row = row
        return found

    def describe_faq(self, p: dict[str, Any]) -> dict[str, Any]:
        row = self._row(p["IndexId"], p["Id"])
        out = {
            "Id": row["id"], "IndexId": row["index_id"], "Name": row["name"],
            "CreatedAt": from_epoch(row["created_at"]), "UpdatedAt": from_epoch(row["updated_at"]),
            "S3Path": {"Bucket": row["bucket"], "Key": row["key"]}, "Status": row["status"],
            "FileFormat": row["file_format"], "LanguageCode": row["language"],
        }
        for member, column in (("Description", "description"), ("RoleArn", "role_arn"), ("ErrorMessage", "error")):
            if row[column]:
                out[member] = row[column]
        return out

    def list_faqs(self, p: dict[str, Any]) -> dict[str, Any]:
        index_id = p["IndexId"]
        self.indexes.require_active(index_id)
        with self._lock:
            rows = self._db.read().execute("SELECT * FROM faqs WHERE index_id = ? ORDER BY created_at, id",
                                    (index_id,)).fetchall()
        shown, following = page(rows, p)
        return {"FaqSummaryItems": [
            {"Id": r["id"], "Name": r["name"], "Status": r["status"], "CreatedAt": from_epoch(r["created_at"]),
             "UpdatedAt": from_epoch(r["updated_at"]), "FileFormat": r["file_format"], "LanguageCode": r["language"]}
            for r in shown
        ], **following}

    def delete_faq(self, p: dict[str, Any]) -> None:
        row = self._row(p["IndexId"], p["Id"])
        with self._lock, self._db.write() as db:
            db.execute("DELETE FROM faq_entries WHERE faq_id = ?", (row["id"],))
            db.execute("DELETE FROM faqs WHERE id = ?", (row["id"],))
            self._cache.pop(row["index_id"], None)

    def drop_index(self, index_id: str) -> None:
        """The FAQs of a deleted index go with it."""
        with self._lock:
            if not self._open:
                return
            with self._lock, self._db.write() as db:
                db.execute("DELETE FROM faq_entries WHERE index_id = ?", (index_id,))
                db.execute("DELETE FROM faqs WHERE index_id = ?", (index_id,))
            self._cache.pop(index_id, None)

    def count(self, index_id: str) -> int:
        with self._lock:
            found = self._db.read().execute(
                "SELECT COUNT(*) FROM faq_entries e JOIN faqs f ON f.id = e.faq_id"
                " WHERE e.index_id = ? AND f.status = 'ACTIVE'", (index_id,)).fetchone()
        return int(found[0])

    # -- loading --------------------------------------------------------------------------------

    def _start_load(self, faq_id: str) -> None:
        threading.Thread(target=self._load, args=(faq_id,), name=f"faq-{faq_id[:8]}", daemon=True).start()

    def _read(self, bucket: str, key: str) -> bytes:
        try:
            return read_s3_path(self.settings, {"Bucket": bucket, "Key": key}, MAX_FAQ_BYTES, "FAQ file")
        except FileReadError as error:
            raise FaqFileError(str(error)) from None

    def _load(self, faq_id: str) -> None:
        with self._lock:
            row = self._db.read().execute("SELECT * FROM faqs WHERE id = ?", (faq_id,)).fetchone()
        if row is None:
            return
        try:
            entries = parse_faq(self._read(row["bucket"], row["key"]), row["file_format"])
            fields = self.indexes.fields(row["index_id"])
            for e in entries:
                e["attributes"] = typed_attributes(e["attributes"], fields, e["where"])
            embedder = self.indexes.vectors.embedder
            vectors = (embedder.embed_queries([e["question"] for e in entries])
                       if embedder is not None and entries else None)
            status, error = "ACTIVE", None
        except FaqFileError as failure:
            entries, vectors, status, error = [], None, "FAILED", str(failure)[:1000]
        except Exception as failure:  # never leave it CREATING forever
            log.exception("loading FAQ %s failed", faq_id)
            entries, vectors, status, error = [], None, "FAILED", f"Internal error: {failure!r}"[:1000]
        with self._lock, self._db.write() as db:
            if db.execute("SELECT 1 FROM faqs WHERE id = ?", (faq_id,)).fetchone() is None:
                return  # deleted meanwhile
            db.execute("DELETE FROM faq_entries WHERE faq_id = ?", (faq_id,))
            for n, e in enumerate(entries):
                blob = np.asarray(vectors[n], dtype=np.float32).tobytes() if vectors is not None else None
                db.execute(
                    "INSERT INTO faq_entries (faq_id, index_id, number, question, answer, source_uri, allow, deny,"
                    " vector, attributes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (faq_id, row["index_id"], n, e["question"], e["answer"], e["source_uri"],
                     json.dumps(e["allow"]), json.dumps(e["deny"]), blob,
                     json.dumps(e["attributes"], ensure_ascii=False)),
                )
            db.execute("UPDATE faqs SET status = ?, error = ?, updated_at = ? WHERE id = ?",
                       (status, error, time.time(), faq_id))
            self._cache.pop(row["index_id"], None)

    # -- matching -------------------------------------------------------------------------------

    def _entries(self, index_id: str) -> tuple[list[Row], Any]:
        with self._lock:
            cached = self._cache.get(index_id)
            if cached is not None and time.monotonic() - self._cached_at.get(index_id, 0.0) > self._cache_seconds:
                cached = None
            if cached is None:
                rows = self._db.read().execute(
                    "SELECT e.*, f.language FROM faq_entries e JOIN faqs f ON f.id = e.faq_id"
                    " WHERE e.index_id = ? AND f.status = 'ACTIVE' ORDER BY f.created_at, e.number",
                    (index_id,)).fetchall()
                vectors = None
                if rows and all(r["vector"] is not None for r in rows):
                    vectors = np.stack([np.frombuffer(r["vector"], dtype=np.float32) for r in rows])
                cached = (rows, vectors)
                self._cache[index_id] = cached
                self._cached_at[index_id] = time.monotonic()
            return cached

    def match(self, index_id: str, text: str, languages: list[str], principals: Principals,
              query_id: str, requested: list[str] | None = None,
              attribute_filter: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Up to 4 QUESTION_ANSWER items for the query (empty when no FAQ question is close enough).

        ``requested``: the query's RequestedDocumentAttributes (None: the Displayable ones).
        ``attribute_filter``: the query's AttributeFilter without its user-context part (already
        checked by the document side), applied to each entry's attributes and language."""
        rows, vectors = self._entries(index_id)
        if not rows:
            return []
        fields = self.indexes.fields(index_id)
        embedder = self.indexes.vectors.embedder
        sims = np.zeros(len(rows))
        threshold = 2.0
        if embedder is not None and vectors is not None and vectors.shape[1] == embedder.dim:
            sims = vectors @ embedder.embed_queries([text])[0]
            threshold = PARAPHRASE_SIMILARITY.get(embedder.name, DEFAULT_PARAPHRASE_SIMILARITY)
        terms_by_lang: dict[str, list[str]] = {}
        scored = []
        for n, row in enumerate(rows):
            lang = row["language"]
            if lang not in languages:
                continue
            attributes = json.loads(row["attributes"])
            if attribute_filter is not None and not matches(attribute_filter, {**attributes, LANGUAGE_KEY: lang},
                                                            fields):
                continue
            if not may_see(principals, json.loads(row["allow"]), json.loads(row["deny"])):
                continue
            if lang not in terms_by_lang:
                terms_by_lang[lang] = sorted(set(analyzer_for(lang).query_terms(text)))
            terms = terms_by_lang[lang]
            question = normalize(row["question"])
            share = sum(1 for t in terms if t in question) / len(terms) if terms else 0.0
            sim = float(sims[n])
            if sim >= threshold or (share >= WORD_MATCH_SHARE and len(terms) >= 2):
                scored.append((sim + 0.3 * share, row, sim, attributes))
        scored.sort(key=lambda s: -s[0])
        items = []
        for _, row, sim, attributes in scored[:MAX_FAQ_RESULTS]:
            question, answer = row["question"][:2048], row["answer"][:2048]
            bucket = "VERY_HIGH" if sim >= threshold + 0.2 else ("HIGH" if sim >= threshold else "MEDIUM")
            item: dict[str, Any] = {
                "Id": f"{query_id}-{uuid.uuid4()}"[:73],
                "Type": "QUESTION_ANSWER",
                "Format": "TEXT",
                "AdditionalAttributes": [
                    {"Key": "QuestionText", "ValueType": "TEXT_WITH_HIGHLIGHTS_VALUE",
                     "Value": {"TextWithHighlightsValue": {"Text": question, "Highlights": []}}},
                    {"Key": "AnswerText", "ValueType": "TEXT_WITH_HIGHLIGHTS_VALUE",
                     "Value": {"TextWithHighlightsValue": {"Text": answer, "Highlights": [
                         {"BeginOffset": 0, "EndOffset": len(answer), "TopAnswer": True, "Type": "STANDARD"}]}}},
                ],
                "DocumentId": f"faq-{row['faq_id']}-{row['number']}",
                "DocumentTitle": {"Text": question, "Highlights": []},
                "DocumentExcerpt": {"Text": answer, "Highlights": []},
                "DocumentAttributes": [{"Key": "_faq_id", "Value": {"StringValue": row["faq_id"]}},
                                       *displayed_attributes(attributes, fields, requested)],
                "ScoreAttributes": {"ScoreConfidence": bucket},
                "FeedbackToken": f"{query_id}.{uuid.uuid4().hex}",
            }
            if uri := displayed_uri(row["source_uri"]):
                item["DocumentURI"] = uri
            items.append(item)
        return items
