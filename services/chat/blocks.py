"""A Kendra Query response as a Slack Block Kit message.

Layout: the direct answer (ANSWER) or FAQ (QUESTION_ANSWER) when the response has one, then the top
documents (title link, highlighted excerpt, source and date), a "more results" link to the web search
page, and the buttons: 👍 / 👎 (SubmitFeedback on the top result) and "Share to channel".
When results came back but none is likely relevant (every ScoreConfidence below MEDIUM), the reply
says so with a hint and the "more results" link instead of listing them.
The renderer is pure: it only reads Kendra's standard Query result shapes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from services.chat.language import Question
from services.chat.mrkdwn import escape, highlighted, link
from services.relevance import nothing_relevant

VOTE_UP = "kensaku_vote_up"
VOTE_DOWN = "kensaku_vote_down"
SHARE = "kensaku_share"
MAX_SECTION_CHARS = 2900  # Slack refuses section text over 3000 characters
_LANGUAGE_NAMES = {"ja": "日本語", "en": "English", "all": "日本語 + English"}


@dataclass(frozen=True)
class Message:
    """A Block Kit message: ``blocks`` plus the plain ``text`` Slack shows in notifications."""

    text: str
    blocks: list[dict[str, Any]]


def more_results_url(web_base_url: str, question: Question) -> str:
    """The web search page for the same query: ``<base>/?q=…&lang=ja|en|all``."""
    return f"{web_base_url.rstrip('/')}/?{urlencode({'q': question.text, 'lang': question.language})}"


def vote_value(index_id: str, query_id: str, result_id: str) -> str:
    """What a 👍 / 👎 button carries back: enough for SubmitFeedback."""
    return json.dumps({"i": index_id, "q": query_id, "r": result_id}, separators=(",", ":"))


def render(response: dict[str, Any], question: Question, *, index_id: str, more_url: str,
           max_documents: int = 5, shareable: bool = True, shared_by: str | None = None) -> Message:
    """The reply to ``question`` from a Kendra Query ``response``.

    Args:
        response: a Query response (ResultItems, TotalNumberOfResults, QueryId).
        question: the question and its language(s).
        index_id: the index searched (the feedback buttons name it).
        more_url: the web search page for the same query.
        max_documents: how many DOCUMENT results to show.
        shareable: add the "Share to channel" button (ephemeral replies).
        shared_by: the Slack user id who shared this reply to the channel, shown on top.
    """
    items: list[dict[str, Any]] = response.get("ResultItems") or []
    answers = [i for i in items if i.get("Type") in ("ANSWER", "QUESTION_ANSWER")]
    documents = [i for i in items if i.get("Type", "DOCUMENT") == "DOCUMENT"][:max_documents]
    blocks: list[dict[str, Any]] = []
    if shared_by:
        blocks.append(_context(f"<@{shared_by}> shared a Kensaku search: “{escape(question.text)}”"))
    if not answers and not documents:
        blocks.append(_section(f"No results for “{escape(question.text)}”."))
        blocks.append(_context(f"{link(more_url, 'Search on the web page')} · {_LANGUAGE_NAMES[question.language]}"))
        return Message(f"Kensaku: no results for “{question.text}”", blocks)
    if nothing_relevant(response):
        return _nothing_relevant(response, question, more_url, blocks)
    if answers:
        blocks.append(_section(_answer_text(answers[0])))
        blocks.append({"type": "divider"})
    for item in documents:
        blocks.append(_section(_document_text(item)))
        meta = _meta(item)
        if meta:
            blocks.append(_context(meta))
    total = int(response.get("TotalNumberOfResults") or len(items))
    blocks.append(_context(
        f"{link(more_url, 'More results')} · {total} result{'s' if total != 1 else ''}"
        f" · {_LANGUAGE_NAMES[question.language]}"))
    top = answers[0] if answers else documents[0]
    value = vote_value(index_id, str(response.get("QueryId", "")), str(top["Id"]))
    buttons = [
        _button("👍 Helpful", VOTE_UP, value),
        _button("👎 Not helpful", VOTE_DOWN, value),
    ]
    if shareable:
        buttons.append(_button("Share to channel", SHARE, str(response.get("QueryId", "")), style="primary"))
    blocks.append({"type": "actions", "block_id": "kensaku_actions", "elements": buttons})
    first = answers[0] if answers else documents[0]
    return Message(f"Kensaku: {total} result{'s' if total != 1 else ''} for “{question.text}”"
                   f" — {_title(first) or 'untitled'}", blocks)


def weak_hint(response: dict[str, Any], question: Question, *, all_languages: str) -> str:
    """What to try when nothing relevant was found: the spelling suggestion if the response has one,
    other or fewer words, and both languages (``all_languages`` says how) when only one was searched."""
    hints = []
    corrections: list[dict[str, Any]] = response.get("SpellCorrectedQueries") or []
    suggestion = corrections[0].get("SuggestedQueryText") if corrections else None
    if suggestion:
        hints.append(f"Did you mean “{suggestion}”?")
    hints.append("Try other words or fewer words, and check the spelling"
                 + (f", or search Japanese and English with {all_languages}." if question.language != "all" else "."))
    return " ".join(hints)


def _nothing_relevant(response: dict[str, Any], question: Question, more_url: str,
                      blocks: list[dict[str, Any]]) -> Message:
    total = int(response.get("TotalNumberOfResults") or len(response.get("ResultItems") or []))
    blocks.append(_section(f"Nothing relevant found for “{escape(question.text)}”."))
    blocks.append(_context(escape(weak_hint(response, question, all_languages="--all"))))
    blocks.append(_context(f"{link(more_url, 'More results')} · {total} weak match{'es' if total != 1 else ''}"
                           f" not shown · {_LANGUAGE_NAMES[question.language]}"))
    return Message(f"Kensaku: nothing relevant found for “{question.text}”", blocks)


def _answer_text(item: dict[str, Any]) -> str:
    attributes = {a.get("Key"): a.get("Value", {}).get("TextWithHighlightsValue", {})
                  for a in item.get("AdditionalAttributes") or []}
    source = _title_link(item)
    if item.get("Type") == "QUESTION_ANSWER":
        question = attributes.get("QuestionText") or {}
        answer = attributes.get("AnswerText") or {}
        text = (f"*FAQ* {highlighted(question.get('Text', ''), question.get('Highlights', []))}\n"
                f"{highlighted(answer.get('Text', ''), [])}")
    elif item.get("Format") == "TABLE" and item.get("TableExcerpt"):
        text = "*Answer*\n" + _table(item["TableExcerpt"])
    else:
        answer = attributes.get("AnswerText") or item.get("DocumentExcerpt") or {}
        spans = answer.get("Highlights", [])
        top_only = any(h.get("TopAnswer") for h in spans)
        text = "*Answer*\n" + highlighted(answer.get("Text", ""), spans, top_only=top_only)
    return f"{text}\n— {source}" if source else text


def _table(table: dict[str, Any], max_rows: int = 5) -> str:
    lines = []
    for row in (table.get("Rows") or [])[:max_rows]:
        cells = []
        for cell in row.get("Cells") or []:
            value = escape(str(cell.get("Value", "")))
            cells.append(f"*{value}*" if cell.get("TopAnswer") or cell.get("Header") else value)
        lines.append(" | ".join(cells))
    return "\n".join(lines)


def _document_text(item: dict[str, Any]) -> str:
    title = _title_link(item) or "_untitled_"
    excerpt = item.get("DocumentExcerpt") or {}
    body = highlighted(excerpt.get("Text", ""), excerpt.get("Highlights", []))
    return f"*{title}*\n{body}" if body else f"*{title}*"


def _title(item: dict[str, Any]) -> str:
    return " ".join(str((item.get("DocumentTitle") or {}).get("Text") or item.get("DocumentId") or "").split())


def _title_link(item: dict[str, Any]) -> str:
    title = _title(item)
    uri = item.get("DocumentURI") or attribute(item, "_source_uri")
    if not title:
        return ""
    return link(uri, title) if isinstance(uri, str) and uri else escape(title)


def _meta(item: dict[str, Any]) -> str:
    parts = []
    source = attribute(item, "_data_source_id") or attribute(item, "_category")
    uri = item.get("DocumentURI") or attribute(item, "_source_uri")
    if not source and isinstance(uri, str):
        source = urlsplit(uri).hostname or ""
    if source:
        parts.append(escape(str(source)))
    date = date_of(attribute(item, "_last_updated_at") or attribute(item, "_created_at"))
    if date:
        parts.append(date)
    return " · ".join(parts)


def attribute(item: dict[str, Any], key: str) -> Any:
    for attribute in item.get("DocumentAttributes") or []:
        if attribute.get("Key") == key:
            value = attribute.get("Value") or {}
            return next(iter(value.values()), None)
    return None


def date_of(value: Any) -> str:
    """A DateValue as YYYY-MM-DD: a datetime (boto3), epoch seconds or an ISO string (raw JSON)."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).date().isoformat()
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).date().isoformat()
        except ValueError:
            return ""
    return ""


def _section(text: str) -> dict[str, Any]:
    if len(text) > MAX_SECTION_CHARS:
        text = text[: MAX_SECTION_CHARS - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _button(label: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "text": {"type": "plain_text", "text": label, "emoji": True},
                              "action_id": action_id, "value": value}
    if style:
        button["style"] = style
    return button
