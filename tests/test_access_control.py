"""Access control configurations (Create / Describe / List / Update / DeleteAccessControlConfiguration)
and hierarchical ACLs: a user must be let in by every level, and a DENY on any level wins; a document
takes its ACL from the configuration it names, and an update of the configuration changes who sees it
without the document being indexed again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    ROLE,
    Server,
    ids_of,
    make_client,
    put_and_wait,
    text_doc,
    wait_active,
    wait_for,
    wait_indexed,
)
from tests.test_principal_mapping import allow, as_user, deny, seen
from tests.test_wire import TARGET, raw_post


def level(*principals: dict[str, str]) -> dict[str, Any]:
    return {"PrincipalList": list(principals)}


@pytest.mark.engines
def test_every_level_of_a_hierarchical_acl_must_let_a_user_in_and_deny_wins(kendra: Any, new_index: Any) -> None:
    index_id = new_index()
    put_and_wait(kendra, index_id, [
        text_doc("public", "the public roadmap"),
        # the site lets eng in, the folder alice and bob: an eng member who is alice or bob
        text_doc("folder", "the folder roadmap", HierarchicalAccessControlList=[
            level(allow("eng")), level(allow("alice", "USER"), allow("bob", "USER"))]),
        # a level with only a DENY lets everyone else in; the flat list is one more level
        text_doc("all-but-bob", "the roadmap for all but bob", AccessControlList=[allow("all")],
                 HierarchicalAccessControlList=[level(deny("bob", "USER"))]),
        # an ALLOW on a lower level does not undo a DENY above it
        text_doc("no-interns", "the roadmap interns may not read", HierarchicalAccessControlList=[
            level(allow("eng")), level(deny("interns")), level(allow("interns"), allow("eng"))]),
        # principals of a data source stay apart in levels too
        text_doc("wiki", "the wiki roadmap", HierarchicalAccessControlList=[
            level(allow("eng", DataSourceId="wiki")), level(allow("all"))]),
    ])
    assert seen(kendra, index_id, **as_user("alice", "eng", "all")) == {"public", "folder", "all-but-bob",
                                                                         "no-interns"}
    assert seen(kendra, index_id, **as_user("bob", "eng", "all")) == {"public", "folder", "no-interns"}
    assert seen(kendra, index_id, **as_user("carol", "eng")) == {"public", "no-interns"}
    assert seen(kendra, index_id, **as_user("alice", "all")) == {"public", "all-but-bob"}
    assert seen(kendra, index_id, **as_user("dan", "eng", "interns")) == {"public"}
    wiki_eng = {"UserContext": {"UserId": "erin", "Groups": ["all"],
                                "DataSourceGroups": [{"GroupId": "eng", "DataSourceId": "wiki"}]}}
    assert seen(kendra, index_id, **wiki_eng) == {"public", "all-but-bob", "wiki"}
    assert len(seen(kendra, index_id)) == 5  # no user context: everything
    # The same rule for a featured document.
    kendra.create_featured_results_set(IndexId=index_id, FeaturedResultsSetName="f", Status="ACTIVE",
                                       QueryTexts=["roadmap"], FeaturedDocuments=[{"Id": "folder"}])
    featured = kendra.query(IndexId=index_id, QueryText="roadmap", **as_user("carol", "eng"))
    assert featured.get("FeaturedResultsItems", []) == []
    featured = kendra.query(IndexId=index_id, QueryText="roadmap", **as_user("bob", "eng"))
    assert [i["DocumentId"] for i in featured["FeaturedResultsItems"]] == ["folder"]


def test_configurations_are_created_described_listed_updated_and_deleted(kendra: Any, new_index: Any) -> None:
    index_id = new_index()
    made = [kendra.create_access_control_configuration(
        IndexId=index_id, Name=f"config {n}", Description=f"number {n}", AccessControlList=[allow(f"g{n}")],
        HierarchicalAccessControlList=[level(allow("all"))])["Id"] for n in range(5)]
    again = kendra.create_access_control_configuration(IndexId=index_id, Name="tok", ClientToken="once")["Id"]
    assert kendra.create_access_control_configuration(IndexId=index_id, Name="tok", ClientToken="once")["Id"] == again
    described = kendra.describe_access_control_configuration(IndexId=index_id, Id=made[2])
    assert described["Name"] == "config 2" and described["Description"] == "number 2"
    assert described["AccessControlList"] == [allow("g2")]
    assert described["HierarchicalAccessControlList"] == [level(allow("all"))]
    bare = kendra.describe_access_control_configuration(IndexId=index_id, Id=again)
    assert (bare["Name"], bare["AccessControlList"]) == ("tok", [])
    assert "Description" not in bare and "HierarchicalAccessControlList" not in bare

    listed, token, pages = [], None, 0
    while True:  # botocore has no paginator for it: a NextToken loop, as callers write it
        page = kendra.list_access_control_configurations(IndexId=index_id, MaxResults=2,
                                                         **({"NextToken": token} if token else {}))
        listed += [c["Id"] for c in page["AccessControlConfigurations"]]
        pages += 1
        token = page.get("NextToken")
        if token is None:
            break
    assert listed == [*made, again] and pages == 3

    kendra.update_access_control_configuration(IndexId=index_id, Id=made[0], Name="renamed",
                                               AccessControlList=[deny("g0")])
    described = kendra.describe_access_control_configuration(IndexId=index_id, Id=made[0])
    assert (described["Name"], described["Description"]) == ("renamed", "number 0")  # the rest unchanged
    assert described["AccessControlList"] == [deny("g0")]
    assert described["HierarchicalAccessControlList"] == [level(allow("all"))]
    kendra.delete_access_control_configuration(IndexId=index_id, Id=made[0])
    with pytest.raises(kendra.exceptions.ResourceNotFoundException):
        kendra.describe_access_control_configuration(IndexId=index_id, Id=made[0])
    assert [c["Id"] for c in kendra.list_access_control_configurations(IndexId=index_id)[
        "AccessControlConfigurations"]] == [*made[1:], again]


def test_a_configuration_a_document_names_cannot_be_deleted(kendra: Any, new_index: Any) -> None:
    index_id = new_index()
    config = kendra.create_access_control_configuration(IndexId=index_id, Name="hr",
                                                        AccessControlList=[allow("hr")])["Id"]
    put_and_wait(kendra, index_id, [text_doc("pay", "the payroll roadmap", AccessControlConfigurationId=config)])
    assert seen(kendra, index_id, **as_user("ann", "hr")) == {"pay"}
    assert seen(kendra, index_id, **as_user("ann", "eng")) == set()
    with pytest.raises(kendra.exceptions.ConflictException, match="pay"):
        kendra.delete_access_control_configuration(IndexId=index_id, Id=config)
    # Put again with an ACL of its own, the document no longer names it.
    put_and_wait(kendra, index_id, [text_doc("pay", "the payroll roadmap", AccessControlList=[allow("eng")])])
    kendra.delete_access_control_configuration(IndexId=index_id, Id=config)
    assert seen(kendra, index_id, **as_user("ann", "eng")) == {"pay"}

    r = kendra.batch_put_document(IndexId=index_id, Documents=[
        text_doc("unknown", "x", AccessControlConfigurationId=config),
        text_doc("both", "x", AccessControlConfigurationId=config, AccessControlList=[allow("hr")]),
        text_doc("wide", "x", HierarchicalAccessControlList=[level(*[allow(f"g{n}") for n in range(201)])]),
    ])
    failed = {f["Id"]: (f["ErrorCode"], f["ErrorMessage"]) for f in r["FailedDocuments"]}
    assert set(failed) == {"unknown", "both", "wide"} and {c for c, _ in failed.values()} == {"InvalidRequest"}
    assert "does not exist" in failed["unknown"][1] and "not from both" in failed["both"][1]


def test_configuration_errors_are_typed(kendra: Any, new_index: Any, server: Server) -> None:
    index_id = new_index()
    with pytest.raises(kendra.exceptions.ResourceNotFoundException):
        kendra.create_access_control_configuration(IndexId="0" * 36, Name="x")
    for call in (kendra.describe_access_control_configuration, kendra.delete_access_control_configuration,
                 kendra.update_access_control_configuration):
        with pytest.raises(kendra.exceptions.ResourceNotFoundException):
            call(IndexId=index_id, Id="no-such-config")
    with pytest.raises(kendra.exceptions.ValidationException):
        kendra.list_access_control_configurations(IndexId=index_id, NextToken="forged")
    gen_ai = new_index(Edition="GEN_AI_ENTERPRISE_EDITION")
    with pytest.raises(kendra.exceptions.ValidationException, match="GEN_AI"):
        kendra.create_access_control_configuration(IndexId=gen_ai, Name="x")
    too_deep = [level(allow("g"))] * 31
    for operation, body in (
        ("CreateAccessControlConfiguration", {"IndexId": index_id, "Name": "x", "HierarchicalAccessControlList":
                                              too_deep}),
        ("CreateAccessControlConfiguration", {"IndexId": index_id, "Name": "x", "AccessControlList":
                                              [allow(f"g{n}") for n in range(201)]}),
        ("CreateAccessControlConfiguration", {"IndexId": index_id, "Name": "x", "AccessControlList":
                                              [{"Name": "g", "Type": "ROLE", "Access": "ALLOW"}]}),
        ("CreateAccessControlConfiguration", {"IndexId": index_id, "Name": ""}),
        ("ListAccessControlConfigurations", {"IndexId": index_id, "MaxResults": 101}),
        ("DescribeAccessControlConfiguration", {"IndexId": index_id, "Id": "bad id!"}),
        ("BatchPutDocument", {"IndexId": index_id, "Documents": [
            {"Id": "d", "Blob": "eA==", "HierarchicalAccessControlList": too_deep}]}),
    ):
        r = raw_post(server.url, TARGET + operation, json.dumps(body))
        assert (r.status_code, r.json()["__type"]) == (400, "ValidationException"), (operation, r.text)


@pytest.mark.engines
def test_updating_a_configuration_changes_who_sees_its_documents_without_indexing_them_again(
        tmp_path: Path, engine_env: dict[str, str]) -> None:
    srv = Server(tmp_path, engine_env).start()
    client = make_client(srv.url)
    try:
        index_id = client.create_index(Name="re-acl", RoleArn=ROLE)["Id"]
        wait_active(client, index_id)
        config = client.create_access_control_configuration(IndexId=index_id, Name="plans",
                                                            AccessControlList=[allow("eng")])["Id"]
        put_and_wait(client, index_id, [
            text_doc("plan", "the secret roadmap for next year", title="Plan",
                     AccessControlConfigurationId=config),
            text_doc("memo", "the memo about the roadmap", AccessControlConfigurationId=config),
            text_doc("open", "the open roadmap"),
        ])
        before = {i["DocumentId"]: i for i in client.query(IndexId=index_id, QueryText="roadmap")["ResultItems"]}
        assert seen(client, index_id, **as_user("ann", "eng")) == {"plan", "memo", "open"}
        assert seen(client, index_id, **as_user("bo", "sales")) == {"open"}
        srv.stop()

        # The server comes back unable to extract any text (1 byte of text at most): a document put
        # now fails, so one indexed again would be UPDATE_FAILED.
        srv = Server(tmp_path, {**engine_env, "KENSAKU_MAX_TEXT_BYTES": "1"}).start()
        client = make_client(srv.url)
        client.update_access_control_configuration(IndexId=index_id, Id=config, AccessControlList=[allow("sales")])
        wait_for(lambda: seen(client, index_id, **as_user("bo", "sales")) == {"plan", "memo", "open"},
                 what="the new ACL applied")
        assert seen(client, index_id, **as_user("ann", "eng")) == {"open"}
        statuses = client.batch_get_document_status(IndexId=index_id, DocumentInfoList=[
            {"DocumentId": d} for d in ("plan", "memo")])["DocumentStatusList"]
        assert [s["DocumentStatus"] for s in statuses] == ["INDEXED", "INDEXED"], statuses
        after = {i["DocumentId"]: i for i in client.query(IndexId=index_id, QueryText="roadmap")["ResultItems"]}
        for doc_id in ("plan", "memo"):
            assert after[doc_id]["DocumentExcerpt"] == before[doc_id]["DocumentExcerpt"]
        assert after["plan"]["DocumentTitle"]["Text"] == "Plan"
        client.batch_put_document(IndexId=index_id, Documents=[text_doc("probe", "any text at all")])
        (probe,) = wait_indexed(client, index_id, ["probe"])
        assert probe["DocumentStatus"] == "FAILED" and "limit of 1 characters" in probe["FailureReason"]

        # Levels too: now only sales members who are also in the leads group.
        client.update_access_control_configuration(IndexId=index_id, Id=config, HierarchicalAccessControlList=[
            level(allow("leads"))])
        wait_for(lambda: seen(client, index_id, **as_user("bo", "sales")) == {"open"}, what="the levels applied")
        assert seen(client, index_id, **as_user("cy", "sales", "leads")) == {"plan", "memo", "open"}
        assert ids_of(client.query(IndexId=index_id, QueryText="secret", **as_user("cy", "leads"))) == []
        client.delete_index(Id=index_id)
    finally:
        srv.stop()


def test_an_update_while_documents_naming_the_configuration_are_queued_reaches_them(kendra: Any,
                                                                                     new_index: Any) -> None:
    index_id = new_index()
    config = kendra.create_access_control_configuration(IndexId=index_id, Name="drafts",
                                                        AccessControlList=[allow("eng")])["Id"]
    ids = [f"draft{n}" for n in range(10)]
    r = kendra.batch_put_document(IndexId=index_id, Documents=[
        text_doc(doc_id, f"draft roadmap {doc_id}", AccessControlConfigurationId=config) for doc_id in ids])
    assert r["FailedDocuments"] == []
    # Whether the indexer has written them yet or not, they end with the configuration's new ACL.
    kendra.update_access_control_configuration(IndexId=index_id, Id=config, AccessControlList=[allow("sales")])
    assert {s["DocumentStatus"] for s in wait_indexed(kendra, index_id, ids)} == {"INDEXED"}
    wait_for(lambda: seen(kendra, index_id, **as_user("bo", "sales")) == set(ids), what="the new ACL on all")
    assert seen(kendra, index_id, **as_user("ann", "eng")) == set()
