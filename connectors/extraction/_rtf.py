"""RTF: a small stripper of control words and groups."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from ._decode import _codec_name
from ._sniff import _is_rtf
from ._types import ExtractionError

_RTF_TOKEN_RE: Final = re.compile(
    rb"\\([a-zA-Z]{1,32})(-?\d{1,10})? ?"  # control word with optional numeric parameter
    rb"|\\'([0-9a-fA-F]{2})"  # \'hh byte
    rb"|\\([^a-zA-Z'])"  # control symbol
    rb"|([{}])"  # group
    rb"|[\r\n]+"  # source line breaks carry no meaning
    rb"|([^\\{}\r\n]+)"  # literal text
    rb"|(\\)"  # a lone backslash at the very end
)
_RTF_SKIP_DESTINATIONS: Final = frozenset(
    {
        "fonttbl",
        "colortbl",
        "stylesheet",
        "listtable",
        "listoverridetable",
        "revtbl",
        "rsidtbl",
        "generator",
        "pict",
        "objdata",
        "objclass",
        "objname",
        "themedata",
        "colorschememapping",
        "datastore",
        "latentstyles",
        "xmlnstbl",
        "mmathPr",
        "fldinst",
        "filetbl",
        "pgdsctbl",
        "private",
        "nonshppict",
        "sp",
        "sn",
        "sv",
        "atnid",
        "atnauthor",
        "template",
        "userprops",
        "docvar",
        "wgrffmtfilter",
        "bkmkstart",
        "bkmkend",
        "xmlopen",
        "xmlclose",
        "passwordhash",
        "operator",
        "factoidname",
        "listpicture",
        "blipuid",
    }
)
_RTF_KEEP_STARRED: Final = frozenset({"shpinst", "shptxt", "title"})
_RTF_SPECIAL: Final = {
    "par": "\n",
    "line": "\n",
    "sect": "\n\n",
    "page": "\n\n",
    "tab": "\t",
    "cell": "\x1f",
    "nestcell": "\x1f",
    "row": "\x1e",
    "nestrow": "\x1e",
    "emdash": "\u2014",
    "endash": "\u2013",
    "emspace": " ",
    "enspace": " ",
    "qmspace": " ",
    "bullet": "\u2022",
    "lquote": "\u2018",
    "rquote": "\u2019",
    "ldblquote": "\u201c",
    "rdblquote": "\u201d",
    "zwj": "\u200d",
    "zwnj": "\u200c",
}
_RTF_CHARSETS: Final = {"ansi": "cp1252", "mac": "mac_roman", "pc": "cp437", "pca": "cp850"}


@dataclass(slots=True)
class _RtfGroup:
    """Per-group RTF parser state: where text goes and the \\uc skip count."""

    dest: str  # "text", "title", "info" (discard) or "skip"
    ucskip: int


def _extract_rtf(blob: bytes, _limit: int) -> tuple[str, str | None]:
    """Text of an RTF document: a small stripper of control words and groups.

    ``\\'hh`` escapes are decoded with the ``\\ansicpg`` code page (consecutive bytes
    together, so double-byte code pages such as cp932 work), ``\\uN`` escapes as Unicode
    (their ``\\ucN`` fallback characters skipped), and non-text destinations (font and
    colour tables, pictures, field instructions, ``\\*`` groups) are dropped. The title
    comes from ``{\\info{\\title ...}}``.
    """
    if not _is_rtf(blob):
        raise ExtractionError("not an RTF document (it does not start with {\\rtf)")
    codepage = "cp1252"
    group = _RtfGroup("text", 1)
    stack: list[_RtfGroup] = []
    star = False
    skip = 0  # fallback bytes still to drop after a \uN
    pending = bytearray()  # \'hh and literal bytes awaiting decoding
    outputs: dict[str, list[str]] = {"text": [], "title": []}

    def emit(value: str) -> None:
        target = outputs.get(group.dest)
        if target is not None:
            target.append(value)

    def flush() -> None:
        if pending:
            emit(bytes(pending).decode(codepage, errors="replace"))
            pending.clear()

    def take_bytes(data: bytes) -> None:
        nonlocal skip
        if skip:
            dropped = min(skip, len(data))
            skip -= dropped
            data = data[dropped:]
        if data and group.dest in outputs:
            pending.extend(data)

    pos = 0
    length = len(blob)
    while pos < length:
        match = _RTF_TOKEN_RE.match(blob, pos)
        if match is None:  # pragma: no cover - the pattern matches any byte
            break
        pos = match.end()
        word, arg, hexbyte, symbol, brace, text_bytes, lone = match.groups()
        if hexbyte is not None:
            take_bytes(bytes([int(hexbyte, 16)]))
            continue
        if text_bytes is not None:
            take_bytes(text_bytes)
            continue
        if lone is not None or (word is None and symbol is None and brace is None):
            continue  # a newline in the source, or a trailing backslash
        flush()
        if brace is not None:
            skip = 0
            star = False
            if brace == b"{":
                stack.append(group)
                group = _RtfGroup(group.dest, group.ucskip)
            elif stack:
                group = stack.pop()
            continue
        if symbol is not None:
            skip = 0
            char = symbol.decode("latin-1")
            if char == "*":
                star = True
            elif char in "\\{}":
                emit(char)
            elif char == "~":
                emit("\xa0")
            elif char == "_":
                emit("\u2011")
            elif char in "\r\n":
                emit("\n")
            continue
        name = word.decode("ascii")
        if name == "bin":  # raw binary data follows; never text
            pos += max(int(arg or 0), 0)
            continue
        if name == "u":
            value = int(arg or 0)
            emit(chr(value + 0x10000 if value < 0 else value))
            skip = group.ucskip
            star = False
            continue
        skip = 0
        was_star, star = star, False
        if name == "uc":
            group.ucskip = max(int(arg or 0), 0)
        elif name == "ansicpg" and arg:
            codepage = _codec_name(f"cp{int(arg)}") or codepage
        elif name in _RTF_CHARSETS and not stack[1:]:
            codepage = _RTF_CHARSETS[name]
        elif group.dest == "skip":
            pass
        elif name == "info":
            group.dest = "info"
        elif name == "title" and group.dest == "info":
            group.dest = "title"
        elif name in _RTF_SKIP_DESTINATIONS or (was_star and name not in _RTF_KEEP_STARRED):
            group.dest = "skip"
        elif group.dest == "text" and name in _RTF_SPECIAL:
            emit(_RTF_SPECIAL[name])
    flush()
    # Table cells end in \x1f and rows in \x1e: cells are joined by " | ", rows end lines.
    text = _join_utf16("".join(outputs["text"]))
    text = re.sub("\x1f*\x1e", "\n", text).replace("\x1f", " | ")
    title = _join_utf16("".join(outputs["title"])) or None
    return text, title


def _join_utf16(text: str) -> str:
    """Combine UTF-16 surrogate halves (from RTF ``\\u`` escapes) into real characters."""
    if not any("\ud800" <= ch <= "\udfff" for ch in text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
