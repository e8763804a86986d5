"""A Kendra Query response as plain text for ``kensaku search`` (bold highlights on a terminal)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from services.chat.blocks import attribute, date_of, weak_hint
from services.chat.language import Question
from services.relevance import nothing_relevant

BOLD, RESET = "\033[1m", "\033[0m"


def marked(text: str, highlights: Iterable[Mapping[str, Any]], bold: bool, top_only: bool = False) -> str:
    """``text`` with highlight spans in ANSI bold when ``bold``; whitespace collapsed."""
    if bold:
        spans = sorted((int(h["BeginOffset"]), int(h["EndOffset"])) for h in highlights
                       if not top_only or h.get("TopAnswer"))
        out, at = [], 0
        for begin, end in spans:
            begin = max(begin, at)
            if end > begin:
                out += [text[at:begin], BOLD, text[begin:end], RESET]
                at = end
        text = "".join(out) + text[at:]
    return " ".join(text.split())


def render_text(response: dict[str, Any], question: Question, *, bold: bool = False) -> str:
    """The answer (if any) and the ranked documents, one block each; when none is likely relevant
    (every ScoreConfidence below MEDIUM), a plain "nothing relevant" with a hint instead."""
    items: list[dict[str, Any]] = response.get("ResultItems") or []
    if nothing_relevant(response):
        total = int(response.get("TotalNumberOfResults") or len(items))
        return (f"Nothing relevant found for “{question.text}” ({question.language}):"
                f" {total} weak match{'es' if total != 1 else ''} not shown (--json prints them).\n"
                f"{weak_hint(response, question, all_languages='--lang all')}")
    lines: list[str] = []
    for item in items:
        if item.get("Type") not in ("ANSWER", "QUESTION_ANSWER"):
            continue
        values = {a.get("Key"): a.get("Value", {}).get("TextWithHighlightsValue", {})
                  for a in item.get("AdditionalAttributes") or []}
        answer = values.get("AnswerText") or {}
        label = "FAQ" if item.get("Type") == "QUESTION_ANSWER" else "Answer"
        spans = answer.get("Highlights", [])
        text = marked(answer.get("Text", ""), spans, bold, top_only=any(h.get("TopAnswer") for h in spans))
        if item.get("Type") == "QUESTION_ANSWER":
            text = f"{(values.get('QuestionText') or {}).get('Text', '')} — {text}"
        lines += [f"{label}: {text}", f"  from {_title(item)} {item.get('DocumentURI') or ''}".rstrip(), ""]
    documents = [i for i in items if i.get("Type", "DOCUMENT") == "DOCUMENT"]
    for n, item in enumerate(documents, start=1):
        lines.append(f"{n}. {_title(item)}")
        uri = item.get("DocumentURI") or attribute(item, "_source_uri")
        if uri:
            lines.append(f"   {uri}")
        excerpt = item.get("DocumentExcerpt") or {}
        if excerpt.get("Text"):
            lines.append(f"   {marked(excerpt['Text'], excerpt.get('Highlights', []), bold)}")
        date = date_of(attribute(item, "_last_updated_at") or attribute(item, "_created_at"))
        if date:
            lines.append(f"   {date}")
    total = int(response.get("TotalNumberOfResults") or 0)
    lines.append(f"{total} result{'s' if total != 1 else ''} for “{question.text}” ({question.language})")
    return "\n".join(lines)


def _title(item: dict[str, Any]) -> str:
    return " ".join(str((item.get("DocumentTitle") or {}).get("Text") or item.get("DocumentId") or "").split())
