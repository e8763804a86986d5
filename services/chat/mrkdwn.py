"""Slack mrkdwn: escaping document text and marking Kendra highlights in bold.

Slack asks for ``&``, ``<`` and ``>`` to be escaped as entities. Its formatting characters
(``*``, ``_``, ``~``, backquote) have no escape at all, so document text carrying them would turn
into bold, italics, strikes or code; we swap them for look-alike code points. Bold around Japanese
words only renders when the asterisks sit at a "word boundary", which CJK text never has, so bold
spans are wrapped in zero-width spaces (the usual workaround).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

ZWSP = "\u200b"
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_LOOKALIKES = {"*": "\u2217", "_": "\uff3f", "~": "\u223c", "`": "\u02cb"}
_TABLE = str.maketrans({**_ENTITIES, **_LOOKALIKES})
_URL_TABLE = str.maketrans(_ENTITIES)
_BAR = "\u2758"


def escape(text: str) -> str:
    """Document text as literal mrkdwn: entities for & < >, look-alikes for * _ ~ `, whitespace collapsed."""
    return " ".join(text.split()).translate(_TABLE)


def link(url: str, label: str) -> str:
    """``<url|label>``; a label's ``|`` would end the link early, so it becomes a look-alike too."""
    label = escape(label).replace("|", _BAR)
    return f"<{url.translate(_URL_TABLE)}|{label}>"


def bold(text: str) -> str:
    """Bold that also renders inside Japanese text (see the module docstring)."""
    return f"{ZWSP}*{text}*{ZWSP}" if text else ""


def highlighted(text: str, highlights: Iterable[Mapping[str, Any]], *, top_only: bool = False) -> str:
    """Escaped ``text`` with Kendra's highlight spans in bold, whitespace collapsed.

    Offsets are code points (Kendra's ``BeginOffset`` / ``EndOffset``); overlapping or out-of-range
    spans are clipped. With ``top_only``, only spans marked ``TopAnswer`` are bold (ANSWER results).
    """
    spans = sorted(
        (max(0, int(h["BeginOffset"])), min(len(text), int(h["EndOffset"])))
        for h in highlights
        if not top_only or h.get("TopAnswer")
    )
    merged: list[tuple[int, int]] = []
    for begin, end in spans:  # touching or overlapping spans become one bold run
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        elif end > begin:
            merged.append((begin, end))
    out: list[str] = []
    at = 0
    for begin, end in merged:
        inner = text[begin:end].strip()
        if not inner:
            continue
        out.append(text[at:begin].translate(_TABLE))
        out.append(bold(inner.translate(_TABLE)))
        at = end
    out.append(text[at:].translate(_TABLE))
    return " ".join("".join(out).split())
