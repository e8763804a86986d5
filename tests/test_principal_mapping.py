"""Principal mapping: PutPrincipalMapping / DescribePrincipalMapping / DeletePrincipalMapping /
ListGroupsOlderThanOrderingId, and a query that sends only a UserId seeing what its groups may."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
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
)
from tests.test_wire import TARGET, raw_post

pytestmark = pytest.mark.databases  # the tests on the shared server run with PostgreSQL too


def allow(name: str, kind: str = "GROUP", **extra: str) -> dict[str, str]:
    return {"Name": name, "Type": kind, "Access": "ALLOW", **extra}


def deny(name: str, kind: str = "GROUP", **extra: str) -> dict[str, str]:
    return {"Name": name, "Type": kind, "Access": "DENY", **extra}


def members(users: Sequence[str] = (), groups: Sequence[str | tuple[str, str]] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if users:
        out["MemberUsers"] = [{"UserId": u} for u in users]
    if groups:
        out["MemberGroups"] = [{"GroupId": g} if isinstance(g, str) else {"GroupId": g[0], "DataSourceId": g[1]}
                               for g in groups]
    return out


def seen(client: Any, index_id: str, **kwargs: Any) -> set[str]:
    return set(ids_of(client.query(IndexId=index_id, QueryText="roadmap", PageSize=100, **kwargs)))


def as_user(user: str, *groups: str) -> dict[str, Any]:
    context: dict[str, Any] = {"UserId": user}
    if groups:
        context["Groups"] = list(groups)
    return {"UserContext": context}


def test_a_user_sending_only_their_id_sees_their_nested_groups_documents(kendra: Any, new_index: Any) -> None:
    index_id = new_index()
    put_and_wait(kendra, index_id, [
        text_doc("public", "the public roadmap"),
        text_doc("eng", "the engineering roadmap", AccessControlList=[allow("eng")]),
        text_doc("company", "the company roadmap", AccessControlList=[allow("company")]),
        text_doc("sales", "the sales roadmap", AccessControlList=[allow("sales")]),
        text_doc("not-backend", "the roadmap backend may not read",
                 AccessControlList=[allow("company"), deny("backend")]),
        text_doc("carol-only", "carol's roadmap", AccessControlList=[allow("carol", "USER")]),
    ])
    # company ⊃ eng ⊃ backend ∋ carol; sales and field hold each other (a cycle).
    kendra.put_principal_mapping(IndexId=index_id, GroupId="backend", GroupMembers=members(["carol"]))
    kendra.put_principal_mapping(IndexId=index_id, GroupId="eng", GroupMembers=members(["dave"], ["backend"]))
    kendra.put_principal_mapping(IndexId=index_id, GroupId="company", GroupMembers=members(groups=["eng"]))
    kendra.put_principal_mapping(IndexId=index_id, GroupId="sales", GroupMembers=members(["erin"], ["field"]))
    kendra.put_principal_mapping(IndexId=index_id, GroupId="field", GroupMembers=members(groups=["sales"]))

    assert seen(kendra, index_id, **as_user("carol")) == {"public", "eng", "company", "carol-only"}
    assert seen(kendra, index_id, **as_user("dave")) == {"public", "eng", "company", "not-backend"}
    assert seen(kendra, index_id, **as_user("erin")) == {"public", "sales"}
    assert seen(kendra, index_id, **as_user("zoe")) == {"public"}  # in no mapping
    # Groups a caller names are expanded too: a member of backend is in eng and company.
    assert seen(kendra, index_id, **as_user("zoe", "backend", "sales")) == {"public", "eng", "company", "sales"}
    # The same through the _user_id filter, in Retrieve, and without user context (everything).
    by_filter = {"EqualsTo": {"Key": "_user_id", "Value": {"StringValue": "carol"}}}
    assert seen(kendra, index_id, AttributeFilter=by_filter) == {"public", "eng", "company", "carol-only"}
    retrieved = kendra.retrieve(IndexId=index_id, QueryText="roadmap", **as_user("erin"))["ResultItems"]
    assert {item["DocumentId"] for item in retrieved} == {"public", "sales"}
    assert len(seen(kendra, index_id)) == 6

    # A new list replaces the members at once (the cached expansion with it).
    kendra.put_principal_mapping(IndexId=index_id, GroupId="sales", GroupMembers=members(["carol"]))
    assert seen(kendra, index_id, **as_user("erin")) == {"public"}
    assert "sales" in seen(kendra, index_id, **as_user("carol"))


def test_a_mapping_of_a_data_source_gives_that_data_sources_group(kendra: Any, new_index: Any) -> None:
    index_id = new_index()
    put_and_wait(kendra, index_id, [
        text_doc("crm-sales", "the crm sales roadmap", AccessControlList=[allow("sales", DataSourceId="crm")]),
        text_doc("sales", "the sales roadmap", AccessControlList=[allow("sales")]),
        text_doc("wiki-eng", "the wiki engineering roadmap", AccessControlList=[allow("eng", DataSourceId="wiki")]),
    ])
    kendra.put_principal_mapping(IndexId=index_id, DataSourceId="crm", GroupId="sales",
                                 GroupMembers=members(["erin"]))
    # wiki's eng holds the global group "all", and crm's sales as a sub-group of a data source.
    kendra.put_principal_mapping(IndexId=index_id, DataSourceId="wiki", GroupId="eng",
                                 GroupMembers=members(groups=["all", ("sales", "crm")]))
    kendra.put_principal_mapping(IndexId=index_id, GroupId="all", GroupMembers=members(["frank"]))

    assert seen(kendra, index_id, **as_user("erin")) == {"crm-sales", "wiki-eng"}
    assert seen(kendra, index_id, **as_user("frank")) == {"wiki-eng"}
    assert seen(kendra, index_id, **as_user("zoe", "sales")) == {"sales"}  # the global group only
    described = kendra.describe_principal_mapping(IndexId=index_id, DataSourceId="crm", GroupId="sales")
    assert (described["DataSourceId"], described["GroupId"]) == ("crm", "sales")
    with pytest.raises(kendra.exceptions.ResourceNotFoundException):  # no global sales mapping
        kendra.describe_principal_mapping(IndexId=index_id, GroupId="sales")


def test_an_action_older_than_the_last_applied_one_is_ignored(kendra: Any, new_index: Any) -> None:
    index_id = new_index()
    put_and_wait(kendra, index_id, [text_doc("ops", "the ops roadmap", AccessControlList=[allow("ops")])])

    def put(ordering: int, user: str) -> None:
        kendra.put_principal_mapping(IndexId=index_id, GroupId="ops", OrderingId=ordering,
                                     GroupMembers=members([user]))

    def summaries() -> list[tuple[int, str]]:
        found = kendra.describe_principal_mapping(IndexId=index_id, GroupId="ops")["GroupOrderingIdSummaries"]
        return [(s["OrderingId"], s["Status"]) for s in found]

    put(200, "ann")
    put(100, "ben")  # older than 200: ignored
    assert seen(kendra, index_id, **as_user("ann")) == {"ops"}
    assert seen(kendra, index_id, **as_user("ben")) == set()
    put(200, "ben")  # the same ordering id again: applied (a retry)
    put(300, "cat")
    assert seen(kendra, index_id, **as_user("cat")) == {"ops"}
    assert seen(kendra, index_id, **as_user("ben")) == set()
    kendra.delete_principal_mapping(IndexId=index_id, GroupId="ops", OrderingId=250)  # older: ignored
    assert seen(kendra, index_id, **as_user("cat")) == {"ops"}
    kendra.delete_principal_mapping(IndexId=index_id, GroupId="ops", OrderingId=400)
    assert seen(kendra, index_id, **as_user("cat")) == set()
    put(350, "dan")  # older than the delete: ignored
    assert seen(kendra, index_id, **as_user("dan")) == set()
    assert summaries() == [(200, "SUCCEEDED"), (100, "FAILED"), (200, "SUCCEEDED"), (300, "SUCCEEDED"),
                           (250, "FAILED"), (400, "DELETED"), (350, "FAILED")]
    last = kendra.describe_principal_mapping(IndexId=index_id, GroupId="ops")["GroupOrderingIdSummaries"][-1]
    assert "older" in last["FailureReason"] and last["ReceivedAt"] <= last["LastUpdatedAt"]
    for n in range(5):
        put(500 + n, "eve")
    assert len(summaries()) == 10  # the last ten actions
    # Without an OrderingId, the time it is received (Unix milliseconds) orders it.
    kendra.put_principal_mapping(IndexId=index_id, GroupId="ops", GroupMembers=members(["fay"]))
    assert summaries()[-1][0] > 1_600_000_000_000
    assert seen(kendra, index_id, **as_user("fay")) == {"ops"}


def test_groups_older_than_an_ordering_id_are_listed_a_page_at_a_time(kendra: Any, new_index: Any) -> None:
    index_id = new_index()
    for n in range(1, 13):
        kendra.put_principal_mapping(IndexId=index_id, GroupId=f"g{n:02}", OrderingId=n, GroupMembers=members(["u"]))
    kendra.put_principal_mapping(IndexId=index_id, DataSourceId="wiki", GroupId="w1", OrderingId=1,
                                 GroupMembers=members(["u"]))
    kendra.delete_principal_mapping(IndexId=index_id, GroupId="g05", OrderingId=5)  # deleted: not listed

    def walk(**kwargs: Any) -> tuple[list[tuple[str, int]], int]:
        found, pages, token = [], 0, None
        while True:
            page = kendra.list_groups_older_than_ordering_id(IndexId=index_id, MaxResults=4, OrderingId=10,
                                                             **kwargs, **({"NextToken": token} if token else {}))
            pages += 1
            assert len(page["GroupsSummaries"]) <= 4
            found += [(g["GroupId"], g["OrderingId"]) for g in page["GroupsSummaries"]]
            token = page.get("NextToken")
            if token is None:
                return found, pages

    found, pages = walk()
    assert found == [(f"g{n:02}", n) for n in range(1, 10) if n != 5] and pages == 2
    assert walk(DataSourceId="wiki") == ([("w1", 1)], 1)
    assert kendra.list_groups_older_than_ordering_id(IndexId=index_id, OrderingId=1)["GroupsSummaries"] == []


def test_mapping_errors_are_typed(kendra: Any, new_index: Any, server: Server) -> None:
    index_id = new_index()
    missing = "0" * 36
    with pytest.raises(kendra.exceptions.ResourceNotFoundException):
        kendra.put_principal_mapping(IndexId=missing, GroupId="g", GroupMembers=members(["u"]))
    with pytest.raises(kendra.exceptions.ResourceNotFoundException):
        kendra.describe_principal_mapping(IndexId=index_id, GroupId="never")
    with pytest.raises(kendra.exceptions.ResourceNotFoundException):
        kendra.delete_principal_mapping(IndexId=index_id, GroupId="never")
    with pytest.raises(kendra.exceptions.ValidationException):
        kendra.list_groups_older_than_ordering_id(IndexId=index_id, OrderingId=1, NextToken="forged")
    for body in (
        {"IndexId": index_id, "GroupId": "g", "GroupMembers": members(["u"]), "OrderingId": -1},
        {"IndexId": index_id, "GroupId": "g", "GroupMembers": members(["u"]), "OrderingId": 32535158400001},
        {"IndexId": index_id, "GroupId": "g", "GroupMembers": {"MemberUsers": [{"UserId": "u"}] * 1001}},
        {"IndexId": index_id, "GroupId": "g", "GroupMembers": members(groups=[("g2", "bad:id")])},
        {"IndexId": index_id, "GroupId": "g", "DataSourceId": "a:b", "GroupMembers": members(["u"])},
        {"IndexId": index_id, "GroupId": "", "GroupMembers": members(["u"])},
        {"IndexId": index_id, "GroupId": "g", "GroupMembers": [1]},
    ):
        r = raw_post(server.url, TARGET + "PutPrincipalMapping", json.dumps(body))
        assert (r.status_code, r.json()["__type"]) == (400, "ValidationException"), (body, r.text)
    r = raw_post(server.url, TARGET + "ListGroupsOlderThanOrderingId",
                 json.dumps({"IndexId": index_id, "OrderingId": 1, "MaxResults": 11}))
    assert (r.status_code, r.json()["__type"]) == (400, "ValidationException")


def test_groups_nested_past_the_limit_refuse_the_query_and_a_cycle_ends(kendra: Any, new_index: Any) -> None:
    index_id = new_index()
    put_and_wait(kendra, index_id, [text_doc("deep", "the deep roadmap", AccessControlList=[allow("level20")])])
    kendra.put_principal_mapping(IndexId=index_id, GroupId="level1", GroupMembers=members(["ivy"]))
    for n in range(2, 21):  # ivy is in level1, level1 in level2, ... level19 in level20
        kendra.put_principal_mapping(IndexId=index_id, GroupId=f"level{n}",
                                     GroupMembers=members(groups=[f"level{n - 1}"]))
    assert seen(kendra, index_id, **as_user("ivy")) == {"deep"}  # 20 levels: the limit
    kendra.put_principal_mapping(IndexId=index_id, GroupId="level21", GroupMembers=members(groups=["level20"]))
    with pytest.raises(kendra.exceptions.ValidationException, match="20 levels"):
        seen(kendra, index_id, **as_user("ivy"))
    # A cycle: level1 in level21 as well. Every group is reached once; the walk ends.
    kendra.put_principal_mapping(IndexId=index_id, GroupId="level21", GroupMembers=members(groups=["level1"]))
    kendra.put_principal_mapping(IndexId=index_id, GroupId="level1", GroupMembers=members(["ivy"], ["level21"]))
    assert seen(kendra, index_id, **as_user("ivy")) == {"deep"}



def test_members_from_an_s3_file_and_mappings_survive_a_restart_and_go_with_their_index(
        tmp_path: Path, s3_url: str) -> None:
    s3 = boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1", aws_access_key_id="test",
                      aws_secret_access_key="test")
    s3.create_bucket(Bucket="directory")
    s3.put_object(Bucket="directory", Key="research.json", Body=json.dumps({
        "memberUsers": [{"userId": "gus", "type": "USER"}] + [{"userId": f"user{n}"} for n in range(1500)],
        "memberGroups": [{"groupId": "labs", "type": "GROUP"}, {"groupId": "ml", "dataSourceId": "wiki"}],
    }).encode())
    s3.put_object(Bucket="directory", Key="broken.json", Body=b'{"memberUsers": [{"userId": ""}]}')
    env = {"KENSAKU_S3_ENDPOINT_URL": s3_url, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    srv = Server(tmp_path, env).start()
    try:
        client = make_client(srv.url)
        index_id = client.create_index(Name="directory", RoleArn=ROLE)["Id"]
        wait_active(client, index_id)
        put_and_wait(client, index_id, [
            text_doc("research", "the research roadmap", AccessControlList=[allow("research")])])
        client.put_principal_mapping(IndexId=index_id, GroupId="research", RoleArn=ROLE, GroupMembers={
            "S3PathforGroupMembers": {"Bucket": "directory", "Key": "research.json"},
            "MemberUsers": [{"UserId": "hal"}]})
        client.put_principal_mapping(IndexId=index_id, GroupId="labs", GroupMembers=members(["ida"]))
        for user in ("gus", "hal", "user1499", "ida"):
            assert seen(client, index_id, **as_user(user)) == {"research"}, user
        for key in ("broken.json", "missing.json"):  # a file that cannot be used fails the action
            client.put_principal_mapping(IndexId=index_id, GroupId="research", OrderingId=1, GroupMembers={
                "S3PathforGroupMembers": {"Bucket": "directory", "Key": key}})
        failed = client.describe_principal_mapping(IndexId=index_id, GroupId="research")["GroupOrderingIdSummaries"]
        assert [s["Status"] for s in failed] == ["SUCCEEDED", "FAILED", "FAILED"]
        assert "UserId" in failed[1]["FailureReason"] and "NoSuchKey" in failed[2]["FailureReason"]
        assert seen(client, index_id, **as_user("gus")) == {"research"}  # the last good list stands

        srv.stop()
        srv = Server(tmp_path, env).start()
        client = make_client(srv.url)
        assert seen(client, index_id, **as_user("gus")) == {"research"}
        assert seen(client, index_id, **as_user("ida")) == {"research"}
        assert [g["GroupId"] for g in client.list_groups_older_than_ordering_id(
            IndexId=index_id, OrderingId=2**44)["GroupsSummaries"]] == ["labs", "research"]

        client.delete_index(Id=index_id)

        def left() -> int:
            with sqlite3.connect(tmp_path / "kensaku.sqlite3") as conn:
                return sum(conn.execute(f"SELECT COUNT(*) FROM {t} WHERE index_id = ?", (index_id,)).fetchone()[0]
                           for t in ("principal_groups", "principal_actions", "principal_versions"))

        wait_for(lambda: left() == 0, what="the mappings deleted with their index")
    finally:
        srv.stop()
