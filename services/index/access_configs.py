"""Access control configurations: Create / Describe / List / Update / DeleteAccessControlConfiguration.

A configuration is a named ACL of an index: an AccessControlList and a HierarchicalAccessControlList
(index/documents.py ``principals`` has the rule: every level must let a user in; a DENY on any level
wins). A document put with ``AccessControlConfigurationId`` takes its ACL from the configuration (a
document naming one and giving its own lists is refused: which would win is not documented); the
stored document records the ACL it was given and the configuration it came from.

UpdateAccessControlConfiguration changes the ACL of every document that names the configuration
without indexing them again: in the transaction that writes the configuration, an "acl" change is
queued for each such document (and for each put naming it that is still queued); the indexer applies
them in queue order by analysing the stored text again with the new principals (nothing is extracted
or embedded; the vectors are not touched) and recording the new ACL. The document keeps its status
(INDEXED stays INDEXED) and BatchGetDocumentStatus does not report these changes as PROCESSING. A put
naming the configuration takes the configuration as it is when the indexer writes it. (Kendra's
guide asks for the documents to be put again after an update; here that is not needed, and does no
harm.)

DeleteAccessControlConfiguration of a configuration that a document still names (indexed, or queued)
is a ConflictException: its documents would be left without a source for their ACL. Put them again
without it (or delete them) first. A GEN_AI_ENTERPRISE_EDITION index has none (ValidationException,
as in Kendra).

Table (in the index store, owned by this module): ``access_configs`` (index_id, id, name,
description, acl, hierarchy as JSON, client_token, created_at).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from kernel.errors import ConflictException, ResourceNotFoundException, ValidationException
from kernel.handlers import Handler
from kernel.paging import page_offset, page_token
from services.database import Row
from services.index.documents import check_acl, hierarchy_of, hierarchy_wire
from services.index.service import AccessLists, IndexService
from services.index.store import Store

DEFAULT_PAGE_SIZE = 100

class AccessControlConfigurations:
    """The access control configurations of every index, in the index store."""

    def __init__(self, indexes: IndexService) -> None:
        self.indexes = indexes
        self.store = indexes.store

    def operations(self) -> dict[str, Handler]:
        return {
            "CreateAccessControlConfiguration": self.create,
            "DescribeAccessControlConfiguration": self.describe,
            "ListAccessControlConfigurations": self.list,
            "UpdateAccessControlConfiguration": self.update,
            "DeleteAccessControlConfiguration": self.delete,
        }

    # -- operations -----------------------------------------------------------------------------

    def create(self, p: dict[str, Any]) -> dict[str, Any]:
        index_id = p["IndexId"]
        row = self.indexes.require_active(index_id)
        if json.loads(row["config"]).get("Edition") == "GEN_AI_ENTERPRISE_EDITION":
            raise ValidationException("A GEN_AI_ENTERPRISE_EDITION index has no access control configurations")
        acl, hierarchy = p.get("AccessControlList", []), hierarchy_of(p.get("HierarchicalAccessControlList"))
        check_acl(acl, hierarchy, "An access control configuration")
        token = p.get("ClientToken")
        with self.store.write() as conn:
            if token:
                found = conn.execute("SELECT id FROM access_configs WHERE index_id = ? AND client_token = ?",
                                     (index_id, token)).fetchone()
                if found is not None:
                    return {"Id": found["id"]}
            config_id = str(uuid.uuid4())
            conn.execute(
                "INSERT INTO access_configs (index_id, id, name, description, acl, hierarchy, client_token,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (index_id, config_id, p["Name"], p.get("Description"), json.dumps(acl, ensure_ascii=False),
                 json.dumps(hierarchy, ensure_ascii=False), token, time.time()))
        self.indexes.raise_acl_levels(index_id, len(hierarchy))
        return {"Id": config_id}

    def describe(self, p: dict[str, Any]) -> dict[str, Any]:
        row = self._row(p["IndexId"], p["Id"])
        out: dict[str, Any] = {"Name": row["name"], "AccessControlList": json.loads(row["acl"])}
        if row["description"] is not None:
            out["Description"] = row["description"]
        if hierarchy := json.loads(row["hierarchy"]):
            out["HierarchicalAccessControlList"] = hierarchy_wire(hierarchy)
        return out

    def list(self, p: dict[str, Any]) -> dict[str, Any]:
        index_id = p["IndexId"]
        self.indexes.require_active(index_id)
        start = page_offset(p.get("NextToken"))
        size = p.get("MaxResults", DEFAULT_PAGE_SIZE)
        rows = self.store.read().execute(
            "SELECT id FROM access_configs WHERE index_id = ? ORDER BY created_at, id LIMIT ? OFFSET ?",
            (index_id, size + 1, start)).fetchall()
        out: dict[str, Any] = {"AccessControlConfigurations": [{"Id": r["id"]} for r in rows[:size]]}
        if len(rows) > size:
            out["NextToken"] = page_token(start + size)
        return out

    def update(self, p: dict[str, Any]) -> None:
        """Change a configuration; a new ACL is queued for the documents that name it (see the module)."""
        index_id, config_id = p["IndexId"], p["Id"]
        row = self._row(index_id, config_id)
        acl = p.get("AccessControlList", json.loads(row["acl"]))
        hierarchy = (hierarchy_of(p["HierarchicalAccessControlList"]) if "HierarchicalAccessControlList" in p
                     else json.loads(row["hierarchy"]))
        check_acl(acl, hierarchy, "An access control configuration")
        changed = (acl, hierarchy) != (json.loads(row["acl"]), json.loads(row["hierarchy"]))
        self.indexes.raise_acl_levels(index_id, len(hierarchy))  # before any document gets the new levels
        with self.store.write() as conn:
            conn.execute(
                "UPDATE access_configs SET name = ?, description = ?, acl = ?, hierarchy = ?"
                " WHERE index_id = ? AND id = ?",
                (p.get("Name", row["name"]), p.get("Description", row["description"]),
                 json.dumps(acl, ensure_ascii=False), json.dumps(hierarchy, ensure_ascii=False), index_id, config_id))
            if changed:
                doc_ids = Store.naming_acl_config(conn, index_id, config_id)
                Store.enqueue_acl(conn, index_id, sorted(doc_ids))
        if changed:
            self.indexes.changed.set()

    def delete(self, p: dict[str, Any]) -> None:
        index_id, config_id = p["IndexId"], p["Id"]
        self._row(index_id, config_id)
        with self.store.write() as conn:
            naming = Store.naming_acl_config(conn, index_id, config_id)
            if naming:
                raise ConflictException(
                    f"Access control configuration {config_id} is the ACL of {len(naming)} document(s)"
                    f" (for example {sorted(naming)[0]!r}); put or delete them without it first")
            conn.execute("DELETE FROM access_configs WHERE index_id = ? AND id = ?", (index_id, config_id))

    # -- for documents --------------------------------------------------------------------------

    def lists(self, index_id: str, config_id: str) -> AccessLists | None:
        """The AccessControlList and hierarchical principal lists of a configuration (None: no such one)."""
        row = self.store.read().execute("SELECT acl, hierarchy FROM access_configs WHERE index_id = ? AND id = ?",
                                        (index_id, config_id)).fetchone()
        return None if row is None else (json.loads(row["acl"]), json.loads(row["hierarchy"]))

    def drop_index(self, index_id: str) -> None:
        """The configurations of a deleted index go with it."""
        with self.store.write() as conn:
            conn.execute("DELETE FROM access_configs WHERE index_id = ?", (index_id,))

    # -- rows -----------------------------------------------------------------------------------

    def _row(self, index_id: str, config_id: str) -> Row:
        self.indexes.require_active(index_id)
        row: Row | None = self.store.read().execute(
            "SELECT * FROM access_configs WHERE index_id = ? AND id = ?", (index_id, config_id)).fetchone()
        if row is None:
            raise ResourceNotFoundException(
                f"Access control configuration {config_id} does not exist in index {index_id}")
        return row
