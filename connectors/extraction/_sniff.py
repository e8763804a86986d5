"""Content types: resolving declared types, routing declared bytes and sniffing undeclared ones.

Also recognises the binary containers (PDF, ZIP-based Office Open XML, OLE2 compound
files) and explains why OLE2 files (legacy or encrypted Office documents) are refused.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Final

from ._decode import _decode_text
from ._types import CONTENT_TYPES, ExtractionError

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
