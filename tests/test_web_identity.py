"""Identity from a trusted proxy header: the server, not the caller, decides the UserContext."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, Server, ids_of, make_client, put_and_wait, text_doc, wait_active

USER, GROUPS = "X-Forwarded-User", "X-Forwarded-Groups"
ADMIN_TOKEN = "identity-admin-token"
BOTH = {"OrAllFilters": [{"EqualsTo": {"Key": "_language_code", "Value": {"StringValue": lang}}}
                         for lang in ("ja", "en")]}


def acl(kind: str, name: str) -> list[dict[str, str]]:
    return [{"Name": name, "Type": kind, "Access": "ALLOW"}]


@pytest.fixture(scope="module")
def proxied() -> Iterator[tuple[Server, str]]:
    with tempfile.TemporaryDirectory(prefix="kensaku-identity-") as tmp:
        server = Server(Path(tmp), env={"KENSAKU_TRUSTED_USER_HEADER": USER, "KENSAKU_TRUSTED_GROUPS_HEADER": GROUPS,
                                        "KENSAKU_SUGGESTIONS_REFRESH_SECONDS": "0",
                                        "KENSAKU_ADMIN_TOKEN": ADMIN_TOKEN}).start()
        try:
            client = make_client(server.url)
            index_id = client.create_index(Name="identity", RoleArn=ROLE)["Id"]
            wait_active(client, index_id)
            put_and_wait(client, index_id, [
                text_doc("public", "休暇の申請 for everyone", title="休暇 public", lang="ja"),
                text_doc("alice-only", "休暇の申請 alice", title="休暇 alice", lang="ja",
                         AccessControlList=acl("USER", "alice")),
                text_doc("hr-only", "休暇の申請 hr", title="休暇 hr", lang="ja", AccessControlList=acl("GROUP", "hr")),
            ])
            yield server, index_id
        finally:
            server.stop()


def client_as(server: Server, headers: dict[str, str]) -> Any:
    """A boto3 client behind the proxy: every request carries the proxy's headers."""
    client = make_client(server.url)

    def add(request: Any, **_: Any) -> None:
        for name, value in headers.items():
            request.headers[name] = value

    client.meta.events.register("before-sign.kendra.*", add)
    return client


def found(client: Any, index_id: str, **extra: Any) -> set[str]:
    return set(ids_of(client.query(IndexId=index_id, QueryText="休暇", AttributeFilter=BOTH, **extra)))


def test_the_users_header_decides_what_a_query_sees(proxied: tuple[Server, str]) -> None:
    server, index_id = proxied
    assert found(client_as(server, {USER: "alice"}), index_id) == {"public", "alice-only"}
    assert found(client_as(server, {USER: "carol", GROUPS: "sales, hr"}), index_id) == {"public", "hr-only"}
    assert found(client_as(server, {USER: "bob"}), index_id) == {"public"}


def test_a_callers_own_user_context_is_overwritten(proxied: tuple[Server, str]) -> None:
    server, index_id = proxied
    bob = client_as(server, {USER: "bob"})
    assert found(bob, index_id, UserContext={"UserId": "alice", "Groups": ["hr"]}) == {"public"}


def acl_filter(key: str, value: dict[str, Any]) -> dict[str, Any]:
    op = "EqualsTo" if key == "_user_id" else "ContainsAny"
    return {"AndAllFilters": [{op: {"Key": key, "Value": value}}, BOTH]}


WIDER = [acl_filter("_user_id", {"StringValue": "alice"}),
         acl_filter("_group_ids", {"StringListValue": ["hr"]}),
         acl_filter("_group_ids", {"StringListValue": ["sales", "hr"]})]


def denied(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as refused:
        call(**kwargs)
    error = refused.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400, error
    return str(error["Error"]["Code"])


@pytest.mark.parametrize("wider", WIDER)
def test_a_filter_cannot_name_principals_the_proxy_did_not(proxied: tuple[Server, str],
                                                          wider: dict[str, Any]) -> None:
    server, index_id = proxied
    bob = client_as(server, {USER: "bob", GROUPS: "sales"})
    assert denied(bob.query, IndexId=index_id, QueryText="休暇", AttributeFilter=wider) == "AccessDeniedException"
    assert denied(bob.retrieve, IndexId=index_id, QueryText="休暇", AttributeFilter=wider) == "AccessDeniedException"
    assert denied(bob.get_query_suggestions, IndexId=index_id, QueryText="休暇",
                  SuggestionTypes=["DOCUMENT_ATTRIBUTES"],
                  AttributeSuggestionsConfig={"AttributeFilter": wider}) == "AccessDeniedException"


def test_a_filter_naming_the_users_own_principals_still_narrows(proxied: tuple[Server, str]) -> None:
    server, index_id = proxied
    carol = client_as(server, {USER: "carol", GROUPS: "sales,hr"})
    own = acl_filter("_group_ids", {"StringListValue": ["hr"]})
    assert set(ids_of(carol.query(IndexId=index_id, QueryText="休暇", AttributeFilter=own))) == {"public", "hr-only"}
    title = {"AndAllFilters": [{"EqualsTo": {"Key": "_user_id", "Value": {"StringValue": "carol"}}},
                               {"EqualsTo": {"Key": "_document_title", "Value": {"StringValue": "休暇 hr"}}}, BOTH]}
    assert ids_of(carol.query(IndexId=index_id, QueryText="休暇", AttributeFilter=title)) == ["hr-only"]
    passages = carol.retrieve(IndexId=index_id, QueryText="休暇", AttributeFilter=own)["ResultItems"]
    assert {p["DocumentId"] for p in passages} == {"public", "hr-only"}
    # Malformed user-context conditions are a typed 400, as without a proxy.
    bad = {"GreaterThan": {"Key": "_user_id", "Value": {"StringValue": "carol"}}}
    assert denied(carol.query, IndexId=index_id, QueryText="休暇", AttributeFilter=bad) == "ValidationException"


def test_document_title_suggestions_are_only_those_the_user_may_see(proxied: tuple[Server, str]) -> None:
    server, index_id = proxied

    def titles(client: Any, **extra: Any) -> set[str]:
        r = client.get_query_suggestions(IndexId=index_id, QueryText="休暇", SuggestionTypes=["DOCUMENT_ATTRIBUTES"],
                                         **extra)
        return {s["Value"]["Text"]["Text"] for s in r["Suggestions"]}

    bob = client_as(server, {USER: "bob"})
    assert titles(bob) == {"休暇 public"}
    assert titles(bob, AttributeSuggestionsConfig={"SuggestionAttributes": ["_document_title"]}) == {"休暇 public"}
    assert titles(bob, AttributeSuggestionsConfig={"UserContext": {"UserId": "alice"}}) == {"休暇 public"}
    assert titles(client_as(server, {USER: "alice"})) == {"休暇 public", "休暇 alice"}


def test_a_query_without_the_header_is_refused_not_answered_unfiltered(proxied: tuple[Server, str]) -> None:
    server, index_id = proxied
    anonymous = make_client(server.url)
    with pytest.raises(ClientError) as refused:
        anonymous.query(IndexId=index_id, QueryText="休暇", UserContext={"UserId": "alice"})
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert anonymous.describe_index(Id=index_id)["Status"] == "ACTIVE"  # only user-scoped operations need it


def test_the_page_shows_the_signed_in_user_and_their_documents(browser: Any, proxied: tuple[Server, str]) -> None:
    server, _ = proxied
    context = browser.new_context(extra_http_headers={USER: "alice"}, bypass_csp=True)
    try:
        page = context.new_page()
        page.goto(f"{server.url}/?q=休暇&lang=ja&ui=en")
        page.wait_for_selector("#result-list .result")
        assert page.inner_text("#user") == "Signed in as alice"
        shown = set(page.locator("#result-list .result").evaluate_all("ns => ns.map(n => n.dataset.documentId)"))
        assert shown == {"public", "alice-only"}
    finally:
        context.close()


def test_a_user_behind_the_proxy_is_not_an_administrator(proxied: tuple[Server, str]) -> None:
    """The proxy names a user in every request it passes on: such a request may search, suggest and
    give feedback, but not change indexes or read other users' queries, unless it holds an admin
    session. A back-end that reaches the server without the proxy is unchanged."""
    server, index_id = proxied
    bob = client_as(server, {USER: "bob"})
    for call in (lambda: bob.delete_index(Id=index_id),
                 lambda: bob.batch_put_document(IndexId=index_id, Documents=[text_doc("x", "x")]),
                 lambda: bob.update_index(Id=index_id, Description="mine"),
                 lambda: bob.list_faqs(IndexId=index_id),
                 lambda: bob.get_snapshots(IndexId=index_id, Interval="THIS_WEEK", MetricType="QUERIES_BY_COUNT")):
        with pytest.raises(ClientError) as refused:
            call()
        assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert bob.list_indices()["IndexConfigurationSummaryItems"]
    assert bob.describe_index(Id=index_id)["Status"] == "ACTIVE"  # the page's facets need the fields
    query_id = bob.query(IndexId=index_id, QueryText="休暇", AttributeFilter=BOTH)["QueryId"]
    bob.submit_feedback(IndexId=index_id, QueryId=query_id, ClickFeedbackItems=[])
    assert make_client(server.url).list_faqs(IndexId=index_id)["FaqSummaryItems"] == []

    signed_in = httpx.post(f"{server.url}/admin/session", json={"token": ADMIN_TOKEN})
    cookie = signed_in.cookies["kensaku_admin"]
    admin = client_as(server, {USER: "bob", "Cookie": f"kensaku_admin={cookie}"})
    assert admin.list_faqs(IndexId=index_id)["FaqSummaryItems"] == []
    httpx.request("DELETE", f"{server.url}/admin/session", cookies={"kensaku_admin": cookie})
    with pytest.raises(ClientError) as refused:
        admin.list_faqs(IndexId=index_id)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
