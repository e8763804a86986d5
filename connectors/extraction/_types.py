"""The public result and error types, the content-type enum, and the too-much-text error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


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


def _too_much_text(length: int, limit: int) -> ExtractionError:
    return ExtractionError(
        f"the document holds more text than the limit of {limit:,} characters "
        f"(max_text_chars; got at least {length:,})"
    )
