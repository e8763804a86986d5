"""Text normalisation, and the plain-text family of formats: plain text, JSON, CSV and Markdown."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from typing import Final

from ._decode import _decode_text

# --------------------------------------------------------------------------- normalisation

_CONTROL_RE: Final = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\xad\ufeff]")
_TRAILING_SPACE_RE: Final = re.compile(r"[ \t\u3000\xa0]+\n")
_MANY_NEWLINES_RE: Final = re.compile(r"\n{3,}")
_WHITESPACE_RE: Final = re.compile(r"\s+")


def _normalise_text(text: str) -> str:
    """Normalise line endings, drop control characters and collapse blank-line runs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = (
        text.replace("\x0c", "\n\n").replace("\x0b", "\n").replace("\u2028", "\n").replace("\u2029", "\n\n")
    )
    text = _CONTROL_RE.sub("", text)
    text = _TRAILING_SPACE_RE.sub("\n", text + "\n")
    text = _MANY_NEWLINES_RE.sub("\n\n", text)
    return text.strip()


def _clean_title(title: str | None) -> str | None:
    if not title:
        return None
    cleaned = _WHITESPACE_RE.sub(" ", _CONTROL_RE.sub("", title)).strip()
    return cleaned or None


# --------------------------------------------------------------------------- plain text family


def _extract_plain(blob: bytes, _limit: int) -> tuple[str, str | None]:
    return _decode_text(blob), None


def _extract_json(blob: bytes, _limit: int) -> tuple[str, str | None]:
    """All string values of a JSON document, one a line; the raw text when it is not JSON."""
    text = _decode_text(blob)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return text, None
    title = data.get("title") if isinstance(data, dict) else None
    return "\n".join(_json_strings(data)), title if isinstance(title, str) else None


def _json_strings(data: object) -> Iterator[str]:
    stack: list[object] = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if item.strip():
                yield item
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))


def _extract_csv(blob: bytes, _limit: int) -> tuple[str, str | None]:
    """One line per row, the non-empty cells joined by ``", "``.

    A comma-space join keeps rows readable and keeps ``a,b,c`` searchable as written;
    CSV that the csv module cannot parse is returned as decoded text.
    """
    text = _decode_text(blob)
    sample = text[:65536]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",\t;|")
    except csv.Error:
        dialect = csv.excel
    lines: list[str] = []
    try:
        for row in csv.reader(io.StringIO(text, newline=""), dialect):
            cells = [cell.strip() for cell in row if cell.strip()]
            if cells:
                lines.append(", ".join(cells))
    except csv.Error:
        return text, None
    return "\n".join(lines), None


# --------------------------------------------------------------------------- Markdown

_FRONT_MATTER_RE: Final = re.compile(
    r"\A(?:---|\+\+\+)[ \t]*\n(.*?\n)?(?:---|\.\.\.|\+\+\+)[ \t]*(?:\n|\Z)", re.S
)
_FRONT_TITLE_RE: Final = re.compile(r"^title\s*[:=]\s*(.+?)\s*$", re.M | re.I)
_FENCE_RE: Final = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ATX_RE: Final = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+|$)(.*?)(?:[ \t]+#+)?[ \t]*$")
_HR_RE: Final = re.compile(r"^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,}|=+[ \t]*)$")
_TABLE_RULE_RE: Final = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*$")
_REF_DEF_RE: Final = re.compile(r"^ {0,3}\[[^\]]+\]:\s*\S+.*$")
_QUOTE_RE: Final = re.compile(r"^\s*(?:>\s?)+")
_LIST_RE: Final = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])\s+(?:\[[ xX]\]\s+)?")
_ESCAPE_RE: Final = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~<])")
_MD_INLINE: Final = (
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),
    (re.compile(r"<((?:https?|ftp|mailto):[^>\s]+)>"), r"\1"),
    (re.compile(r"(`+)(.+?)\1"), r"\2"),
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"(?<!\*)\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?!\*)"), r"\1"),
    (re.compile(r"(?<![\w_])_(?=[^\s_])(.+?)(?<=[^\s_])_(?![\w_])"), r"\1"),
    (re.compile(r"~~(.+?)~~"), r"\1"),
    (re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>"), ""),
)


def _extract_markdown(blob: bytes, _limit: int) -> tuple[str, str | None]:
    """Markdown without front matter and markup characters; link and image text kept."""
    text = _decode_text(blob).replace("\r\n", "\n").replace("\r", "\n")
    title: str | None = None
    front = _FRONT_MATTER_RE.match(text)
    if front is not None:
        found = _FRONT_TITLE_RE.search(front.group(1) or "")
        if found is not None:
            title = found.group(1).strip().strip("\"'")
        text = text[front.end() :]
    out: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        opener = _FENCE_RE.match(line)
        if fence is not None:
            if opener is not None and opener.group(1)[0] == fence[0] and len(opener.group(1)) >= len(fence):
                fence = None
            else:
                out.append(line)
            continue
        if opener is not None:
            fence = opener.group(1)
            continue
        if _HR_RE.match(line) or _TABLE_RULE_RE.match(line) or _REF_DEF_RE.match(line):
            out.append("")
            continue
        heading = _ATX_RE.match(line)
        if heading is not None:
            line = heading.group(2)
            if title is None and len(heading.group(1)) == 1 and line.strip():
                title = _md_inline(line)
        else:
            line = _LIST_RE.sub("", _QUOTE_RE.sub("", line))
        out.append(_md_inline(line))
    return "\n".join(out), title


def _md_inline(line: str) -> str:
    escapes: list[str] = []

    def protect(match: re.Match[str]) -> str:
        escapes.append(match.group(1))
        return f"\ue000{len(escapes) - 1}\ue001"

    line = _ESCAPE_RE.sub(protect, line)
    for pattern, replacement in _MD_INLINE:
        line = pattern.sub(replacement, line)
    if line.lstrip().startswith("|"):
        line = " | ".join(cell.strip() for cell in line.strip().strip("|").split("|"))
    return re.sub("\ue000(\\d+)\ue001", lambda m: escapes[int(m.group(1))], line)
