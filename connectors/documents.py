"""From a fetched :class:`SourceDocument` to a Kendra ``Document`` (what BatchPutDocument takes).

The connector extracts the text itself (the CPU-heavy part of a sync, so it runs on the sync workers)
and sends it as PLAIN_TEXT with every built-in attribute set: ``_source_uri``, ``_document_title``,
``_created_at``, ``_last_updated_at``, ``_authors``, ``_category``, ``_file_type`` and
``_language_code`` (the data source's LanguageCode, else detected from the text). A document that
cannot be read raises :class:`ItemFailed` with the extractor's reason.
"""

from __future__ import annotations

import posixpath
from datetime import datetime
from typing import Any, Final

from connectors.contract import ItemFailed, SourceDocument
from connectors.extraction import ExtractionError, extract
from kernel.language import document_language

# File name extension -> Kendra ContentType. Legacy binary Office files are routed to the Office
# parsers so they fail with a clear reason instead of being skipped silently.
EXTENSIONS: Final[dict[str, str]] = {
    ".pdf": "PDF", ".html": "HTML", ".htm": "HTML", ".docx": "MS_WORD", ".doc": "MS_WORD", ".pptx": "PPT",
    ".ppt": "PPT", ".xlsx": "MS_EXCEL", ".xls": "MS_EXCEL", ".csv": "CSV", ".md": "MD", ".markdown": "MD",
    ".txt": "PLAIN_TEXT", ".text": "PLAIN_TEXT", ".rtf": "RTF", ".json": "JSON", ".xml": "XML",
}


def content_type_of(name: str) -> str | None:
    """The ContentType for a file name, or None when its type is not one Kensaku indexes."""
    return EXTENSIONS.get(posixpath.splitext(name.lower())[1])


def _string(key: str, value: str) -> dict[str, Any]:
    return {"Key": key, "Value": {"StringValue": value}}


def _date(key: str, value: datetime) -> dict[str, Any]:
    return {"Key": key, "Value": {"DateValue": value}}


def kendra_document(doc: SourceDocument, *, max_text_chars: int, language: str | None = None) -> dict[str, Any]:
    """The Kendra Document for ``doc`` (without the data source attributes). Raises ItemFailed."""
    try:
        extracted = extract(doc.data, doc.content_type, max_text_chars=max_text_chars)
    except ExtractionError as error:
        raise ItemFailed(str(error)) from None
    title = doc.title or extracted.title or posixpath.basename(doc.source_uri.rstrip("/")) or doc.doc_id
    title = title[:1024]
    attributes = [
        _string("_source_uri", doc.source_uri),
        _string("_document_title", title),
        _string("_file_type", extracted.file_type),
        _string("_language_code", language or document_language(extracted.text)),
    ]
    if doc.created_at is not None:
        attributes.append(_date("_created_at", doc.created_at))
    if doc.updated_at is not None:
        attributes.append(_date("_last_updated_at", doc.updated_at))
    if doc.authors:
        attributes.append({"Key": "_authors", "Value": {"StringListValue": list(doc.authors)}})
    if doc.category:
        attributes.append(_string("_category", doc.category))
    out: dict[str, Any] = {
        "Id": doc.doc_id,
        "Title": title,
        "Blob": extracted.text.encode("utf-8"),
        "ContentType": "PLAIN_TEXT",
        "Attributes": attributes,
    }
    if doc.acl.principals:
        out["AccessControlList"] = [
            {"Name": p.name, "Type": p.kind, "Access": p.access} for p in doc.acl.principals
        ]
    return out
