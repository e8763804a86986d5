"""PDF text and title by pdfminer.six."""

from __future__ import annotations

import codecs
import io
import re
from typing import Any, Final

from ._types import ExtractionError

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
    _refuse_reference_loops(document)
    title = _pdf_title(document)
    text = extract_text(io.BytesIO(blob), laparams=LAParams(detect_vertical=True))
    return _CID_RE.sub("", text), title


def _refuse_reference_loops(document: Any) -> None:
    """Raise ExtractionError for an object that is a reference leading back to itself (``5 0 obj 5 0 R``,
    or a longer ring): pdfminer follows such a chain for ever, without using memory."""
    from pdfminer.pdftypes import PDFObjRef

    for xref in document.xrefs:
        for objid in xref.get_objids():
            seen = set()
            value: Any = PDFObjRef(document, objid)
            while isinstance(value, PDFObjRef):
                if value.objid in seen:
                    raise ExtractionError(f"the PDF's object {objid} is a reference loop")
                seen.add(value.objid)
                try:
                    value = document.getobj(value.objid)
                except Exception:  # a missing or broken object is pdfminer's to judge later
                    break


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
