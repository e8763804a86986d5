"""Slack: the slash command, app mentions and button presses, on ``POST /slack/events``.

slack-bolt verifies every request (HMAC-SHA256 of ``v0:<timestamp>:<body>`` with the signing
secret; timestamps more than 5 minutes off are refused) and answers 401 before any listener runs.
A listener acknowledges at once (Slack's 3-second rule) and keeps running on Bolt's thread pool:
it queries Kensaku as a Kendra client and posts the reply through the command's ``response_url``
(ephemeral, with a "Share to channel" button) or, for a mention, with ``chat.postMessage`` in the
mention's thread.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from starlette.concurrency import run_in_threadpool

from services.chat.blocks import SHARE, VOTE_DOWN, VOTE_UP, Message, more_results_url, render
from services.chat.client import SearchClient
from services.chat.language import Question, parse_question
from services.chat.users import SlackUsers
from services.settings import Settings

log = logging.getLogger("kensaku.chat")

PATH = "/slack/events"
USAGE = ("Ask Kensaku in Japanese or English: `/kensaku 経費精算の締め日は？` or `/kensaku VPN setup`. "
         "Add `--all` to search both languages, or `--lang ja|en`.")
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
_KEPT_ANSWERS = 1000


@dataclass(frozen=True)
class _Answer:
    question: Question
    response: dict[str, Any]
    index_id: str
    more_url: str


class _Recent:
    """The latest answers by QueryId, so "Share to channel" reposts what the user saw (bounded)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[str, _Answer] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, key: str, answer: _Answer) -> None:
        with self._lock:
            self._items[key] = answer
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def get(self, key: str) -> _Answer | None:
        with self._lock:
            return self._items.get(key)



class _Seen:
    """Event ids already handled (bounded): Slack retries an event it thinks was lost."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, key: str) -> bool:
        """True the first time ``key`` is offered, False after."""
        with self._lock:
            if key in self._keys:
                return False
            self._keys[key] = None
            while len(self._keys) > self._size:
                self._keys.popitem(last=False)
            return True


def self_endpoint(settings: Settings) -> str:
    """This server's own address, as a client on the same machine reaches it."""
    host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.port}"


def search_client(settings: Settings) -> SearchClient:
    """The Kendra client the chat command queries with (channel "chat")."""
    key, secret = next(iter(settings.access_keys.items()), (None, None))
    return SearchClient(settings.chat_endpoint or self_endpoint(settings), settings.chat_index_id,
                        channel="chat", region=settings.region, access_key=key, secret_key=secret)


def slack_router(settings: Settings) -> APIRouter:
    """``POST /slack/events`` serving Slack's slash commands, events and interactivity."""
    assert settings.slack_signing_secret is not None and settings.slack_bot_token is not None
    bolt = build_bolt_app(settings, search_client(settings), SlackUsers(settings.slack_user_map))
    router = APIRouter()

    @router.post(PATH)
    async def slack_events(request: Request) -> Response:
        if not _is_integer(request.headers.get("x-slack-request-timestamp", "0")):
            # slack_sdk's verifier would raise on int() of it (a 500); Bolt's own refusal instead.
            return Response('{"error": "invalid request"}', status_code=401, media_type="application/json")
        body = await request.body()
        bolt_request = BoltRequest(body=body.decode("utf-8", "replace"), query=request.url.query,
                                   headers=dict(request.headers.items()))
        # dispatch returns once the listener has acknowledged; the listener goes on in Bolt's pool.
        result = await run_in_threadpool(bolt.dispatch, bolt_request)
        return Response(result.body, status_code=result.status, headers=result.first_headers_without_set_cookie())

    return router


def _is_integer(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def build_bolt_app(settings: Settings, search: SearchClient, users: SlackUsers) -> App:
    """The Bolt app and its listeners (no network until a request arrives)."""
    assert settings.slack_signing_secret is not None and settings.slack_bot_token is not None
    web = WebClient(token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url,
                    timeout=10)
    bolt = App(signing_secret=settings.slack_signing_secret.get_secret_value(), client=web,
               token_verification_enabled=False, logger=log)
    recent = _Recent(_KEPT_ANSWERS)
    seen_events = _Seen(_KEPT_ANSWERS)
    web_url = settings.chat_web_url or self_endpoint(settings)

    def answer(raw: str, team_id: str | None, user_id: str) -> _Answer:
        question = parse_question(raw)
        index_id = search.index_id()
        response = search.search(question.text, question.language,
                                 user_context=users.user_context(team_id, user_id), page_size=settings.chat_results)
        found = _Answer(question, response, index_id, more_results_url(web_url, question))
        recent.put(str(response.get("QueryId", "")), found)
        return found

    def message(found: _Answer, **options: Any) -> Message:
        return render(found.response, found.question, index_id=found.index_id, more_url=found.more_url,
                      max_documents=settings.chat_results, **options)

    def failed(error: Exception) -> str:
        log.exception("chat: search failed")
        return f"Kensaku could not search: {error}"

    @bolt.command(re.compile(r"^/"))
    def on_command(ack: Callable[..., None], command: dict[str, Any], respond: Any) -> None:
        text = str(command.get("text") or "").strip()
        try:
            question = parse_question(text)
        except ValueError as error:
            ack(response_type="ephemeral", text=f"{error}. {USAGE}")
            return
        if not question.text:
            ack(response_type="ephemeral", text=USAGE)
            return
        ack()
        try:
            reply = message(answer(text, command.get("team_id"), str(command["user_id"])), shareable=True)
        except Exception as error:
            respond(response_type="ephemeral", text=failed(error))
            return
        respond(response_type="ephemeral", text=reply.text, blocks=reply.blocks)

    @bolt.event("app_mention")
    def on_mention(event: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
        if not seen_events.first_time(str(body.get("event_id") or event.get("ts"))):
            return
        text = _MENTION.sub(" ", str(event.get("text") or "")).strip()
        thread = event.get("thread_ts") or event.get("ts")
        try:
            question = parse_question(text)
            if not question.text:
                client.chat_postMessage(channel=event["channel"], thread_ts=thread, text=USAGE)
                return
            reply = message(answer(text, body.get("team_id") or event.get("team"), str(event.get("user"))),
                            shareable=False)
        except ValueError as error:
            client.chat_postMessage(channel=event["channel"], thread_ts=thread, text=f"{error}. {USAGE}")
            return
        except Exception as error:
            client.chat_postMessage(channel=event["channel"], thread_ts=thread, text=failed(error))
            return
        client.chat_postMessage(channel=event["channel"], thread_ts=thread, text=reply.text, blocks=reply.blocks)

    def vote(relevant: bool) -> Callable[..., None]:
        def on_vote(ack: Callable[..., None], action: dict[str, Any], respond: Any) -> None:
            ack()
            try:
                value = json.loads(action["value"])
                search.vote(value["i"], value["q"], value["r"], relevant)
            except Exception as error:
                log.exception("chat: feedback failed")
                respond(response_type="ephemeral", replace_original=False,
                        text=f"Kensaku could not record your feedback: {error}")
                return
            respond(response_type="ephemeral", replace_original=False,
                    text=f"Thanks — your {'👍' if relevant else '👎'} was recorded.")

        return on_vote

    bolt.action(VOTE_UP)(vote(True))
    bolt.action(VOTE_DOWN)(vote(False))

    @bolt.action(SHARE)
    def on_share(ack: Callable[..., None], action: dict[str, Any], body: dict[str, Any], respond: Any) -> None:
        ack()
        found = recent.get(str(action.get("value")))
        if found is None:
            respond(response_type="ephemeral", replace_original=False,
                    text="This answer is no longer available to share; please ask again.")
            return
        shared = message(found, shareable=False, shared_by=str(body.get("user", {}).get("id", "")) or None)
        respond(response_type="in_channel", replace_original=False, text=shared.text, blocks=shared.blocks)
        respond(delete_original=True)

    return bolt
