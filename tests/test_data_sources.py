"""Data source and sync job operations through boto3 against a real server (spec scenario 22)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.conftest import ROLE, Server, make_client, state_rows, text_doc, wait_for, wait_indexed

pytestmark = pytest.mark.databases  # the tests on the shared server run with PostgreSQL too


def _template(kind: str, **endpoint: Any) -> dict[str, Any]:
    return {"TemplateConfiguration": {"Template": {
        "type": kind, "syncMode": "FULL_CRAWL",
        "connectionConfiguration": {"repositoryEndpointMetadata": endpoint}, "additionalProperties": {},
    }}}


def _latest(kendra: Any, ds: str, index: str) -> dict[str, Any]:
    history: list[dict[str, Any]] = kendra.list_data_source_sync_jobs(Id=ds, IndexId=index)["History"]
    return history[0]


def test_custom_data_source_sync_counts_puts_and_deletes(kendra: Any, new_index: Any) -> None:
    index = new_index()
    ds = kendra.create_data_source(IndexId=index, Name="crm", Type="CUSTOM")["Id"]
    with pytest.raises(kendra.exceptions.ValidationException):
        kendra.create_data_source(IndexId=index, Name="crm2", Type="CUSTOM", RoleArn=ROLE)
    ex = kendra.start_data_source_sync_job(Id=ds, IndexId=index)["ExecutionId"]
    with pytest.raises(kendra.exceptions.ResourceInUseException):
        kendra.start_data_source_sync_job(Id=ds, IndexId=index)
    owner = [{"Key": "_data_source_id", "Value": {"StringValue": ds}},
             {"Key": "_data_source_sync_job_execution_id", "Value": {"StringValue": ex}}]
    docs = [text_doc("crm-1", "customer alpha renewal", attributes=owner),
            text_doc("crm-2", "customer beta renewal", attributes=owner)]
    assert kendra.batch_put_document(IndexId=index, Documents=docs)["FailedDocuments"] == []
    wait_indexed(kendra, index, ["crm-1", "crm-2"])
    r = kendra.batch_delete_document(IndexId=index, DocumentIdList=["crm-2"],
                                     DataSourceSyncJobMetricTarget={"DataSourceId": ds, "DataSourceSyncJobId": ex})
    assert r["FailedDocuments"] == []
    assert _latest(kendra, ds, index)["Status"] == "SYNCING"
    kendra.stop_data_source_sync_job(Id=ds, IndexId=index)
    job = wait_for(lambda: (j := _latest(kendra, ds, index))["Status"] == "SUCCEEDED" and j, what="SUCCEEDED")
    assert job["ExecutionId"] == ex
    assert job["Metrics"]["DocumentsAdded"] == "2"
    assert job["Metrics"]["DocumentsDeleted"] == "1"
    assert job["EndTime"] >= job["StartTime"]
    late = kendra.batch_put_document(IndexId=index, Documents=[text_doc("crm-3", "late", attributes=owner),
                                                               text_doc("crm-4", "late", attributes=owner)])
    assert sorted(f["Id"] for f in late["FailedDocuments"]) == ["crm-3", "crm-4"]
    assert all(f["ErrorCode"] == "InvalidRequest" for f in late["FailedDocuments"])
    hits = kendra.query(IndexId=index, QueryText="renewal",
                        RequestedDocumentAttributes=["_data_source_id"])["ResultItems"]
    assert [h["DocumentId"] for h in hits] == ["crm-1"]
    attrs = {a["Key"]: a["Value"] for a in hits[0]["DocumentAttributes"]}
    assert attrs["_data_source_id"] == {"StringValue": ds}
    # A second job counts a re-put as modified.
    ex2 = kendra.start_data_source_sync_job(Id=ds, IndexId=index)["ExecutionId"]
    owner2 = [owner[0], {"Key": "_data_source_sync_job_execution_id", "Value": {"StringValue": ex2}}]
    kendra.batch_put_document(IndexId=index, Documents=[text_doc("crm-1", "customer alpha again", attributes=owner2)])
    kendra.stop_data_source_sync_job(Id=ds, IndexId=index)
    job2 = wait_for(lambda: (j := _latest(kendra, ds, index))["Status"] == "SUCCEEDED" and j, what="second job")
    assert job2["Metrics"] == {"DocumentsAdded": "0", "DocumentsModified": "1", "DocumentsDeleted": "0",
                               "DocumentsFailed": "0", "DocumentsScanned": "0"}
    assert len(kendra.list_data_source_sync_jobs(Id=ds, IndexId=index)["History"]) == 2
    assert kendra.list_data_source_sync_jobs(Id=ds, IndexId=index, StatusFilter="FAILED")["History"] == []


def test_document_naming_an_unknown_data_source_fails_alone(kendra: Any, new_index: Any) -> None:
    index = new_index()
    attrs = [{"Key": "_data_source_id", "Value": {"StringValue": "nope"}},
             {"Key": "_data_source_sync_job_execution_id", "Value": {"StringValue": "nope"}}]
    r = kendra.batch_put_document(IndexId=index, Documents=[text_doc("x", "x", attributes=attrs),
                                                            text_doc("y", "plain")])
    assert [f["Id"] for f in r["FailedDocuments"]] == ["x"]


def test_data_source_lifecycle_and_validation(kendra: Any, new_index: Any, tmp_path: Any) -> None:
    index = new_index()
    config = _template("FILESYSTEM", path=str(tmp_path))
    ds = kendra.create_data_source(IndexId=index, Name="share", Type="TEMPLATE", Configuration=config,
                                   RoleArn=ROLE, Schedule="cron(0 3 * * ? *)", LanguageCode="ja",
                                   Description="the file share")["Id"]
    d = kendra.describe_data_source(Id=ds, IndexId=index)
    assert (d["Name"], d["Type"], d["Status"], d["Schedule"], d["LanguageCode"]) == \
        ("share", "TEMPLATE", "ACTIVE", "cron(0 3 * * ? *)", "ja")
    assert d["Configuration"]["TemplateConfiguration"]["Template"]["type"] == "FILESYSTEM"
    kendra.update_data_source(Id=ds, IndexId=index, Name="share2", Schedule="")
    assert kendra.describe_data_source(Id=ds, IndexId=index)["Name"] == "share2"
    items = kendra.list_data_sources(IndexId=index)["SummaryItems"]
    assert [(i["Id"], i["Type"], i["LanguageCode"]) for i in items] == [(ds, "TEMPLATE", "ja")]
    bad = [
        dict(Type="TEMPLATE", Configuration=config),  # no RoleArn
        dict(Type="TEMPLATE", Configuration=_template("FILESYSTEM"), RoleArn=ROLE),  # no path
        dict(Type="TEMPLATE", Configuration=_template("FILESYSTEM", path="rel/dir"), RoleArn=ROLE),
        dict(Type="TEMPLATE", Configuration=config, RoleArn=ROLE, Schedule="every day"),
        dict(Type="TEMPLATE", RoleArn=ROLE, Configuration={"TemplateConfiguration": {"Template": {
            "type": "FILESYSTEM", "syncMode": "SOMETIMES"}}}),
        dict(Type="CUSTOM", Schedule="cron(0 3 * * ? *)"),
        dict(Type="NOT_A_TYPE"),
    ]
    for i, kwargs in enumerate(bad):
        with pytest.raises(kendra.exceptions.ValidationException):
            kendra.create_data_source(IndexId=index, Name=f"bad{i}", **kwargs)
    with pytest.raises(kendra.exceptions.ResourceNotFoundException):
        kendra.describe_data_source(Id="missing", IndexId=index)
    with pytest.raises(kendra.exceptions.ValidationException):
        kendra.stop_data_source_sync_job(Id=ds, IndexId=index)
    kendra.delete_data_source(Id=ds, IndexId=index)
    with pytest.raises(kendra.exceptions.ResourceNotFoundException):
        kendra.describe_data_source(Id=ds, IndexId=index)


def test_unsupported_types_are_stored_but_refuse_to_sync(kendra: Any, new_index: Any) -> None:
    index = new_index()
    sf = kendra.create_data_source(IndexId=index, Name="sf", Type="SALESFORCE", RoleArn=ROLE, Configuration={
        "SalesforceConfiguration": {"ServerUrl": "https://example.my.salesforce.com", "SecretArn":
                                    "arn:aws:secretsmanager:us-east-1:000000000000:secret:sf"}})["Id"]
    tpl = kendra.create_data_source(IndexId=index, Name="jira", Type="TEMPLATE", RoleArn=ROLE,
                                    Configuration=_template("JIRA", url="https://jira.example"))["Id"]
    for ds, word in ((sf, "SALESFORCE"), (tpl, "JIRA")):
        assert kendra.describe_data_source(Id=ds, IndexId=index)["Status"] == "ACTIVE"
        with pytest.raises(kendra.exceptions.ValidationException) as error:
            kendra.start_data_source_sync_job(Id=ds, IndexId=index)
        assert word in str(error.value) and "FILESYSTEM" in str(error.value)
        assert kendra.list_data_source_sync_jobs(Id=ds, IndexId=index)["History"] == []


def test_data_sources_and_jobs_survive_a_restart(tmp_path: Any) -> None:
    srv = Server(tmp_path / "data").start()
    try:
        c = make_client(srv.url)
        index = c.create_index(Name="restart", RoleArn=ROLE)["Id"]
        wait_for(lambda: c.describe_index(Id=index)["Status"] == "ACTIVE")
        ds = c.create_data_source(IndexId=index, Name="crm", Type="CUSTOM")["Id"]
        ex = c.start_data_source_sync_job(Id=ds, IndexId=index)["ExecutionId"]
        srv.kill()
        srv = Server(tmp_path / "data").start()
        c = make_client(srv.url)
        assert c.describe_data_source(Id=ds, IndexId=index)["Name"] == "crm"
        assert _latest(c, ds, index)["ExecutionId"] == ex
        c.stop_data_source_sync_job(Id=ds, IndexId=index)
        wait_for(lambda: _latest(c, ds, index)["Status"] == "SUCCEEDED", what="SUCCEEDED after restart")
    finally:
        srv.stop()
    assert time.time()


def test_data_sources_go_with_their_index(server: Server, kendra: Any, tmp_path: Any) -> None:
    index = kendra.create_index(Name="with-sources", RoleArn=ROLE)["Id"]
    wait_for(lambda: kendra.describe_index(Id=index)["Status"] == "ACTIVE")
    (tmp_path / "a.txt").write_text("a file to sync", encoding="utf-8")
    share = kendra.create_data_source(IndexId=index, Name="share", Type="TEMPLATE", RoleArn=ROLE,
                                      Configuration=_template("FILESYSTEM", path=str(tmp_path)),
                                      Schedule="* * * * *")["Id"]  # due every minute
    crm = kendra.create_data_source(IndexId=index, Name="crm", Type="CUSTOM")["Id"]
    kendra.start_data_source_sync_job(Id=share, IndexId=index)
    wait_for(lambda: _latest(kendra, share, index)["Status"] == "SUCCEEDED", what="the share synced")
    kendra.start_data_source_sync_job(Id=crm, IndexId=index)  # still running when the index goes
    kendra.delete_index(Id=index)
    wait_for(lambda: index not in [i["Id"] for i in kendra.list_indices()["IndexConfigurationSummaryItems"]],
             what="the index gone")
    left = {table: state_rows(server, "store", f"SELECT COUNT(*) FROM {table} WHERE {column} IN (?, ?, ?)",
                              (index, share, crm))[0][0]
            for table, column in (("data_sources", "index_id"), ("sync_jobs", "index_id"),
                                  ("source_items", "data_source_id"))}
    assert left == {"data_sources": 0, "sync_jobs": 0, "source_items": 0}  # no schedule left to fire
    other = kendra.create_index(Name="after", RoleArn=ROLE)["Id"]  # the server goes on as before
    wait_for(lambda: kendra.describe_index(Id=other)["Status"] == "ACTIVE")
    assert kendra.create_data_source(IndexId=other, Name="share", Type="CUSTOM")["Id"]
    kendra.delete_index(Id=other)
