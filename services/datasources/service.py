"""Data source and sync job operations of the Kendra API.

    CreateDataSource / DescribeDataSource / ListDataSources / UpdateDataSource / DeleteDataSource
    StartDataSourceSyncJob / StopDataSourceSyncJob / ListDataSourceSyncJobs

CUSTOM sources are fed by the caller (spec section 4.10): a job is SYNCING until stopped, then
SYNCING_INDEXING until the documents it sent are indexed, then SUCCEEDED. Connector sources (TEMPLATE
of a type in :mod:`connectors.registry`, or Kendra's native S3 type) hand each job to a
:class:`Launcher` (in-process threads, or Celery workers); the job's rows in the store are the
single truth both kinds of runner update. Unknown types are stored but refuse to sync.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any, Protocol

from connectors import registry
from connectors.outbound import OutboundPolicy, TargetRefused
from kernel.errors import (
    ConflictException,
    ResourceInUseException,
    ResourceNotFoundException,
    ValidationException,
)
from kernel.paging import page
from kernel.times import from_epoch
from services.datasources import records, schedule
from services.index.service import IndexService
from services.index.store import Store

log = logging.getLogger("kensaku.datasources")

_CONFIG_MEMBERS = (
    "Configuration", "VpcConfiguration", "Description", "Schedule", "RoleArn", "LanguageCode",
    "CustomDocumentEnrichmentConfiguration",
)
_UPDATABLE = (
    "Configuration", "VpcConfiguration", "Description", "Schedule", "RoleArn", "LanguageCode",
    "CustomDocumentEnrichmentConfiguration",
)


class Launcher(Protocol):
    """Runs a connector sync job somewhere (threads of this process, or Celery workers)."""

    def launch(self, job_id: str) -> None: ...


def check_config(kind: str, config: dict[str, Any], policy: OutboundPolicy) -> None:
    """Kendra's rules for a data source's members, plus the connector's own checks."""
    if kind == "CUSTOM":
        for member in ("Configuration", "RoleArn", "Schedule"):
            if config.get(member):
                raise ValidationException(f"A CUSTOM data source cannot have {member}")
        return
    if "Configuration" not in config:
        raise ValidationException(f"A {kind} data source needs a Configuration")
    if not config.get("RoleArn"):
        raise ValidationException(f"A {kind} data source needs a RoleArn")
    if config.get("Schedule"):
        try:
            schedule.parse(config["Schedule"])
        except schedule.ScheduleError as error:
            raise ValidationException(f"Schedule: {error}") from None
    if kind == "TEMPLATE":
        try:
            registry.check_template(config["Configuration"])
        except ValueError as error:
            raise ValidationException(str(error)) from None
    spec = registry.spec_of(kind, config["Configuration"])
    if spec is not None:
        try:
            registry.validate(spec, policy)
        except (ValueError, TargetRefused) as error:
            raise ValidationException(str(error)) from None


class DataSourceService:
    def __init__(self, indexes: IndexService, store: Store, launcher: Launcher | None = None,
                 outbound: OutboundPolicy | None = None) -> None:
        self.indexes = indexes
        self.store = store
        self.launcher = launcher
        self.outbound = outbound or OutboundPolicy()
        for index_id in records.orphaned_indexes(store):  # left by a server from before data sources went too
            records.drop_index(store, index_id)

    def _source(self, ds_id: str, index_id: str) -> Any:
        self.indexes.row(index_id)
        row = records.data_source_row(self.store, ds_id)
        if row is None or row["index_id"] != index_id or row["status"] == "DELETING":
            raise ResourceNotFoundException(f"Data source {ds_id} does not exist in index {index_id}")
        return row

    def drop_index(self, index_id: str) -> None:
        """A deleted index's data sources, their jobs and schedules go with it, as Kendra's do."""
        records.drop_index(self.store, index_id)

    # -- data sources ----------------------------------------------------------------------------

    def create_data_source(self, p: dict[str, Any]) -> dict[str, Any]:
        index_id = p["IndexId"]
        self.indexes.require_active(index_id)
        token = p.get("ClientToken")
        if token:
            known = records.data_source_by_token(self.store, index_id, token)
            if known is not None:
                return {"Id": known}
        config = {k: p[k] for k in _CONFIG_MEMBERS if k in p}
        check_config(p["Type"], config, self.outbound)
        if records.name_taken(self.store, index_id, p["Name"]):
            raise ConflictException(f"Index {index_id} already has a data source named {p['Name']}")
        ds_id = uuid.uuid4().hex
        records.insert_data_source(self.store, ds_id, index_id, p["Name"], p["Type"], token, config, time.time())
        return {"Id": ds_id}

    def describe_data_source(self, p: dict[str, Any]) -> dict[str, Any]:
        row = self._source(p["Id"], p["IndexId"])
        config = json.loads(row["config"])
        out: dict[str, Any] = {
            "Id": row["id"], "IndexId": row["index_id"], "Name": row["name"], "Type": row["type"],
            "CreatedAt": from_epoch(row["created_at"]), "UpdatedAt": from_epoch(row["updated_at"]),
            "Status": row["status"],
        }
        for key in _CONFIG_MEMBERS:
            if key in config:
                out[key] = config[key]
        return out

    def list_data_sources(self, p: dict[str, Any]) -> dict[str, Any]:
        self.indexes.row(p["IndexId"])
        rows = records.data_sources_of(self.store, p["IndexId"])
        shown, following = page(rows, p)
        return {"SummaryItems": [
            {"Name": r["name"], "Id": r["id"], "Type": r["type"], "CreatedAt": from_epoch(r["created_at"]),
             "UpdatedAt": from_epoch(r["updated_at"]), "Status": r["status"],
             **({"LanguageCode": c["LanguageCode"]} if "LanguageCode" in (c := json.loads(r["config"])) else {})}
            for r in shown
        ], **following}

    def update_data_source(self, p: dict[str, Any]) -> None:
        row = self._source(p["Id"], p["IndexId"])
        config = json.loads(row["config"])
        for key in _UPDATABLE:
            if key in p:
                config[key] = p[key]
        check_config(row["type"], config, self.outbound)
        records.update_data_source(self.store, row["id"], p.get("Name", row["name"]), config, time.time())

    def delete_data_source(self, p: dict[str, Any]) -> None:
        """Delete the source and every document it put into the index (as Kendra does)."""
        row = self._source(p["Id"], p["IndexId"])
        index_id, ds_id = row["index_id"], row["id"]
        owned = records.delivered_doc_ids(self.store, ds_id)
        owned |= self.store.doc_ids_of_source(index_id, ds_id)
        if owned:
            self.store.enqueue([(index_id, doc_id, "delete", None, None) for doc_id in sorted(owned)])
            self.indexes.changed.set()
        records.delete_data_source(self.store, ds_id, time.time())

    # -- sync jobs -------------------------------------------------------------------------------

    def start_data_source_sync_job(self, p: dict[str, Any]) -> dict[str, Any]:
        row = self._source(p["Id"], p["IndexId"])
        self.indexes.require_active(row["index_id"])
        config = json.loads(row["config"])
        connector = None
        if row["type"] != "CUSTOM":
            connector = registry.spec_of(row["type"], config.get("Configuration", {}))
            if connector is None:
                raise ValidationException(registry.unsupported_message(row["type"], config.get("Configuration", {})))
            if self.launcher is None:
                raise ValidationException("This server runs no sync workers")
        job_id = self.start_job(row["id"], row["index_id"], forced=bool(connector and connector.forced))
        if connector is not None and self.launcher is not None:
            self.launcher.launch(job_id)
        return {"ExecutionId": job_id}

    def start_job(self, ds_id: str, index_id: str, *, forced: bool = False) -> str:
        job_id = uuid.uuid4().hex
        running = records.insert_job(self.store, job_id, ds_id, index_id, forced=forced, now=time.time())
        if running is not None:
            raise ResourceInUseException(f"Data source {ds_id} is already syncing (job {running})")
        log.info("sync job %s of data source %s started", job_id, ds_id)
        return job_id

    def stop_data_source_sync_job(self, p: dict[str, Any]) -> None:
        row = self._source(p["Id"], p["IndexId"])
        job = records.latest_job(self.store, row["id"])
        if job is None or job.status not in records.RUNNING:
            raise ValidationException(f"Data source {row['id']} has no sync job running")
        # CUSTOM: the caller is done sending; connectors: the runner stops between batches.
        target = "SYNCING_INDEXING" if row["type"] == "CUSTOM" else "STOPPING"
        records.set_status(self.store, job.id, target, only_from=("SYNCING",))

    def list_data_source_sync_jobs(self, p: dict[str, Any]) -> dict[str, Any]:
        row = self._source(p["Id"], p["IndexId"])
        rows = records.jobs_of(self.store, row["id"])
        jobs = [records.settle(self.store, job, self.indexes.changed) for job in rows]
        window = p.get("StartTimeFilter") or {}
        if "StartTime" in window:
            jobs = [j for j in jobs if j.started_at >= window["StartTime"]]
        if "EndTime" in window:
            jobs = [j for j in jobs if j.started_at <= window["EndTime"]]
        if "StatusFilter" in p:
            jobs = [j for j in jobs if j.status == p["StatusFilter"]]
        shown, following = page(jobs, p, default_size=10)
        return {"History": [self._job_view(j) for j in shown], **following}

    def _job_view(self, job: records.SyncJob) -> dict[str, Any]:
        n = records.counts(self.store, job.id)
        view: dict[str, Any] = {
            "ExecutionId": job.id, "StartTime": from_epoch(job.started_at), "Status": job.status,
            "Metrics": {
                "DocumentsAdded": str(n["added"]), "DocumentsModified": str(n["modified"]),
                "DocumentsDeleted": str(n["deleted"]), "DocumentsFailed": str(n["failed"]),
                "DocumentsScanned": str(job.scanned),
            },
        }
        if job.ended_at is not None:
            view["EndTime"] = from_epoch(job.ended_at)
        if job.error_message:
            # Kendra's ErrorCode enum has two values; the connector's own code goes in DataSourceErrorCode.
            view["ErrorMessage"] = job.error_message
            view["ErrorCode"] = "InternalError" if job.error_code == "InternalError" else "InvalidRequest"
            if job.error_code not in (None, "InternalError", "InvalidRequest"):
                view["DataSourceErrorCode"] = job.error_code
        return view
