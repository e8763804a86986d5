"""Office Open XML documents: Word (.docx), PowerPoint (.pptx) and Excel (.xlsx)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any, Final

from ._types import _too_much_text
from ._zip import check_package

# --------------------------------------------------------------------------- Word (.docx)

_W: Final = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_M: Final = "{http://schemas.openxmlformats.org/officeDocument/2006/math}"
_MC: Final = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_DOCX_SKIP_INLINE: Final = frozenset(
    {f"{_MC}Fallback", f"{_W}del", f"{_W}instrText", f"{_W}delText", f"{_W}rPr", f"{_W}pPr", f"{_W}moveFrom"}
)


def _extract_docx(blob: bytes, limit: int) -> tuple[str, str | None]:
    """Word text: headers, body paragraphs and tables in order, footnotes, endnotes, footers.

    The body is read from the XML directly so that text boxes, content controls, math
    (``m:t``) and hyperlinks are kept and the ``mc:Fallback`` copies of text boxes are not
    read twice. Table rows become lines with cells joined by ``" | "``.
    """
    import docx
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.oxml import parse_xml

    check_package(blob, limit)
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


def _extract_pptx(blob: bytes, limit: int) -> tuple[str, str | None]:
    """Slide by slide: the title, text frames, table rows and chart labels, then the notes."""
    from pptx import Presentation

    check_package(blob, limit)
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

    check_package(blob, limit)
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
