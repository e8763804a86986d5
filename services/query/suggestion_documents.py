"""What DOCUMENT_ATTRIBUTES suggestions need from an index: suggestable values, visibility, attributes.

The analytics package never imports the index service; the app hands it this object.
"""

from __future__ import annotations

import json
from typing import Any

from services.engine.query import Query, Terms, all_of
from services.index.fields import STRING, STRING_LIST, wire_value
from services.index.service import IndexService
from services.query.filters import acl_query, asker, compile_filter

TITLE = "_document_title"


class SuggestionDocuments:
    """Reads an index's documents for attribute suggestions."""

    def __init__(self, indexes: IndexService) -> None:
        self.indexes = indexes

    def version(self, index_id: str) -> object:
        """Changes whenever a commit changes the index's documents: the reader is replaced, never
        mutated (the caller holds the object, so it is compared by identity, never by a reused id)."""
        return self.indexes.lexical(index_id).reader()

    def suggestable(self, index_id: str, name: str) -> bool:
        """Whether ``name`` can be suggested from: the title, or a STRING / STRING_LIST field."""
        if name == TITLE:
            return True
        f = self.indexes.fields(index_id).get(name)
        return f is not None and f["Type"] in (STRING, STRING_LIST)

    def values(self, index_id: str, names: list[str]) -> list[tuple[str, str, str]]:
        """``(document id, attribute, value)`` for every searchable document and suggestable attribute."""
        out: list[tuple[str, str, str]] = []
        rows = self.indexes.store.searchable_titles(index_id)
        others = [n for n in names if n != TITLE]
        for doc_id, title, attributes in rows:
            if TITLE in names and title:
                out.append((doc_id, TITLE, title))
            if others and attributes:
                values = json.loads(attributes)
                for name in others:
                    value = values.get(name)
                    for v in value if isinstance(value, list) else [value]:
                        if isinstance(v, str) and v:
                            out.append((doc_id, name, v))
        return out

    def visible(self, index_id: str, doc_ids: list[str], attribute_filter: dict[str, Any] | None,
                user_context: dict[str, Any] | None) -> set[str]:
        """Those of ``doc_ids`` that pass ``attribute_filter`` and that ``user_context`` may see.

        Raises:
            ValidationException: a bad filter or user context (as for Query).
        """
        if not doc_ids:
            return set()
        reader = self.indexes.lexical(index_id).reader()
        user_filter, principals = asker(index_id, user_context, attribute_filter, self.indexes.config(index_id),
                                        self.indexes.expand_principals, self.indexes.acl_levels(index_id))
        parts: list[Query] = [Terms("id", tuple(doc_ids))]
        if user_filter is not None:
            parts.append(compile_filter(user_filter, self.indexes.fields(index_id)))
        if principals.present:
            parts.append(acl_query(principals))
        found = reader.search(all_of(parts), limit=len(doc_ids))
        return {s.doc_id for s in reader.stored([hit.ref for hit in found.hits])}

    def attributes(self, index_id: str, doc_ids: list[str], names: list[str]) -> dict[str, list[dict[str, Any]]]:
        """The wire form of the ``names`` attributes of each document."""
        fields = self.indexes.fields(index_id)
        stored = self.indexes.store.documents(index_id, doc_ids)
        out: dict[str, list[dict[str, Any]]] = {}
        for doc_id, doc in stored.items():
            values = dict(doc.attributes)
            if doc.title:
                values.setdefault(TITLE, doc.title)
            out[doc_id] = [
                {"Key": n, "Value": wire_value(fields[n]["Type"], values[n])}
                for n in names if n in values and n in fields
            ]
        return out

    def titles(self, index_id: str, doc_ids: list[str]) -> dict[str, str | None]:
        """Titles of documents by id (deleted documents are absent)."""
        return {doc_id: doc.title for doc_id, doc in self.indexes.store.documents(index_id, doc_ids).items()}
