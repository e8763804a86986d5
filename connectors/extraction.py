"""Turn a document's bytes into plain text for indexing.

One entry point, :func:`extract`, takes the bytes of a document and the Kendra
``ContentType`` it was declared with (or ``None`` to sniff the bytes) and returns an
:class:`ExtractedText`: the document's plain text, a title found inside the document, and
a short lower-case file type for Kendra's ``_file_type`` attribute.

Anything that cannot be turned into text (corrupt, encrypted, legacy binary Office
formats, a wrong type, more text than allowed) raises :class:`ExtractionError` with a
message meant for a person reading an ingestion report.

The heavy parsers (pdfminer.six, python-docx, python-pptx, openpyxl, selectolax,
charset-normalizer) are imported inside the functions that use them, so importing this
module is cheap and has no side effects.

Policy on declared types: the declared ``content_type`` picks the parser, except that
bytes carrying an unambiguous binary signature (``%PDF-``, a ZIP holding an Office Open
XML package, an OLE2 compound file) are parsed as what they are, and RTF bytes declared as
``MS_WORD`` are read as RTF; a mislabelled upload is common and the bytes cannot be read
as anything else.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:  # pragma: no cover - typing only
    from selectolax.lexbor import LexborHTMLParser, LexborNode

__all__ = ["CONTENT_TYPES", "ExtractedText", "ExtractionError", "extract"]


class ExtractionError(Exception):
    """A document whose bytes cannot be turned into text (corrupt, encrypted, wrong type, too much text)."""


@dataclass(frozen=True, slots=True)
class ExtractedText:
    """The plain text of one document.

    Attributes:
        text: The document's plain text; paragraphs are separated by ``"\\n\\n"`` where
            the format has them.
        title: A title found inside the document (HTML ``<title>`` or first ``<h1>``, the
            core property title of .docx/.pptx/.xlsx, the PDF metadata Title, the first
            ``# `` heading of Markdown, ...), or ``None``.
        file_type: Short lower-case kind for Kendra's ``_file_type`` attribute: ``"pdf"``,
            ``"html"``, ``"docx"``, ``"pptx"``, ``"xlsx"``, ``"csv"``, ``"json"``,
            ``"xml"``, ``"md"``, ``"txt"`` or ``"rtf"``.
    """

    text: str
    title: str | None
    file_type: str


CONTENT_TYPES: Final[frozenset[str]] = frozenset(
    {"PDF", "HTML", "MS_WORD", "PLAIN_TEXT", "PPT", "RTF", "XML", "XSLT", "MS_EXCEL", "CSV", "JSON", "MD"}
)
"""The values of Kendra's ``ContentType`` enum."""

_FILE_TYPES: Final[dict[str, str]] = {
    "PDF": "pdf",
    "HTML": "html",
    "MS_WORD": "docx",
    "PLAIN_TEXT": "txt",
    "PPT": "pptx",
    "RTF": "rtf",
    "XML": "xml",
    "XSLT": "xml",
    "MS_EXCEL": "xlsx",
    "CSV": "csv",
    "JSON": "json",
    "MD": "md",
}

# MIME types a connector may hand over instead of a Kendra enum value.
_MIME_TYPES: Final[dict[str, str]] = {
    "application/pdf": "PDF",
    "text/html": "HTML",
    "application/xhtml+xml": "HTML",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "MS_WORD",
    "application/msword": "MS_WORD",
    "text/plain": "PLAIN_TEXT",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "PPT",
    "application/vnd.ms-powerpoint": "PPT",
    "application/rtf": "RTF",
    "text/rtf": "RTF",
    "application/xml": "XML",
    "text/xml": "XML",
    "application/xslt+xml": "XSLT",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "MS_EXCEL",
    "application/vnd.ms-excel": "MS_EXCEL",
    "text/csv": "CSV",
    "application/json": "JSON",
    "text/markdown": "MD",
    "text/x-markdown": "MD",
}

_TEXT_KINDS: Final = frozenset({"PLAIN_TEXT", "MD", "CSV", "JSON", "XML", "XSLT", "HTML"})
_OLE_MAGIC: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC: Final = b"PK\x03\x04"

_Handler = Callable[[bytes, int], tuple[str, str | None]]


def extract(blob: bytes, content_type: str | None, *, max_text_chars: int = 5_000_000) -> ExtractedText:
    """Extract the plain text and title of a document.

    Args:
        blob: The document's bytes.
        content_type: A Kendra ``ContentType`` value (see :data:`CONTENT_TYPES`; case is
            ignored and common MIME types are accepted too), or ``None`` to sniff the bytes
            (PDF magic, ZIP-based Office Open XML by inner part names, RTF, HTML tags,
            XML, JSON, else plain text).
        max_text_chars: The most characters of text accepted after normalisation.

    Returns:
        The text with line endings normalised to ``"\\n"``, NUL and other control
        characters removed and runs of three or more newlines collapsed to two; the title,
        or ``None``; and the file type.

    Raises:
        ExtractionError: The bytes cannot be read as the declared (or sniffed) type, are
            encrypted or in a legacy binary Office format, or hold more than
            ``max_text_chars`` characters of text. The message is meant for people.
        ValueError: ``max_text_chars`` is negative.
    """
    if max_text_chars < 0:
        raise ValueError("max_text_chars must not be negative")
    data = bytes(blob)
    kind = _sniff(data) if content_type is None else _route(_resolve_content_type(content_type), data)
    try:
        raw_text, raw_title = _run_handler(kind, data, max_text_chars)
    except ExtractionError:
        if content_type is not None or kind != "XML":
            raise
        # Sniffed markup that is not well-formed XML: the lenient HTML parser still drops the tags.
        kind = "HTML"
        raw_text, raw_title = _run_handler(kind, data, max_text_chars)
    text = _normalise_text(raw_text)
    if len(text) > max_text_chars:
        raise _too_much_text(len(text), max_text_chars)
    return ExtractedText(text=text, title=_clean_title(raw_title), file_type=_FILE_TYPES[kind])


_LABELS: Final[dict[str, str]] = {
    "PDF": "PDF",
    "HTML": "HTML",
    "MS_WORD": "Word (.docx)",
    "PLAIN_TEXT": "plain text",
    "PPT": "PowerPoint (.pptx)",
    "RTF": "RTF",
    "XML": "XML",
    "XSLT": "XSLT",
    "MS_EXCEL": "Excel (.xlsx)",
    "CSV": "CSV",
    "JSON": "JSON",
    "MD": "Markdown",
}


def _run_handler(kind: str, data: bytes, max_text_chars: int) -> tuple[str, str | None]:
    """Run the parser for ``kind``, turning whatever it raises on bad input into ExtractionError."""
    try:
        return _HANDLERS[kind](data, max_text_chars)
    except (ExtractionError, MemoryError):
        raise
    except Exception as exc:  # parsers raise anything from KeyError to struct.error on bad input
        label = _LABELS[kind]
        detail = str(exc).strip() or type(exc).__name__
        raise ExtractionError(
            f"cannot read this {label} document (corrupt, or not {label}): {detail}"
        ) from exc


def _too_much_text(length: int, limit: int) -> ExtractionError:
    return ExtractionError(
        f"the document holds more text than the limit of {limit:,} characters "
        f"(max_text_chars; got at least {length:,})"
    )


# --------------------------------------------------------------------------- content types


def _resolve_content_type(content_type: str) -> str:
    """Map a Kendra enum value (any case) or a MIME type to a Kendra enum value."""
    value = content_type.strip()
    upper = value.upper().replace("-", "_")
    if upper in CONTENT_TYPES:
        return upper
    mime = value.split(";", 1)[0].strip().lower()
    if mime in _MIME_TYPES:
        return _MIME_TYPES[mime]
    raise ExtractionError(
        f"unsupported content type {content_type!r}; expected one of {', '.join(sorted(CONTENT_TYPES))}"
    )


def _is_pdf(blob: bytes) -> bool:
    return b"%PDF-" in blob[:1024]


def _is_rtf(blob: bytes) -> bool:
    return blob[:64].lstrip(b" \t\r\n\xef\xbb\xbf").startswith(b"{\\rtf")


def _route(declared: str, blob: bytes) -> str:
    """Pick the parser for declared bytes, trusting unambiguous binary signatures."""
    if blob.startswith(b"%PDF-") or (declared not in _TEXT_KINDS and _is_pdf(blob)):
        return "PDF"
    if blob.startswith(_ZIP_MAGIC):
        return _ooxml_kind(blob)
    if blob.startswith(_OLE_MAGIC):
        raise _ole_error(blob, declared)
    if declared in ("MS_WORD", "RTF") and _is_rtf(blob):
        return "RTF"
    return declared


def _sniff(blob: bytes) -> str:
    """Guess the Kendra content type of undeclared bytes."""
    if _is_pdf(blob):
        return "PDF"
    if blob.startswith(_ZIP_MAGIC):
        return _ooxml_kind(blob)
    if blob.startswith(_OLE_MAGIC):
        raise _ole_error(blob, None)
    if _is_rtf(blob):
        return "RTF"
    text = _decode_text(blob)
    head = text[:4096].lstrip("\ufeff \t\r\n").lower()
    if _MARKUP_START_RE.match(head):
        if head.startswith("<?xml") and not _XHTML_RE.search(head):
            return "XML"
        if head.startswith(("<!doctype html", "<html")) or _HTML_TAG_RE.search(head):
            return "HTML"
        return "XML"
    if head.startswith(("{", "[")):
        try:
            json.loads(text)
        except (ValueError, RecursionError):
            return "PLAIN_TEXT"
        return "JSON"
    return "PLAIN_TEXT"


_MARKUP_START_RE: Final = re.compile(r"<[a-z_!?/]")
_XHTML_RE: Final = re.compile(r"<(?:!doctype\s+html|html)\b")
_HTML_TAG_RE: Final = re.compile(
    r"<(?:!doctype\s+html|html|head|body|title|meta|link|div|p|br|table|h[1-6]|ul|ol|span|script|style)\b"
)


def _ooxml_kind(blob: bytes) -> str:
    """Tell a .docx, .pptx or .xlsx apart by the parts inside the ZIP container."""
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            names = set(archive.namelist())
            content_types = ""
            if "[Content_Types].xml" in names:
                content_types = archive.read("[Content_Types].xml")[:200_000].decode("utf-8", "replace")
    except MemoryError:
        raise
    except Exception as exc:  # zipfile raises BadZipFile, zlib.error, NotImplementedError, EOFError, ...
        raise ExtractionError(f"corrupt ZIP container (truncated or damaged Office file): {exc}") from exc
    if "word/document.xml" in names or "wordprocessingml.document.main" in content_types:
        return "MS_WORD"
    if "ppt/presentation.xml" in names or "presentationml.presentation.main" in content_types:
        return "PPT"
    if "xl/workbook.xml" in names or "spreadsheetml.sheet.main" in content_types:
        return "MS_EXCEL"
    raise ExtractionError(
        "ZIP archive that is not a .docx, .pptx or .xlsx document (OpenDocument and plain archives are "
        "not supported)"
    )


def _utf16(name: str) -> bytes:
    return name.encode("utf-16-le")


def _ole_error(blob: bytes, declared: str | None) -> ExtractionError:
    """Explain why an OLE2 compound file (legacy Office, or encrypted OOXML) is refused."""
    if _utf16("EncryptedPackage") in blob:
        return ExtractionError("the Office document is password-protected (encrypted); remove the password")
    if _utf16("WordDocument") in blob or (declared == "MS_WORD" and not _has_other_ole_stream(blob)):
        return ExtractionError("legacy .doc is not supported; convert to .docx")
    if _utf16("PowerPoint Document") in blob or (declared == "PPT" and not _has_other_ole_stream(blob)):
        return ExtractionError("legacy .ppt is not supported; convert to .pptx")
    if _utf16("Workbook") in blob or _utf16("Book") in blob or declared == "MS_EXCEL":
        return ExtractionError("legacy .xls is not supported; convert to .xlsx")
    return ExtractionError(
        "legacy OLE2 (binary Office) files are not supported; convert to .docx/.pptx/.xlsx"
    )


def _has_other_ole_stream(blob: bytes) -> bool:
    return any(_utf16(n) in blob for n in ("WordDocument", "PowerPoint Document", "Workbook"))


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


# --------------------------------------------------------------------------- text decoding

_BOMS: Final = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_JAPANESE_ENCODINGS: Final = frozenset(
    {
        "cp932",
        "shift_jis",
        "shift_jis_2004",
        "shift_jisx0213",
        "euc_jp",
        "euc_jis_2004",
        "euc_jisx0213",
        "iso2022_jp",
        "iso2022_jp_1",
        "iso2022_jp_2",
        "iso2022_jp_2004",
        "iso2022_jp_3",
        "iso2022_jp_ext",
    }
)
# Declared charsets that browsers and Windows read as a superset.
_CHARSET_SUPERSETS: Final = {
    "shift_jis": "cp932",
    "shift_jis_2004": "cp932",
    "shift_jisx0213": "cp932",
    "euc_jis_2004": "euc_jp",
    "euc_jisx0213": "euc_jp",
    "iso8859_1": "cp1252",
    "latin_1": "cp1252",
    "ascii": "cp1252",
    "euc_kr": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
}
_KANA_RE: Final = re.compile(r"[\u3041-\u309f\u30a0-\u30ff]")


def _codec_name(label: str) -> str | None:
    """Python's canonical codec name for a charset label, mapped to its usual superset."""
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name.replace("-", "_")
    except (LookupError, ValueError):
        return None
    return _CHARSET_SUPERSETS.get(name, name)


def _decode_text(blob: bytes, declared_charset: str | None = None) -> str:
    """Decode text: a BOM wins, then strict UTF-8, then a declared charset, then detection.

    Detection uses charset-normalizer with a bias for Japanese: when its guess is not a
    Japanese encoding but the bytes decode as cp932 or EUC-JP into text with kana in it,
    the Japanese reading wins (short EUC-JP texts are otherwise often taken for EUC-KR
    or Big5).
    """
    for bom, encoding in _BOMS:
        if blob.startswith(bom):
            return blob[len(bom) :].decode(encoding, errors="replace")
    try:
        return blob.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if declared_charset:
        codec = _codec_name(declared_charset)
        if codec is not None:
            try:
                return blob.decode(codec)
            except (UnicodeDecodeError, LookupError):
                pass
    return _detect_and_decode(blob)


def _detect_and_decode(blob: bytes) -> str:
    from charset_normalizer import from_bytes

    results = from_bytes(blob)
    best = results.best()
    if best is not None:
        # Among equally good readings prefer Japanese, then Windows-1252: the likeliest legacy
        # encodings in this product's corpora (short EUC-JP ties with EUC-KR, cp1252 with cp1250).
        ties = [r for r in results if r.chaos == best.chaos and r.coherence == best.coherence]
        preferred = [r for r in ties if r.encoding in _JAPANESE_ENCODINGS] or [
            r for r in ties if r.encoding == "cp1252"
        ]
        if preferred:
            best = preferred[0]
    guess = best.encoding if best is not None else None
    if guess is None or (guess not in _JAPANESE_ENCODINGS and not guess.startswith(("utf_16", "utf_32"))):
        japanese = _decode_japanese(blob)
        if japanese is not None:
            return japanese
    if best is None or guess is None:
        raise ExtractionError(
            "the bytes are not text in any known encoding (a binary file of an unsupported type?)"
        )
    if _looks_binary(blob) and not guess.startswith(("utf_16", "utf_32")):
        raise ExtractionError("the bytes look like binary data, not text")
    superset = _CHARSET_SUPERSETS.get(guess)
    if superset is not None:
        try:
            return blob.decode(superset)
        except UnicodeDecodeError:
            pass
    return str(best)


def _decode_japanese(blob: bytes) -> str | None:
    """Decode as cp932 or EUC-JP when that gives text with a fair share of kana."""
    best_text: str | None = None
    best_ratio = 0.0
    for encoding in ("cp932", "euc_jp"):
        try:
            text = blob.decode(encoding)
        except UnicodeDecodeError:
            continue
        non_ascii = sum(1 for ch in text if ord(ch) > 0x7F)
        if non_ascii == 0:
            continue
        ratio = len(_KANA_RE.findall(text)) / non_ascii
        if ratio > best_ratio:
            best_text, best_ratio = text, ratio
    return best_text if best_ratio >= 0.1 else None


def _looks_binary(blob: bytes) -> bool:
    sample = blob[:8192]
    if not sample:
        return False
    controls = sum(1 for b in sample if b < 0x09 or (0x0E <= b < 0x20 and b != 0x1B))
    return controls / len(sample) > 0.05


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


# --------------------------------------------------------------------------- HTML

_HTML_SKIP_TAGS: Final = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "nav",
        "aside",
        "svg",
        "iframe",
        "object",
        "embed",
        "canvas",
        "button",
        "select",
        "textarea",
        "head",
        "link",
        "meta",
        "xmp",
        "plaintext",
        "dialog",
        "-comment",
    }
)
_HTML_SKIP_ROLES: Final = frozenset(
    {"navigation", "banner", "contentinfo", "complementary", "search", "menu"}
)
_HTML_PARAGRAPH_TAGS: Final = frozenset(
    {
        "p",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "table",
        "ul",
        "ol",
        "dl",
        "section",
        "article",
        "main",
        "figure",
        "figcaption",
        "hr",
        "address",
        "details",
        "fieldset",
        "header",
        "footer",
        "form",
        "caption",
    }
)
_HTML_LINE_TAGS: Final = frozenset({"div", "li", "tr", "dt", "dd", "summary", "legend", "option", "center"})
_DISPLAY_NONE_RE: Final = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_META_CHARSET_RE: Final = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.I)


def _extract_html(blob: bytes, _limit: int) -> tuple[str, str | None]:
    """Main-content text of an HTML page, block elements as separate lines and paragraphs."""
    from selectolax.lexbor import LexborHTMLParser

    declared = _META_CHARSET_RE.search(blob[:8192])
    html = _decode_text(blob, declared.group(1).decode("ascii") if declared else None)
    tree = LexborHTMLParser(html)
    title = _html_title(tree)
    text = ""
    for root in _html_content_roots(tree):
        text = "\n\n".join(_html_text(node) for node in root)
        if text.strip():
            break
    return text, title


def _html_title(tree: LexborHTMLParser) -> str | None:
    for selector in ("title", "h1"):
        node = tree.css_first(selector)
        if node is not None:
            value = node.text(deep=True, separator=" ")
            if value and value.strip():
                return value
    return None


def _html_content_roots(tree: LexborHTMLParser) -> Iterator[list[LexborNode]]:
    """Candidate content roots, best first: <main>, top-level <article>s, <body>, document."""
    main = tree.css_first("main")
    if main is None:
        main = tree.css_first("[role=main]")
    if main is not None:
        yield [main]
    articles = [node for node in tree.css("article") if not _has_ancestor(node, "article")]
    if articles:
        yield articles
    if tree.body is not None:
        yield [tree.body]
    if tree.root is not None:
        yield [tree.root]


def _has_ancestor(node: LexborNode, tag: str) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.tag == tag:
            return True
        parent = parent.parent
    return False


def _html_skipped(node: LexborNode, in_article: bool) -> bool:
    tag = node.tag
    if tag in _HTML_SKIP_TAGS or (tag in ("header", "footer") and not in_article):
        return True
    attrs = node.attributes
    if "hidden" in attrs:
        return True
    role = attrs.get("role")
    if role and role.strip().lower() in _HTML_SKIP_ROLES:
        return True
    style = attrs.get("style")
    return bool(style and _DISPLAY_NONE_RE.search(style))


def _html_text(root: LexborNode) -> str:
    """Text of an element tree: block elements start new lines or paragraphs, cells get ' | '.

    Breaks are held back until the next visible text, so nested blocks give one line
    break (``li``, ``div``, ``tr``) or one blank line (``p``, headings, lists, tables),
    never a pile of them.
    """
    out: list[str] = []
    pending = ""  # the separator owed before the next visible text
    # (node, exiting, inside <pre>, inside <article>)
    stack: list[tuple[LexborNode, bool, bool, bool]] = [(root, False, False, False)]

    def owe(separator: str) -> None:
        nonlocal pending
        if separator == "\n\n" or (separator == "\n" and pending != "\n\n") or not pending:
            pending = separator

    while stack:
        node, exiting, in_pre, in_article = stack.pop()
        tag = node.tag
        if exiting:
            if tag in _HTML_PARAGRAPH_TAGS:
                owe("\n\n")
            elif tag in _HTML_LINE_TAGS:
                owe("\n")
            continue
        if tag == "-text":
            value = node.text_content or ""
            if not in_pre:
                value = _WHITESPACE_RE.sub(" ", value)
            if value.strip():
                if pending and out:
                    out.append(pending)
                    if pending != " | ":
                        value = value.lstrip(" ")
                pending = ""
                out.append(value)
            elif out and not pending:
                out.append(" " if not in_pre else value)
            continue
        if tag is None or tag.startswith("-") or tag == "img" or _html_skipped(node, in_article):
            continue
        if tag == "br":  # a line break; a second one in a row makes a blank line
            pending = "\n" if pending in ("", " | ") else "\n\n"
            continue
        if tag in _HTML_PARAGRAPH_TAGS:
            owe("\n\n")
        elif tag in _HTML_LINE_TAGS:
            owe("\n")
        elif tag in ("td", "th") and _has_previous_cell(node):
            owe(" | ")
        stack.append((node, True, in_pre, in_article))
        child_pre = in_pre or tag in ("pre", "listing")
        child_article = in_article or tag == "article"
        children = list(node.iter(include_text=True))
        stack.extend((child, False, child_pre, child_article) for child in reversed(children))
    lines = (line.strip() if line.strip() else "" for line in "".join(out).split("\n"))
    return _MANY_NEWLINES_RE.sub("\n\n", "\n".join(lines)).strip()


def _has_previous_cell(node: LexborNode) -> bool:
    sibling = node.prev
    while sibling is not None:
        if sibling.tag in ("td", "th"):
            return True
        sibling = sibling.prev
    return False


# --------------------------------------------------------------------------- XML

_XML_DECL_ENCODING_RE: Final = re.compile(rb"""^<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._\-]+)["']""")


class _ForbiddenEntity(Exception):
    """Raised from the expat callback that sees an entity declaration."""


def _extract_xml(blob: bytes, _limit: int) -> tuple[str, str | None]:
    """Text nodes of an XML (or XSLT) document.

    Parsed with expat; documents that declare entities in a DTD are refused (the classic
    entity-expansion attacks need them) and external entities are never fetched. Element
    boundaries become line breaks, except a single tag between two non-space characters
    (mixed content such as ``Hel<b>lo</b>``), which is dropped.
    """
    import xml.parsers.expat as expat

    stripped = blob.lstrip(b"\xef\xbb\xbf \t\r\n")
    declared = _XML_DECL_ENCODING_RE.match(stripped)
    text = _decode_text(blob, declared.group(1).decode("ascii") if declared else None)

    parser = expat.ParserCreate(encoding="UTF-8")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    chunks: list[str] = []
    title_parts: list[str] = []
    state = {"title_depth": 0, "title_done": 0}

    def start(name: str, _attrs: dict[str, str]) -> None:
        chunks.append("\x00")
        if not state["title_done"] and (state["title_depth"] or name.rsplit(":", 1)[-1].lower() == "title"):
            state["title_depth"] += 1

    def end(_name: str) -> None:
        chunks.append("\x00")
        if state["title_depth"]:
            state["title_depth"] -= 1
            if not state["title_depth"]:
                state["title_done"] = 1

    def characters(data: str) -> None:
        chunks.append(data)
        if state["title_depth"]:
            title_parts.append(data)

    def boundary() -> None:
        chunks.append("\x00")

    def forbid(*_args: object) -> None:
        raise _ForbiddenEntity

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    parser.StartCdataSectionHandler = boundary
    parser.EndCdataSectionHandler = boundary
    parser.EntityDeclHandler = forbid
    parser.UnparsedEntityDeclHandler = forbid
    try:
        parser.Parse(_CONTROL_RE.sub("", text).encode("utf-8"), True)
    except _ForbiddenEntity as exc:
        raise ExtractionError(
            "XML with entity declarations in its DTD is refused (entity-expansion risk)"
        ) from exc
    except expat.ExpatError as exc:
        raise ExtractionError(f"malformed XML: {exc}") from exc
    joined = re.sub(r"(?<=[^\s\x00])\x00(?=[^\s\x00])", "", "".join(chunks)).replace("\x00", "\n")
    lines = (line.strip() for line in joined.split("\n"))
    return "\n".join(line for line in lines if line), "".join(title_parts) or None


# --------------------------------------------------------------------------- RTF

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


# --------------------------------------------------------------------------- PDF

_CID_RE: Final = re.compile(r"\(cid:\d+\)")


def _extract_pdf(blob: bytes, _limit: int) -> tuple[str, str | None]:
    """PDF text by pdfminer.six with vertical-writing detection; title from the metadata.

    A PDF without a text layer (a scan) gives empty text. ``(cid:N)`` placeholders,
    which pdfminer emits for glyphs it cannot map to Unicode, are dropped.
    """
    from pdfminer.high_level import extract_text
    from pdfminer.layout import LAParams
    from pdfminer.pdfdocument import PDFDocument, PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.pdfparser import PDFParser

    try:
        document = PDFDocument(PDFParser(io.BytesIO(blob)))
    except PDFPasswordIncorrect as exc:
        raise ExtractionError("the PDF is encrypted and needs a password") from exc
    except PDFEncryptionError as exc:
        raise ExtractionError(f"the PDF uses an unsupported encryption: {exc}") from exc
    title = _pdf_title(document)
    text = extract_text(io.BytesIO(blob), laparams=LAParams(detect_vertical=True))
    return _CID_RE.sub("", text), title


def _pdf_title(document: Any) -> str | None:
    from pdfminer.pdftypes import resolve1
    from pdfminer.utils import decode_text

    for info in getattr(document, "info", None) or []:
        try:
            value = resolve1(info.get("Title")) if isinstance(info, dict) else None
        except Exception:  # a dangling reference in the metadata is not worth failing for
            continue
        if isinstance(value, bytes):
            if value.startswith((codecs.BOM_UTF16_BE, codecs.BOM_UTF16_LE)):
                value = value.decode("utf-16", errors="replace")
            else:
                value = decode_text(value)
        if isinstance(value, str) and value.strip() and value.strip().lower() not in _PLACEHOLDER_TITLES:
            return value
    return None


# Titles that PDF producers write when the author gave none.
_PLACEHOLDER_TITLES: Final = frozenset(
    {"(anonymous)", "anonymous", "untitled", "(untitled)", "no title", "title"}
)


# --------------------------------------------------------------------------- Word (.docx)

_W: Final = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_M: Final = "{http://schemas.openxmlformats.org/officeDocument/2006/math}"
_MC: Final = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_DOCX_SKIP_INLINE: Final = frozenset(
    {f"{_MC}Fallback", f"{_W}del", f"{_W}instrText", f"{_W}delText", f"{_W}rPr", f"{_W}pPr", f"{_W}moveFrom"}
)


def _extract_docx(blob: bytes, _limit: int) -> tuple[str, str | None]:
    """Word text: headers, body paragraphs and tables in order, footnotes, endnotes, footers.

    The body is read from the XML directly so that text boxes, content controls, math
    (``m:t``) and hyperlinks are kept and the ``mc:Fallback`` copies of text boxes are not
    read twice. Table rows become lines with cells joined by ``" | "``.
    """
    import docx
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.oxml import parse_xml

    document = docx.Document(io.BytesIO(blob))
    parts: dict[str, list[Any]] = {"header": [], "footnotes": [], "endnotes": [], "footer": []}
    kinds = {RT.HEADER: "header", RT.FOOTNOTES: "footnotes", RT.ENDNOTES: "endnotes", RT.FOOTER: "footer"}
    related = sorted(
        (
            (str(rel.target_part.partname), kinds[rel.reltype], rel.target_part)
            for rel in document.part.rels.values()
            if not rel.is_external and rel.reltype in kinds
        ),
        key=lambda item: item[0],
    )
    for _name, kind, part in related:
        element = getattr(part, "element", None)
        parts[kind].append(element if element is not None else parse_xml(part.blob))

    def part_text(kind: str) -> list[str]:
        seen: set[str] = set()
        texts: list[str] = []
        for element in parts[kind]:
            value = "\n".join(_docx_blocks(element)).strip()
            if value and value not in seen:
                seen.add(value)
                texts.append(value)
        return texts

    blocks = part_text("header") + _docx_blocks(document.element.body)
    blocks += part_text("footnotes") + part_text("endnotes") + part_text("footer")
    return "\n\n".join(block for block in blocks if block.strip()), document.core_properties.title


def _docx_blocks(container: Any) -> list[str]:
    """Paragraph-level texts of a body, cell, header, text box or footnote container."""
    blocks: list[str] = []
    for child in container:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        if tag == f"{_W}p":
            blocks.append(_docx_inline(child))
        elif tag == f"{_W}tbl":
            rows: list[str] = []
            for row in child.iter(f"{_W}tr"):
                if _nearest_table(row) is not child:
                    continue  # a row of a nested table, read with its cell
                cells = [" ".join(b for b in _docx_blocks(cell) if b.strip()) for cell in _docx_cells(row)]
                line = " | ".join(cell for cell in cells if cell.strip())
                if line:
                    rows.append(line)
            blocks.append("\n".join(rows))
        elif tag == f"{_MC}AlternateContent":
            for choice in child:
                if choice.tag == f"{_MC}Choice":
                    blocks.extend(_docx_blocks(choice))
                    break
        elif tag in (
            f"{_W}sdt",
            f"{_W}sdtContent",
            f"{_W}customXml",
            f"{_W}footnote",
            f"{_W}endnote",
            f"{_W}ins",
            f"{_W}moveTo",
            f"{_W}smartTag",
        ):
            blocks.extend(_docx_blocks(child))
    return blocks


def _nearest_table(row: Any) -> Any:
    parent = row.getparent()
    while parent is not None and parent.tag != f"{_W}tbl":
        parent = parent.getparent()
    return parent


def _docx_cells(row: Any) -> Iterator[Any]:
    """The cells of a table row, also those wrapped in content controls."""
    for child in row:
        if child.tag == f"{_W}tc":
            yield child
        elif child.tag in (f"{_W}sdt", f"{_W}sdtContent", f"{_W}customXml"):
            yield from _docx_cells(child)


def _docx_inline(paragraph: Any) -> str:
    """The text of one paragraph, with text boxes inside it on lines of their own."""
    out: list[str] = []

    def walk(element: Any) -> None:
        for child in element:
            tag = child.tag
            if not isinstance(tag, str) or tag in _DOCX_SKIP_INLINE:
                continue
            if tag in (f"{_W}t", f"{_M}t"):
                out.append(child.text or "")
            elif tag == f"{_W}tab":
                out.append("\t")
            elif tag in (f"{_W}br", f"{_W}cr"):
                out.append("\n")
            elif tag == f"{_W}noBreakHyphen":
                out.append("-")
            elif tag == f"{_W}txbxContent":
                out.append("\n" + "\n".join(_docx_blocks(child)) + "\n")
            else:
                walk(child)

    walk(paragraph)
    return "".join(out)


# --------------------------------------------------------------------------- PowerPoint (.pptx)


def _extract_pptx(blob: bytes, _limit: int) -> tuple[str, str | None]:
    """Slide by slide: the title, text frames, table rows and chart labels, then the notes."""
    from pptx import Presentation

    presentation = Presentation(io.BytesIO(blob))
    slides: list[str] = []
    for slide in presentation.slides:
        lines: list[str] = []
        title_shape = slide.shapes.title
        title_id = None
        if title_shape is not None:
            title_id = title_shape.shape_id
            if title_shape.has_text_frame:
                lines.append(_pptx_frame_text(title_shape.text_frame))
        for shape in slide.shapes:
            if title_id is not None and shape.shape_id == title_id:
                continue
            lines.extend(_pptx_shape_texts(shape))
        if slide.has_notes_slide:
            frame = slide.notes_slide.notes_text_frame
            if frame is not None:
                lines.append(_pptx_frame_text(frame))
        slide_text = "\n".join(line for line in lines if line.strip())
        if slide_text:
            slides.append(slide_text)
    return "\n\n".join(slides), presentation.core_properties.title


def _pptx_frame_text(frame: Any) -> str:
    return "\n".join(paragraph.text.replace("\v", "\n") for paragraph in frame.paragraphs)


def _pptx_shape_texts(shape: Any) -> Iterator[str]:
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
        for inner in shape.shapes:
            yield from _pptx_shape_texts(inner)
        return
    if getattr(shape, "has_text_frame", False) and shape.has_text_frame:
        yield _pptx_frame_text(shape.text_frame)
    if getattr(shape, "has_table", False) and shape.has_table:
        for row in shape.table.rows:
            cells = [
                _pptx_frame_text(cell.text_frame).replace("\n", " ").strip()
                for cell in row.cells
                if not cell.is_spanned
            ]
            yield " | ".join(cell for cell in cells if cell)
    if getattr(shape, "has_chart", False) and shape.has_chart:
        yield from _pptx_chart_texts(shape.chart)


def _pptx_chart_texts(chart: Any) -> Iterator[str]:
    try:
        if chart.has_title and chart.chart_title.has_text_frame:
            yield _pptx_frame_text(chart.chart_title.text_frame)
        for plot in chart.plots:
            yield " | ".join(str(c) for c in plot.categories if str(c).strip())
            yield " | ".join(s.name for s in plot.series if s.name)
    except Exception:  # a chart python-pptx cannot read loses its labels, not the whole deck
        return


# --------------------------------------------------------------------------- Excel (.xlsx)


def _extract_xlsx(blob: bytes, limit: int) -> tuple[str, str | None]:
    """Sheet by sheet: the sheet name, then one line per row of non-empty cells joined by ' | '.

    Formula cells give their cached values; dates are ISO dates. Reading stops as soon as
    the text passes ``limit`` characters.
    """
    import openpyxl  # type: ignore[import-untyped, unused-ignore]

    workbook = openpyxl.load_workbook(io.BytesIO(blob), read_only=True, data_only=True)
    try:
        title = workbook.properties.title
        sheets: list[str] = []
        size = 0
        for sheet in workbook.worksheets:
            lines = [str(sheet.title)]
            size += len(lines[0]) + 2
            for row in sheet.iter_rows(values_only=True):
                cells = [_xlsx_cell(value) for value in row if value is not None]
                line = " | ".join(cell for cell in cells if cell)
                if line:
                    lines.append(line)
                    size += len(line) + 1
                    if size > limit:
                        raise _too_much_text(size, limit)
            sheets.append("\n".join(lines))
    finally:
        workbook.close()
    return "\n\n".join(sheets), title


def _xlsx_cell(value: object) -> str:
    import datetime as dt

    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(timespec="seconds")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    return str(value).strip()


# --------------------------------------------------------------------------- dispatch

_HANDLERS: Final[dict[str, _Handler]] = {
    "PDF": _extract_pdf,
    "HTML": _extract_html,
    "MS_WORD": _extract_docx,
    "PLAIN_TEXT": _extract_plain,
    "PPT": _extract_pptx,
    "RTF": _extract_rtf,
    "XML": _extract_xml,
    "XSLT": _extract_xml,
    "MS_EXCEL": _extract_xlsx,
    "CSV": _extract_csv,
    "JSON": _extract_json,
    "MD": _extract_markdown,
}
