"""Featured results: the five FeaturedResultsSet operations, and ``FeaturedResultsItems`` in Query.

A set maps query texts to up to 4 documents. A query whose whole text equals one of an ACTIVE set's
query texts (after the shared normalisation: NFKC, lower case, runs of white space as one space)
gets the set's documents, in the set's order, as FeaturedResultsItems on its first page. As Kendra
says, a query text belongs to at most one set of an index, whether that set is ACTIVE or INACTIVE; a
second claim is a FeaturedResultsConflictException listing the sets that hold it (ConflictingItems).
A featured document is shown only while it is in the index and visible to the asker (its ACL).

Tables (in the index store, owned by this module):
    featured_sets     one row per set; query texts and document ids as JSON lists, in order
    featured_queries  the normalised query texts of every set: the unique key that finds conflicts
                      and the lookup of a Query
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

from kernel.errors import (
    FeaturedResultsConflictException,
    ResourceNotFoundException,
    ServiceQuotaExceededException,
    ValidationException,
)
from kernel.handlers import Handler
from kernel.paging import page
from services.database import Connection, Row
from services.engine.analysis import normalize
from services.index.documents import principals as acl_principals
from services.index.fields import displayed_attributes, displayed_uri
from services.index.service import IndexService
from services.index.store import StoredDocument
from services.query.excerpts import excerpt, shown
from services.query.filters import Principals, may_see

# Kendra's quotas (spec section 4.4).
MAX_SETS_PER_INDEX = 50
MAX_DOCUMENTS_PER_SET = 4
MAX_QUERY_TEXT_CHARS = 1000
EXCERPT_CHARS = 300
# Document statuses of a document that is in the index (searchable).
_IN_INDEX = ("INDEXED", "UPDATED", "UPDATE_FAILED")
_SPACES = re.compile(r"\s+")

def query_key(text: str) -> str:
    """The form a query text is matched in: what differs only in width, case or spacing is the same."""
    return _SPACES.sub(" ", normalize(text)).strip()


def _millis() -> int:
    return int(time.time() * 1000)


def _unique(values: list[str], key: Any) -> list[str]:
    """``values`` without later duplicates (by ``key``), in order."""
    seen: set[str] = set()
    out = []
    for value in values:
        if (k := key(value)) not in seen:
            seen.add(k)
            out.append(value)
    return out


def check_query_texts(texts: list[str]) -> list[str]:
    """The set's query texts, duplicates dropped; an empty or too long one is refused."""
    for text in texts:
        if not query_key(text):
            raise ValidationException("A featured results query text must not be empty")
        if len(text) > MAX_QUERY_TEXT_CHARS:
            raise ValidationException(f"A featured results query text has at most {MAX_QUERY_TEXT_CHARS} characters")
    return _unique(texts, query_key)


def check_documents(documents: list[dict[str, str]]) -> list[str]:
    """The featured document ids, duplicates dropped, within Kendra's 4 a set."""
    ids = _unique([d["Id"] for d in documents], lambda i: i)
    if len(ids) > MAX_DOCUMENTS_PER_SET:
        raise ValidationException(f"A featured results set has at most {MAX_DOCUMENTS_PER_SET} FeaturedDocuments")
    return ids


class FeaturedResults:
    """The featured results sets of every index, in the index store."""

    def __init__(self, indexes: IndexService) -> None:
        self.indexes = indexes
        self.store = indexes.store

    def operations(self) -> dict[str, Handler]:
        return {
            "CreateFeaturedResultsSet": self.create_set,
            "UpdateFeaturedResultsSet": self.update_set,
            "DescribeFeaturedResultsSet": self.describe_set,
            "ListFeaturedResultsSets": self.list_sets,
            "BatchDeleteFeaturedResultsSet": self.batch_delete_sets,
        }

    # -- operations -----------------------------------------------------------------------------

    def create_set(self, p: dict[str, Any]) -> dict[str, Any]:
        index_id = p["IndexId"]
        self.indexes.require_active(index_id)
        texts = check_query_texts(p.get("QueryTexts", []))
        documents = check_documents(p.get("FeaturedDocuments", []))
        token = p.get("ClientToken")
        set_id = str(uuid.uuid4())
        now = _millis()
        with self.store.write() as conn:
            if token and (same := conn.execute("SELECT * FROM featured_sets WHERE index_id = ? AND client_token = ?",
                                               (index_id, token)).fetchone()) is not None:
                return {"FeaturedResultsSet": self._set(same)}
            count = conn.execute("SELECT COUNT(*) FROM featured_sets WHERE index_id = ?", (index_id,)).fetchone()[0]
            if count >= MAX_SETS_PER_INDEX:
                raise ServiceQuotaExceededException(f"At most {MAX_SETS_PER_INDEX} featured results sets per index")
            self._claim(conn, index_id, set_id, texts)
            conn.execute(
                "INSERT INTO featured_sets (id, index_id, name, description, status, query_texts, documents,"
                " client_token, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (set_id, index_id, p["FeaturedResultsSetName"], p.get("Description"), p.get("Status", "ACTIVE"),
                 json.dumps(texts, ensure_ascii=False), json.dumps(documents, ensure_ascii=False), token, now, now),
            )
            row = conn.execute("SELECT * FROM featured_sets WHERE id = ?", (set_id,)).fetchone()
        return {"FeaturedResultsSet": self._set(row)}

    def update_set(self, p: dict[str, Any]) -> dict[str, Any]:
        row = self._row(p["IndexId"], p["FeaturedResultsSetId"])
        texts = check_query_texts(p["QueryTexts"]) if "QueryTexts" in p else json.loads(row["query_texts"])
        documents = (check_documents(p["FeaturedDocuments"]) if "FeaturedDocuments" in p
                     else json.loads(row["documents"]))
        with self.store.write() as conn:
            conn.execute("DELETE FROM featured_queries WHERE set_id = ?", (row["id"],))
            self._claim(conn, row["index_id"], row["id"], texts)
            conn.execute(
                "UPDATE featured_sets SET name = ?, description = ?, status = ?, query_texts = ?, documents = ?,"
                " updated_at = ? WHERE id = ?",
                (p.get("FeaturedResultsSetName", row["name"]), p.get("Description", row["description"]),
                 p.get("Status", row["status"]), json.dumps(texts, ensure_ascii=False),
                 json.dumps(documents, ensure_ascii=False), _millis(), row["id"]),
            )
            updated = conn.execute("SELECT * FROM featured_sets WHERE id = ?", (row["id"],)).fetchone()
        return {"FeaturedResultsSet": self._set(updated)}

    def describe_set(self, p: dict[str, Any]) -> dict[str, Any]:
        row = self._row(p["IndexId"], p["FeaturedResultsSetId"])
        ids = json.loads(row["documents"])
        found = self._in_index(row["index_id"], ids)
        out = {k: v for k, v in self._set(row).items() if k != "FeaturedDocuments"}
        out["FeaturedDocumentsWithMetadata"] = [_metadata(found[i]) for i in ids if i in found]
        out["FeaturedDocumentsMissing"] = [{"Id": i} for i in ids if i not in found]
        return out

    def list_sets(self, p: dict[str, Any]) -> dict[str, Any]:
        index_id = p["IndexId"]
        self.indexes.require_active(index_id)
        rows = self.store.read().execute(
            "SELECT * FROM featured_sets WHERE index_id = ? ORDER BY created_at, id", (index_id,)).fetchall()
        shown, following = page(rows, p)
        return {"FeaturedResultsSetSummaryItems": [
            {"FeaturedResultsSetId": r["id"], "FeaturedResultsSetName": r["name"], "Status": r["status"],
             "CreationTimestamp": r["created_at"], "LastUpdatedTimestamp": r["updated_at"]}
            for r in shown
        ], **following}

    def batch_delete_sets(self, p: dict[str, Any]) -> dict[str, Any]:
        index_id = p["IndexId"]
        self.indexes.require_active(index_id)
        errors = []
        with self.store.write() as conn:
            for set_id in p["FeaturedResultsSetIds"]:
                if conn.execute("DELETE FROM featured_sets WHERE id = ? AND index_id = ?",
                                (set_id, index_id)).rowcount == 0:
                    errors.append({"Id": set_id, "ErrorCode": "InvalidRequest",
                                   "ErrorMessage": f"Featured results set {set_id} does not exist in index {index_id}"})
                    continue
                conn.execute("DELETE FROM featured_queries WHERE set_id = ?", (set_id,))
        return {"Errors": errors}

    def drop_index(self, index_id: str) -> None:
        """The sets of a deleted index go with it."""
        with self.store.write() as conn:
            conn.execute("DELETE FROM featured_queries WHERE index_id = ?", (index_id,))
            conn.execute("DELETE FROM featured_sets WHERE index_id = ?", (index_id,))

    # -- Query ----------------------------------------------------------------------------------

    def match(self, index_id: str, text: str, principals: Principals, query_id: str,
              fields: dict[str, dict[str, Any]], requested: list[str] | None) -> list[dict[str, Any]]:
        """The FeaturedResultsItems of a query: the documents of the ACTIVE set holding its text."""
        row = self.store.read().execute(
            "SELECT s.documents FROM featured_queries q JOIN featured_sets s ON s.id = q.set_id"
            " WHERE q.index_id = ? AND q.query = ? AND s.status = 'ACTIVE'", (index_id, query_key(text))).fetchone()
        if row is None:
            return []
        ids = json.loads(row["documents"])
        found = self._in_index(index_id, ids)
        return [_item(found[i], query_id, fields, requested) for i in ids
                if i in found and may_see(principals, *acl_principals(found[i].acl, found[i].hierarchy))]

    # -- rows -----------------------------------------------------------------------------------

    def _row(self, index_id: str, set_id: str) -> Row:
        self.indexes.require_active(index_id)
        row: Row | None = self.store.read().execute(
            "SELECT * FROM featured_sets WHERE id = ? AND index_id = ?", (set_id, index_id)).fetchone()
        if row is None:
            raise ResourceNotFoundException(f"Featured results set {set_id} does not exist in index {index_id}")
        return row

    def _claim(self, conn: Connection, index_id: str, set_id: str, texts: list[str]) -> None:
        """Record ``texts`` as ``set_id``'s; those another set holds are a conflict (nothing is written)."""
        conflicts = []
        for text in texts:
            other = conn.execute(
                "SELECT s.id, s.name FROM featured_queries q JOIN featured_sets s ON s.id = q.set_id"
                " WHERE q.index_id = ? AND q.query = ? AND q.set_id != ?", (index_id, query_key(text), set_id),
            ).fetchone()
            if other is not None:
                conflicts.append({"QueryText": text, "SetName": other["name"], "SetId": other["id"]})
        if conflicts:
            raise FeaturedResultsConflictException(
                "The query texts of a featured results set must be unique per index; these are in other sets: "
                + ", ".join(repr(c["QueryText"]) for c in conflicts)[:1800], conflicts)
        conn.executemany("INSERT INTO featured_queries (index_id, query, set_id) VALUES (?, ?, ?)",
                         [(index_id, query_key(t), set_id) for t in texts])

    def _in_index(self, index_id: str, ids: list[str]) -> dict[str, StoredDocument]:
        return {i: d for i, d in self.store.documents(index_id, ids).items() if d.status in _IN_INDEX}

    @staticmethod
    def _set(row: Row) -> dict[str, Any]:
        out = {
            "FeaturedResultsSetId": row["id"], "FeaturedResultsSetName": row["name"], "Status": row["status"],
            "QueryTexts": json.loads(row["query_texts"]),
            "FeaturedDocuments": [{"Id": i} for i in json.loads(row["documents"])],
            "CreationTimestamp": row["created_at"], "LastUpdatedTimestamp": row["updated_at"],
        }
        if row["description"] is not None:
            out["Description"] = row["description"]
        return out


def _metadata(doc: StoredDocument) -> dict[str, str]:
    """A FeaturedDocumentWithMetadata."""
    out = {"Id": doc.doc_id}
    if doc.title:
        out["Title"] = doc.title[:2048]
    if uri := displayed_uri(doc.attributes.get("_source_uri")):
        out["URI"] = uri
    return out


def _item(doc: StoredDocument, query_id: str, fields: dict[str, dict[str, Any]],
          requested: list[str] | None) -> dict[str, Any]:
    """A FeaturedResultsItem: a DOCUMENT result item without a score."""
    item: dict[str, Any] = {
        "Id": f"{query_id}-{uuid.uuid4()}"[:73],
        "Type": "DOCUMENT",
        "AdditionalAttributes": [],
        "DocumentId": doc.doc_id,
        "DocumentAttributes": displayed_attributes(doc.attributes, fields, requested),
        "FeedbackToken": f"{query_id}.{uuid.uuid4().hex}",
    }
    if doc.title:
        item["DocumentTitle"] = {"Text": shown(doc.title), "Highlights": []}
    if body := excerpt(doc.body, [], EXCERPT_CHARS):
        item["DocumentExcerpt"] = {"Text": body, "Highlights": []}
    if uri := displayed_uri(doc.attributes.get("_source_uri")):
        item["DocumentURI"] = uri
    return item
