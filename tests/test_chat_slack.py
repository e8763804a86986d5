"""The Slack command end to end: signed requests to a real ``kensaku serve``, replies to a Slack stand-in.

Slack itself cannot run here: ``tests/slack_standin.py`` is a local server that speaks Slack's
documented Web API (``auth.test``, ``chat.postMessage``) and accepts ``response_url`` posts; the
server's ``KENSAKU_SLACK_API_URL`` points at it and the requests below carry its response URLs.
Requests are signed as Slack documents (https://api.slack.com/authentication/verifying-requests-from-slack).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from services.chat.language import language_filter
from services.relevance import nothing_relevant
from tests.conftest import JA, ROLE, WORDS_ONLY, Server, make_client, put_and_wait, text_doc, wait_active, wait_for
from tests.slack_standin import BOT_USER_ID, TEAM_ID, Call, SlackStandIn

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-test-token"
WEB = "https://search.example.com"
ACK_LIMIT_SECONDS = 3.0  # Slack shows an error when a request is not acknowledged within 3 seconds
ALICE = "U0ALICE"  # mapped to a directory user in the finance group
BOB = "U0BOB"  # not mapped: public documents only


class Chat:
    """The server under test, the Slack stand-in and the index the command searches."""

    def __init__(self, server: Server, slack: SlackStandIn, index_id: str) -> None:
        self.server, self.slack, self.index_id = server, slack, index_id
        self.url = f"{server.url}/slack/events"

    def post(self, body: str, content_type: str, *, secret: str = SECRET, age: float = 0) -> httpx.Response:
        timestamp = str(int(time.time() - age))
        digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
        headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp,
                   "X-Slack-Signature": f"v0={digest}"}
        return httpx.post(self.url, content=body.encode(), headers=headers, timeout=10)

    def command(self, text: str, user: str = BOB, **kwargs: Any) -> tuple[httpx.Response, str]:
        """A signed /kensaku slash command; returns the response and the command's response_url."""
        response_url = self.slack.response_url(f"cmd-{uuid.uuid4().hex}")
        form = {"token": "legacy", "team_id": TEAM_ID, "team_domain": "test", "channel_id": "C0GENERAL",
                "channel_name": "general", "user_id": user, "user_name": user.lower(), "command": "/kensaku",
                "text": text, "api_app_id": "A0KENSAKU", "response_url": response_url,
                "trigger_id": "1.2.3"}
        return self.post(urlencode(form), "application/x-www-form-urlencoded", **kwargs), response_url

    def press(self, button: dict[str, Any], user: str = BOB) -> str:
        """A signed block_actions payload for ``button``; returns its response_url."""
        response_url = self.slack.response_url(f"act-{uuid.uuid4().hex}")
        payload = {"type": "block_actions", "team": {"id": TEAM_ID, "domain": "test"},
                   "user": {"id": user, "team_id": TEAM_ID}, "api_app_id": "A0KENSAKU", "token": "legacy",
                   "container": {"type": "message", "is_ephemeral": True, "channel_id": "C0GENERAL"},
                   "channel": {"id": "C0GENERAL", "name": "general"}, "trigger_id": "4.5.6",
                   "response_url": response_url,
                   "actions": [{"type": "button", "block_id": "kensaku_actions", "action_id": button["action_id"],
                                "value": button["value"], "text": button["text"], "action_ts": "1.2"}]}
        r = self.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")
        assert r.status_code == 200, r.text
        return response_url

    def reply_to(self, response_url: str) -> Call:
        path = response_url[len(self.slack.url):]
        return self.slack.wait_for(lambda c: c.path == path)

    def queries(self, sql_where: str = "1=1", params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with closing(sqlite3.connect(self.server.data_dir / "analytics.sqlite3")) as conn:
            return list(conn.execute(
                f"SELECT query_id, query_text, channel, user_key FROM queries WHERE {sql_where}", params))


DOCS = [
    text_doc("expense", "経費精算の締め日は毎月25日です。領収書を添付して経理部に提出してください。",
             title="経費精算ガイド", lang="ja",
             attributes=[{"Key": "_source_uri", "Value": {"StringValue": "https://wiki.example.com/keihi?a=1&b=2"}},
                         {"Key": "_last_updated_at", "Value": {"DateValue": "2024-05-01T09:00:00Z"}}]),
    text_doc("kyoto", "京都出張の交通費は経費精算システムで申請します。", title="出張旅費規程", lang="ja"),
    text_doc("finance-only", "経費精算の締め日は財務部では毎月20日です。財務部限定の手順。",
             title="財務部の経費精算締め日", lang="ja",
             AccessControlList=[{"Name": "finance", "Type": "GROUP", "Access": "ALLOW"}]),
    text_doc("vpn", "Use the `vpn` tool to *connect* to <corp> & _enjoy_ ~now~ — VPN setup takes a minute.",
             title="VPN <setup> & *tips*", lang="en",
             attributes=[{"Key": "_source_uri", "Value": {"StringValue": "https://wiki.example.com/vpn"}}]),
]


@contextmanager
def chat_server(**env: str) -> Iterator[Chat]:
    """A server with Slack on, its stand-in, and an index of ``DOCS``; ``env``: more settings."""
    slack = SlackStandIn(TOKEN).start()
    with tempfile.TemporaryDirectory(prefix="kensaku-chat-") as tmp:
        user_map = Path(tmp) / "slack-users.json"
        user_map.write_text(json.dumps({ALICE: {"UserId": "alice@example.com", "Groups": ["finance"]}}))
        server = Server(Path(tmp) / "data", env={
            "KENSAKU_SLACK_SIGNING_SECRET": SECRET, "KENSAKU_SLACK_BOT_TOKEN": TOKEN,
            "KENSAKU_SLACK_API_URL": f"{slack.url}/api/", "KENSAKU_SLACK_USER_MAP": str(user_map),
            "KENSAKU_CHAT_WEB_URL": WEB, **env,
        }).start()
        try:
            kendra = make_client(server.url)
            index_id = kendra.create_index(Name="chat", RoleArn=ROLE)["Id"]
            wait_active(kendra, index_id)
            put_and_wait(kendra, index_id, DOCS)
            yield Chat(server, slack, index_id)
        finally:
            server.stop()
            slack.stop()


@pytest.fixture(scope="module")
def chat() -> Iterator[Chat]:
    with chat_server() as served:
        yield served


def blocks_text(blocks: list[dict[str, Any]]) -> str:
    parts = []
    for block in blocks:
        if block["type"] == "section":
            parts.append(block["text"]["text"])
        elif block["type"] == "context":
            parts.extend(e["text"] for e in block["elements"])
    return "\n".join(parts)


def buttons(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["action_id"]: e for b in blocks if b["type"] == "actions" for e in b["elements"]}


def test_forged_and_stale_requests_are_refused_and_leave_no_trace(chat: Chat) -> None:
    marker = f"forged{uuid.uuid4().hex[:8]}"
    forged, forged_url = chat.command(marker, secret="not-the-signing-secret")
    stale, stale_url = chat.command(marker, age=6 * 60)  # correctly signed, outside the 5-minute window
    unsigned = httpx.post(chat.url, content=urlencode({"command": "/kensaku", "text": marker}),
                          headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
    assert (forged.status_code, stale.status_code, unsigned.status_code) == (401, 401, 401)
    for timestamp in (b"soon", b"1.5e9", b"", "\u0661\u0662x".encode()):  # refused like a bad signature
        odd = httpx.post(chat.url, content=urlencode({"command": "/kensaku", "text": marker}), timeout=10,
                         headers={b"Content-Type": b"application/x-www-form-urlencoded",
                                  b"X-Slack-Request-Timestamp": timestamp, b"X-Slack-Signature": b"v0=00"})
        assert odd.status_code == 401, (timestamp, odd.text)
    # A valid command afterwards is recorded and answered; the refused ones before it never were.
    ok, ok_url = chat.command("VPN setup")
    assert ok.status_code == 200
    chat.reply_to(ok_url)
    wait_for(lambda: chat.queries("query_text = ?", ("VPN setup",)), what="the valid query recorded")
    assert chat.queries("query_text LIKE ?", (f"%{marker}%",)) == []
    paths = {c.path for c in chat.slack.calls}
    assert forged_url[len(chat.slack.url):] not in paths and stale_url[len(chat.slack.url):] not in paths
    assert not any(marker in json.dumps(c.body, ensure_ascii=False) for c in chat.slack.calls)


def test_slash_command_is_acknowledged_then_answered_through_response_url(chat: Chat) -> None:
    started = time.monotonic()
    r, response_url = chat.command("VPN setup")
    assert r.status_code == 200 and time.monotonic() - started < ACK_LIMIT_SECONDS
    reply = chat.reply_to(response_url).body
    assert reply["response_type"] == "ephemeral"
    text = blocks_text(reply["blocks"])
    # Title link with & < > escaped and mrkdwn characters neutralised; the link is bold.
    assert "*<https://wiki.example.com/vpn|VPN &lt;setup&gt; &amp; \u2217tips\u2217>*" in text
    # The excerpt: escaped, the query's words in bold, no raw control characters from the document.
    assert "&lt;corp&gt; &amp;" in text and "<corp>" not in text
    assert "\u200b*VPN*\u200b" in text
    assert "`vpn`" not in text and "_enjoy_" not in text and "~now~" not in text
    assert "wiki.example.com" in text  # the source
    assert f"<{WEB}/?q=VPN+setup&amp;lang=en|More results>" in text
    assert set(buttons(reply["blocks"])) == {"kensaku_vote_up", "kensaku_vote_down", "kensaku_share"}
    rows = wait_for(lambda: chat.queries("query_text = ? AND user_key = ?", ("VPN setup", f"slack:{TEAM_ID}/{BOB}")),
                    what="the query recorded")
    assert {row[2] for row in rows} == {"chat"}


def test_thumbs_up_records_relevant_feedback_on_the_top_result(chat: Chat) -> None:
    _, response_url = chat.command("経費精算の締め日", user=ALICE)
    reply = chat.reply_to(response_url).body
    up = buttons(reply["blocks"])["kensaku_vote_up"]
    vote = json.loads(up["value"])
    thanks = chat.reply_to(chat.press(up, user=ALICE)).body
    assert "👍" in thanks["text"] and thanks["replace_original"] is False

    def votes() -> list[tuple[Any, ...]]:
        with closing(sqlite3.connect(chat.server.data_dir / "analytics.sqlite3")) as conn:
            return list(conn.execute("SELECT query_id, result_id, relevance, orphaned FROM votes WHERE query_id = ?",
                                     (vote["q"],)))

    assert wait_for(votes, what="the vote recorded") == [(vote["q"], vote["r"], "RELEVANT", 0)]
    chat.reply_to(chat.press(buttons(reply["blocks"])["kensaku_vote_down"], user=ALICE))
    assert wait_for(lambda: len(votes()) == 2 and votes(), what="the second vote")[1][2] == "NOT_RELEVANT"


def test_share_button_posts_the_answer_to_the_channel(chat: Chat) -> None:
    _, response_url = chat.command("VPN setup --lang en")
    reply = chat.reply_to(response_url).body
    share_url = chat.press(buttons(reply["blocks"])["kensaku_share"])
    path = share_url[len(chat.slack.url):]
    shared = chat.slack.wait_for(lambda c: c.path == path and c.body.get("response_type") == "in_channel").body
    assert f"<@{BOB}> shared" in blocks_text(shared["blocks"])
    assert "kensaku_share" not in buttons(shared["blocks"]) and "kensaku_vote_up" in buttons(shared["blocks"])
    chat.slack.wait_for(lambda c: c.path == path and c.body.get("delete_original") is True)


def test_mention_is_answered_in_its_thread_with_the_web_pages_top_document(chat: Chat) -> None:
    question = "経費精算の締め日はいつ？"
    ts = f"{time.time():.6f}"
    event = {"type": "app_mention", "user": ALICE, "text": f"<@{BOT_USER_ID}> {question}", "ts": ts,
             "channel": "C0GENERAL", "event_ts": ts}
    body = {"token": "legacy", "team_id": TEAM_ID, "api_app_id": "A0KENSAKU", "event": event,
            "type": "event_callback", "event_id": f"Ev{uuid.uuid4().hex[:10]}", "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}]}
    started = time.monotonic()
    r = chat.post(json.dumps(body), "application/json")
    assert r.status_code == 200 and time.monotonic() - started < ACK_LIMIT_SECONDS
    post = chat.slack.wait_for(lambda c: c.method == "chat.postMessage" and c.body.get("thread_ts") == ts)
    # Slack retries an event it thinks was lost: the retry is acknowledged but not answered twice.
    assert chat.post(json.dumps(body), "application/json").status_code == 200
    later = f"{time.time():.6f}"
    chat.post(json.dumps({**body, "event_id": f"Ev{uuid.uuid4().hex[:10]}",
                          "event": {**event, "ts": later, "event_ts": later}}), "application/json")
    chat.slack.wait_for(lambda c: c.method == "chat.postMessage" and c.body.get("thread_ts") == later)
    assert len([c for c in chat.slack.calls if c.body.get("thread_ts") == ts]) == 1
    assert post.token == TOKEN and post.body["channel"] == "C0GENERAL"
    # The web page is a Kendra client too: the same Query, for the same directory user, in Japanese.
    web = make_client(chat.server.url)
    web.meta.events.register("before-sign.kendra.*",
                             lambda request, **_: request.headers.__setitem__("X-Kensaku-Channel", "web"))
    top = web.query(IndexId=chat.index_id, QueryText=question, AttributeFilter=JA,
                    UserContext={"UserId": "alice@example.com", "Groups": ["finance"]})["ResultItems"][0]
    first_document = next(b for b in post.body["blocks"] if b["type"] == "section")["text"]["text"]
    assert top["DocumentTitle"]["Text"] in first_document


def test_unmapped_slack_users_see_only_public_documents(chat: Chat) -> None:
    _, bob_url = chat.command("財務部 経費精算", user=BOB)
    _, alice_url = chat.command("財務部 経費精算", user=ALICE)
    bob = blocks_text(chat.reply_to(bob_url).body["blocks"])
    alice = blocks_text(chat.reply_to(alice_url).body["blocks"])
    assert "財務部の経費精算締め日" in alice
    assert "財務部の経費精算締め日" not in bob and "経費精算ガイド" in bob


def test_url_verification_and_bad_options_are_answered_in_the_acknowledgement(chat: Chat) -> None:
    r = chat.post(json.dumps({"token": "legacy", "challenge": "c-123", "type": "url_verification"}),
                  "application/json")
    assert r.status_code == 200 and "c-123" in r.text
    r, _ = chat.command("vpn --lang fr")
    assert r.status_code == 200 and "--lang takes ja, en or all" in r.json()["text"]
    r, _ = chat.command("  ")
    assert r.status_code == 200 and r.json()["text"].startswith("Ask Kensaku")


def test_without_a_signing_secret_there_is_no_slack_route(server: Server) -> None:
    assert httpx.post(f"{server.url}/slack/events", content=b"{}", timeout=10).status_code == 404


def test_a_search_that_finds_nothing_relevant_says_so_instead_of_listing_weak_documents() -> None:
    """With BM25 ranking judged by the share of the query's words (conftest.WORDS_ONLY) a query with one
    word of four in the index is LOW; that precondition is checked through boto3."""
    question = "VPN client quantum telescope"
    with chat_server(**WORDS_ONLY) as lexical:
        found = make_client(lexical.server.url).query(IndexId=lexical.index_id, QueryText=question,
                                                      AttributeFilter=language_filter("en"))
        assert found["ResultItems"] and nothing_relevant(found), "precondition: LOW results only"
        _, response_url = lexical.command(question)
        reply = lexical.reply_to(response_url).body
        text = blocks_text(reply["blocks"])
        assert text.startswith(f"Nothing relevant found for “{question}”.")
        assert "--all" in text and "fewer words" in text
        assert "VPN &lt;setup&gt;" not in text and "*Answer*" not in text  # the weak document is not listed
        assert f"<{WEB}/?q=VPN+client+quantum+telescope&amp;lang=en|More results>" in text
        assert buttons(reply["blocks"]) == {}
        assert reply["text"] == f"Kensaku: nothing relevant found for “{question}”"
        _, response_url = lexical.command("VPN setup")  # a relevant result is listed as always
        assert "VPN &lt;setup&gt;" in blocks_text(lexical.reply_to(response_url).body["blocks"])
