"""The entry point :func:`extract`: pick the parser for a document, run it, normalise its output."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from ._markup import _extract_html, _extract_xml
from ._office import _extract_docx, _extract_pptx, _extract_xlsx
from ._pdf import _extract_pdf
from ._rtf import _extract_rtf
from ._sniff import _resolve_content_type, _route, _sniff
from ._text import _clean_title, _extract_csv, _extract_json, _extract_markdown, _extract_plain, _normalise_text
from ._types import ExtractedText, ExtractionError, _too_much_text

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
