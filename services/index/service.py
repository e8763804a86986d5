"""The index service: index lifecycle and the document write path (the only writer of an index)."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kernel.errors import (
    ConflictException,
    ResourceNotFoundException,
    ServiceQuotaExceededException,
    ValidationException,
)
from kernel.paging import page
from kernel.times import from_epoch
from services.engine.base import Engine, EngineUnavailable, SearchIndex
from services.engine.factory import make_engine
from services.index.documents import DocumentRejected, build_version, check_document, field_specs
from services.index.fields import apply_updates, default_fields
from services.index.store import IndexRow, Store
from services.index.sync_jobs import PutRejected, SyncJobs
from services.index.vectors import VectorStores
from services.settings import Settings

log = logging.getLogger("kensaku.index")
# An access control configuration's AccessControlList and hierarchical principal lists.
AccessLists = tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]
DELETE_RETRY_SECONDS = 5.0

_CONFIG_MEMBERS = (
    "Edition", "RoleArn", "Description", "ServerSideEncryptionConfiguration", "UserTokenConfigurations",
    "UserContextPolicy", "UserGroupResolutionConfiguration", "CapacityUnits",
)


def _no_faqs(index_id: str) -> int:
    return 0


def _no_access_lists(index_id: str, config_id: str) -> AccessLists | None:
    return None


def _no_expansion(index_id: str, terms: list[str]) -> list[str]:
    return terms


@dataclass(frozen=True, slots=True)
class IndexCompanions:
    """What the services that keep things per index give the index service: the composition root
    (kensaku/app.py, kensaku/roles.py) builds it from them. The defaults are a process without them."""

    faq_count: Callable[[str], int] = _no_faqs  # the FAQ service: the FAQ entries of an index
    # The access control configuration service: (index id, configuration id) -> its ACL (None: no such one).
    access_lists: Callable[[str, str], AccessLists | None] = _no_access_lists
    # The principal mapping service: principal terms with the groups mappings give them.
    expand_principals: Callable[[str, list[str]], list[str]] = _no_expansion
    # What else an index holds (FAQs, featured results, thesauri, tags, ...) is dropped with it by these.
    on_delete: tuple[Callable[[str], None], ...] = ()


class IndexService:
    """Index lifecycle, documents, and the lexical index of every index (one per process)."""

    def __init__(self, settings: Settings, store: Store, engine: Engine | None = None, *, jobs: SyncJobs,
                 companions: IndexCompanions | None = None, follow_commits: bool = False) -> None:
        companions = companions or IndexCompanions()
        self.settings = settings
        self.store = store
        self.engine = engine or make_engine(settings)
        self._lexical: dict[str, SearchIndex] = {}
        self._lock = threading.RLock()
        self.changed = threading.Event()  # set when work is queued for the indexer
        self.jobs = jobs  # sync jobs that documents with _data_source_id belong to
        self.vectors = VectorStores(settings, self.engine)
        self.faq_count = companions.faq_count
        self.access_lists = companions.access_lists
        self.expand_principals = companions.expand_principals
        self._on_delete = companions.on_delete  # what else an index holds is dropped with it by these
        # Distributed topology: other processes write the store and the engine. Every process reopens an
        # index whose schema generation changed; an API process (``follow_commits``) also takes a new
        # reader when the indexers committed (readers cache statistics for the life of one commit).
        self.distributed = settings.topology == "distributed"
        self.follow_commits = follow_commits
        self._seen: dict[str, tuple[int, int, float]] = {}  # index id -> (generation, commits, checked at)

    # -- search indexes ------------------------------------------------------------------------------

    def lexical(self, index_id: str) -> SearchIndex:
        """The current lexical index (opened on first use)."""
        with self._lock:
            lex = self._lexical.get(index_id)
            if lex is not None and self.distributed:
                lex = self._follow(index_id, lex)
            if lex is None:
                row = self.row(index_id)
                lex = self.open_lexical(index_id, row["schema_gen"], json.loads(row["fields"]))
                self._lexical[index_id] = lex
                if self.distributed:
                    self._seen[index_id] = (row["schema_gen"], self._commits(index_id), time.monotonic())
            return lex

    def _commits(self, index_id: str) -> int:
        from services.index import shared

        return shared.commits(self.store, index_id) if self.follow_commits else 0

    def _follow(self, index_id: str, lex: SearchIndex) -> SearchIndex | None:
        """``lex``, or None (to be opened again) when another process changed the index since it was
        opened: checked at most every ``shared_refresh_seconds``. Called under ``_lock``."""
        generation, commits, checked = self._seen.get(index_id, (-1, -1, 0.0))
        now = time.monotonic()
        if now - checked < self.settings.shared_refresh_seconds:
            return lex
        row = self.store.index_row(index_id)
        if row is None:  # deleted: callers find out from the row
            return lex
        seen = self._commits(index_id)
        if row["schema_gen"] == generation and seen == commits:
            self._seen[index_id] = (generation, commits, now)
            return lex
        del self._lexical[index_id]
        lex.close()  # an OpenSearch index holds nothing but its reader's caches
        self.vectors.forget(index_id)  # the passage store's caches too
        return None

    def open_lexical(self, index_id: str, generation: int, fields: list[dict[str, Any]]) -> SearchIndex:
        return self.engine.open_index(index_id, generation, field_specs({f["Name"]: f for f in fields}))

    def swap_lexical(self, index_id: str, lex: SearchIndex) -> SearchIndex | None:
        with self._lock:
            old = self._lexical.get(index_id)
            self._lexical[index_id] = lex
            return old

    def close(self) -> None:
        with self._lock:
            for lex in self._lexical.values():
                lex.close()
            self._lexical.clear()
        self.vectors.close()
        self.engine.close()

    # -- index rows ------------------------------------------------------------------------------

    def row(self, index_id: str) -> IndexRow:
        """The index's row as stored (reads only: see ``_advance`` for its status)."""
        row = self.store.index_row(index_id)
        if row is None:
            raise ResourceNotFoundException(f"Index {index_id} does not exist")
        return row

    def _advance(self, row: IndexRow) -> IndexRow:
        """``row`` after the transition of its status that is due: a CREATING index turns ACTIVE
        ``index_creating_seconds`` after it was created (recorded in the store then). Called by the
        operations that report or check an index's status, before they look at it."""
        if row["status"] == "CREATING" and time.time() - row["created_at"] >= self.settings.index_creating_seconds:
            self.store.activate_created(row["id"])
            row = self.store.index_row(row["id"]) or row
        return row

    def _current(self, index_id: str) -> IndexRow:
        """The index's row with its status advanced (``_advance``)."""
        return self._advance(self.row(index_id))

    def fields(self, index_id: str) -> dict[str, dict[str, Any]]:
        return {f["Name"]: f for f in json.loads(self.row(index_id)["fields"])}

    def config(self, index_id: str) -> dict[str, Any]:
        return dict(json.loads(self.row(index_id)["config"]))

    def acl_levels(self, index_id: str) -> int:
        """How many levels of hierarchical ACL documents of the index may have (see ``raise_acl_levels``)."""
        return int(self.row(index_id)["acl_levels"])

    def raise_acl_levels(self, index_id: str, levels: int) -> None:
        """Record that documents of the index may have ``levels`` levels of hierarchical ACL, before any
        such document is queued: from then on a query with user context checks that many levels. Never
        lowered (a level no document has costs a query one empty term lookup)."""
        if levels > 0:
            self.store.raise_acl_levels(index_id, levels)

    def require_active(self, index_id: str, *, allow_updating: bool = True) -> IndexRow:
        row = self._current(index_id)
        ok = ("ACTIVE", "UPDATING") if allow_updating else ("ACTIVE",)
        if row["status"] == "DELETING":
            raise ResourceNotFoundException(f"Index {index_id} is being deleted")
        if row["status"] not in ok:
            raise ConflictException(f"Index {index_id} is {row['status']}; try again when it is ACTIVE")
        return row

    # -- lifecycle operations ----------------------------------------------------------------------

    def create_index(self, p: dict[str, Any]) -> dict[str, Any]:
        edition = p.get("Edition", "ENTERPRISE_EDITION")
        if edition == "GEN_AI_ENTERPRISE_EDITION" and (
            p.get("UserTokenConfigurations") or p.get("UserContextPolicy") == "USER_TOKEN"
        ):
            raise ValidationException("GEN_AI_ENTERPRISE_EDITION indexes do not support user tokens")
        token = p.get("ClientToken")
        if token:
            existing = self.store.index_id_of_token(token)
            if existing is not None:
                return {"Id": existing}
        if len(self.store.index_rows()) >= self.settings.max_indexes:
            raise ServiceQuotaExceededException(f"At most {self.settings.max_indexes} indexes")
        index_id = str(uuid.uuid4())
        config = {k: p[k] for k in _CONFIG_MEMBERS if k in p}
        config["Edition"] = edition
        config.setdefault("UserContextPolicy", "ATTRIBUTE_FILTER")
        fields = default_fields()  # the engine's index is made on first use (the engine may be down now)
        self.store.insert_index(index_id, p["Name"], time.time(), token, build_version(), config, fields)
        return {"Id": index_id}

    def describe_index(self, p: dict[str, Any]) -> dict[str, Any]:
        row = self._current(p["Id"])
        config = json.loads(row["config"])
        docs, text_bytes = self.store.statistics(row["id"])
        out = {
            "Name": row["name"],
            "Id": row["id"],
            "Edition": config["Edition"],
            "RoleArn": config.get("RoleArn"),
            "ServerSideEncryptionConfiguration": config.get("ServerSideEncryptionConfiguration"),
            "Status": row["status"],
            "Description": config.get("Description"),
            "CreatedAt": from_epoch(row["created_at"]),
            "UpdatedAt": from_epoch(row["updated_at"]),
            "DocumentMetadataConfigurations": json.loads(row["fields"]),
            "IndexStatistics": {
                "FaqStatistics": {"IndexedQuestionAnswersCount": self.faq_count(row["id"])},
                "TextDocumentStatistics": {"IndexedTextDocumentsCount": docs, "IndexedTextBytes": text_bytes},
            },
            "CapacityUnits": config.get("CapacityUnits"),
            "UserTokenConfigurations": config.get("UserTokenConfigurations"),
            "UserContextPolicy": config.get("UserContextPolicy"),
            "UserGroupResolutionConfiguration": config.get("UserGroupResolutionConfiguration"),
        }
        return out

    def list_indices(self, p: dict[str, Any]) -> dict[str, Any]:
        rows = [self._advance(r) for r in self.store.index_rows()]
        shown, following = page(rows, p)
        return {
            "IndexConfigurationSummaryItems": [
                {
                    "Name": r["name"],
                    "Id": r["id"],
                    "Edition": json.loads(r["config"])["Edition"],
                    "CreatedAt": from_epoch(r["created_at"]),
                    "UpdatedAt": from_epoch(r["updated_at"]),
                    "Status": r["status"],
                }
                for r in shown
            ],
            **following,
        }

    def update_index(self, p: dict[str, Any]) -> None:
        row = self._current(p["Id"])
        if row["status"] not in ("ACTIVE", "UPDATING"):
            raise ConflictException(f"Index {row['id']} is {row['status']}")
        config = json.loads(row["config"])
        if "CapacityUnits" in p and config["Edition"] == "DEVELOPER_EDITION":
            raise ValidationException("CapacityUnits cannot be set on a DEVELOPER_EDITION index")
        for key in ("RoleArn", "Description", "CapacityUnits", "UserTokenConfigurations", "UserContextPolicy",
                    "UserGroupResolutionConfiguration"):
            if key in p:
                config[key] = p[key]
        old_fields = json.loads(row["fields"])
        fields = apply_updates(old_fields, p.get("DocumentMetadataConfigurationUpdates", []))
        new_schema = {(f["Name"], f["Type"]) for f in fields} != {(f["Name"], f["Type"]) for f in old_fields}
        self.store.update_index(row["id"], p.get("Name", row["name"]), config, fields, time.time(),
                                updating=new_schema)
        if new_schema:
            self.changed.set()  # the indexer rebuilds the lexical index with the new fields

    def delete_index(self, p: dict[str, Any]) -> None:
        row = self._current(p["Id"])
        if row["status"] == "DELETING":
            return
        self.store.mark_deleting(row["id"], time.time())
        if self.distributed:  # a DeleteSweeper of any API process finishes it, even if this one dies
            return
        timer = threading.Timer(self.settings.index_deleting_seconds, self.finish_delete, args=(row["id"],))
        timer.daemon = True
        timer.start()

    def finish_delete(self, index_id: str) -> None:
        with self._lock:
            lex = self._lexical.pop(index_id, None)
        if lex is not None:
            lex.close()
        self.vectors.forget(index_id)
        try:
            self.engine.drop_index(index_id)
        except EngineUnavailable as error:  # the index stays DELETING until the engine answers
            log.warning("deleting index %s: %s; trying again in %.0f s", index_id, error, DELETE_RETRY_SECONDS)
            timer = threading.Timer(DELETE_RETRY_SECONDS, self.finish_delete, args=(index_id,))
            timer.daemon = True
            timer.start()
            return
        for drop in self._on_delete:
            drop(index_id)
        self.store.drop_index(index_id)

    # -- documents -------------------------------------------------------------------------------

    def batch_put_document(self, p: dict[str, Any]) -> dict[str, Any]:
        if "CustomDocumentEnrichmentConfiguration" in p:
            raise ValidationException("CustomDocumentEnrichmentConfiguration is not supported by this server yet")
        index_id = p["IndexId"]
        self.require_active(index_id)
        fields = self.fields(index_id)
        failed: list[dict[str, Any]] = []
        changes: list[tuple[str, str, str, dict[str, Any] | None, bytes | None]] = []
        by_job: dict[str, list[str]] = {}
        for doc in p["Documents"]:
            try:
                accepted = check_document(doc, fields, self.settings.max_document_bytes)
                owner = self.jobs.check(index_id, accepted.attributes)
            except DocumentRejected as rejected:
                failed.append({"Id": doc["Id"], "ErrorCode": rejected.code, "ErrorMessage": rejected.message})
                continue
            except PutRejected as rejected:
                failure = {"Id": doc["Id"], "ErrorCode": "InvalidRequest", "ErrorMessage": str(rejected)}
                ds = accepted.attributes.get("_data_source_id")
                failed.append({**failure, "DataSourceId": ds} if ds else failure)
                continue
            acl, hierarchy = accepted.acl, accepted.hierarchy
            if accepted.acl_config is not None:
                found = self.access_lists(index_id, accepted.acl_config)
                if found is None:
                    failed.append({"Id": doc["Id"], "ErrorCode": "InvalidRequest", "ErrorMessage":
                                   f"Access control configuration {accepted.acl_config} does not exist in this index"})
                    continue
                acl, hierarchy = found  # as of now; the indexer takes the configuration's ACL again
            if owner is not None:
                by_job.setdefault(owner[1], []).append(accepted.doc_id)
            self.raise_acl_levels(index_id, len(hierarchy))
            payload = {
                "title": accepted.title,
                "content_type": accepted.content_type,
                "attributes": accepted.attributes,
                "acl": acl,
                "hierarchy": hierarchy,
                "acl_config": accepted.acl_config,
            }
            changes.append((index_id, accepted.doc_id, "put", payload, doc["Blob"]))
        # Recorded before queueing: a put retried after a crash in between keeps its first verdict.
        for job_id, doc_ids in by_job.items():
            self.jobs.record_puts(job_id, doc_ids, self.jobs.existing(index_id, doc_ids))
        if changes:
            self.store.enqueue(changes)
            self.changed.set()
        return {"FailedDocuments": failed}

    def batch_delete_document(self, p: dict[str, Any]) -> dict[str, Any]:
        index_id = p["IndexId"]
        self.require_active(index_id)
        ids = list(p["DocumentIdList"])
        target = p.get("DataSourceSyncJobMetricTarget")
        if target is not None:
            try:
                job_id = self.jobs.check_target(index_id, target)
            except PutRejected as rejected:
                return {"FailedDocuments": [
                    {"Id": d, "DataSourceId": target["DataSourceId"], "ErrorCode": "InvalidRequest",
                     "ErrorMessage": str(rejected)} for d in ids
                ]}
            if job_id is not None:
                existed = self.jobs.existing(index_id, ids)
                self.jobs.record_deletes(job_id, [d for d in ids if d in existed])
        self.store.enqueue([(index_id, doc_id, "delete", None, None) for doc_id in ids])
        self.changed.set()
        return {"FailedDocuments": []}

    def batch_get_document_status(self, p: dict[str, Any]) -> dict[str, Any]:
        index_id = p["IndexId"]
        self.row(index_id)
        ids = [info["DocumentId"] for info in p["DocumentInfoList"]]
        pending = self.store.pending_ops(index_id, ids)
        stored = self.store.documents(index_id, ids)
        statuses: list[dict[str, Any]] = []
        for doc_id in ids:
            status: dict[str, Any] = {"DocumentId": doc_id}
            doc = stored.get(doc_id)
            if doc_id in pending:
                status["DocumentStatus"] = "PROCESSING"
            elif doc is None:
                status["DocumentStatus"] = "NOT_FOUND"
            else:
                status["DocumentStatus"] = doc.status
                if doc.failure_code:
                    status["FailureCode"] = doc.failure_code
                    status["FailureReason"] = doc.failure_reason
            statuses.append(status)
        return {"Errors": [], "DocumentStatusList": statuses}




class DeleteSweeper:
    """Distributed topology: finishes the deletes of every API process (each sweeps; finishing is
    idempotent), so that an index whose API process died after DeleteIndex is still deleted."""

    def __init__(self, service: IndexService) -> None:
        self.service = service
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="delete-sweeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def sweep(self, now: float) -> None:
        """Finish the deletes due at ``now``."""
        due = now - self.service.settings.index_deleting_seconds
        for row in self.service.store.index_rows():
            if row["status"] == "DELETING" and row["updated_at"] <= due:
                self.service.finish_delete(row["id"])

    def _run(self) -> None:
        while not self._stop.wait(self.service.settings.shared_refresh_seconds):
            try:
                self.sweep(time.time())
            except Exception:  # the store or engine failed this time; the next sweep tries again
                log.exception("finishing deleted indexes failed")
