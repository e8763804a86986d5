"""Hostile documents, built in memory: small to send, costly to read if nothing bounds the reader.

Used by the tests (tests/test_hostile_documents.py) and by bench/robustness.py.
"""

from __future__ import annotations

import io
import zipfile

# The parts a ZIP needs to be sniffed and opened as each Office Open XML kind.
_CONTENT_TYPES = (
    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/{part}" ContentType="{type}"/></Types>'
)
_ROOT_RELS = (
    '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="{part}"/></Relationships>'
)
_KINDS = {
    "docx": ("word/document.xml", "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"),
    "xlsx": ("xl/workbook.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"),
    "pptx": ("ppt/presentation.xml",
             "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"),
}


def zip_bomb(kind: str, expanded_bytes: int = 200 * 1024 * 1024) -> bytes:
    """An Office package (``docx``, ``xlsx`` or ``pptx``) whose main part inflates to ``expanded_bytes``
    of blanks: about a thousandth of that on the wire."""
    part, content_type = _KINDS[kind]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as package:
        package.writestr("[Content_Types].xml", _CONTENT_TYPES.format(part=part, type=content_type))
        package.writestr("_rels/.rels", _ROOT_RELS.format(part=part))
        with package.open(part, "w", force_zip64=True) as member:
            member.write(b'<?xml version="1.0"?><root>')
            block = b" " * (1024 * 1024)
            for _ in range(expanded_bytes // len(block)):
                member.write(block)
            member.write(b"</root>")
    return out.getvalue()


def billion_laughs(levels: int = 10) -> bytes:
    """The classic entity-expansion XML: ten times more text at every level (10**levels 'lol's)."""
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels)
    ]
    return (f'<?xml version="1.0"?><!DOCTYPE lolz [{"".join(entities)}]><lolz>&lol{levels - 1};</lolz>').encode()


def nested_html(depth: int = 200_000, tag: str = "article") -> bytes:
    """``depth`` elements each inside the last, a word in the innermost."""
    return (f"<html><body>{f'<{tag}>' * depth}deep{f'</{tag}>' * depth}</body></html>").encode()


def pdf_reference_loop() -> bytes:
    """A PDF whose page resources are an object that refers to itself (``5 0 obj 5 0 R``)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources 5 0 R /Contents 4 0 R >>",
        b"<< /Length 35 >>\nstream\nBT /F1 12 Tf 72 720 Td (loop) Tj ET\nendstream",
        b"5 0 R",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def one_word_csv(size: int = 4 * 1024 * 1024) -> bytes:
    """A CSV of a header and one cell holding a single ``size``-letter word."""
    return b"name\n" + b"x" * size + b"\n"


def hostile_set() -> list[tuple[str, bytes, str]]:
    """(document id, bytes, Kendra ContentType) of every kind above."""
    return [
        ("bomb-docx", zip_bomb("docx"), "MS_WORD"),
        ("bomb-xlsx", zip_bomb("xlsx"), "MS_EXCEL"),
        ("bomb-pptx", zip_bomb("pptx"), "PPT"),
        ("laughs-xml", billion_laughs(), "XML"),
        ("nested-html", nested_html(), "HTML"),
        ("loop-pdf", pdf_reference_loop(), "PDF"),
        ("word-csv", one_word_csv(), "CSV"),
    ]
