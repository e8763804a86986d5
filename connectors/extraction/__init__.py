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
package is cheap and has no side effects.

Policy on declared types: the declared ``content_type`` picks the parser, except that
bytes carrying an unambiguous binary signature (``%PDF-``, a ZIP holding an Office Open
XML package, an OLE2 compound file) are parsed as what they are, and RTF bytes declared as
``MS_WORD`` are read as RTF; a mislabelled upload is common and the bytes cannot be read
as anything else.
"""

from __future__ import annotations

from ._dispatch import extract
from ._types import CONTENT_TYPES, ExtractedText, ExtractionError

__all__ = ["CONTENT_TYPES", "ExtractedText", "ExtractionError", "extract"]
