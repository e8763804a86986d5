"""Tests for connectors.extraction: real office files from the shared corpus plus small crafted inputs."""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from connectors.extraction import CONTENT_TYPES, ExtractedText, ExtractionError, extract

SHARED_DIR = Path(os.environ.get("KENSAKU_SHARED_DIR", Path(__file__).resolve().parents[1].parent / "shared"))
CORPUS = SHARED_DIR / "data/corpora/office"
MANIFEST = CORPUS / "MANIFEST.jsonl"

needs_corpus = pytest.mark.skipif(
    not MANIFEST.is_file(), reason=f"shared office corpus not found at {CORPUS}"
)


def _manifest() -> list[dict[str, Any]]:
    if not MANIFEST.is_file():
        return []
    return [json.loads(line) for line in MANIFEST.read_text(encoding="utf-8").splitlines() if line.strip()]


def _squash(text: str) -> str:
    """The manifest compares strings with all whitespace removed from both sides."""
    return re.sub(r"\s+", "", text)


def _corpus_file(relative: str) -> bytes:
    path = CORPUS / relative
    if not path.is_file():
        pytest.skip(f"corpus file {relative} not found under {CORPUS}")
    return path.read_bytes()


_CACHE: dict[tuple[str, str | None], ExtractedText] = {}


def _extract_corpus(relative: str, content_type: str | None) -> ExtractedText:
    """Extract a corpus file once per content type (the big PDFs take a second or two)."""
    key = (relative, content_type)
    if key not in _CACHE:
        _CACHE[key] = extract(_corpus_file(relative), content_type)
    return _CACHE[key]


# ----------------------------------------------------------------------------- the manifest


@needs_corpus
def test_manifest_lists_existing_files_with_kendra_content_types() -> None:
    entries = _manifest()
    assert entries, "MANIFEST.jsonl is empty"
    for entry in entries:
        assert (CORPUS / entry["path"]).is_file(), entry["path"]
        assert entry["content_type"] in CONTENT_TYPES, entry


@needs_corpus
@pytest.mark.parametrize("entry", _manifest(), ids=lambda e: str(e["path"]))
def test_corpus_file_extracts_the_manifest_strings(entry: dict[str, Any]) -> None:
    result = _extract_corpus(entry["path"], entry["content_type"])
    text = _squash(result.text)
    missing = [s for s in entry["must_contain"] if _squash(s) not in text]
    assert not missing, f"{entry['path']}: missing {missing}"
    present = [s for s in entry.get("should_not_contain", []) if _squash(s) in text]
    assert not present, f"{entry['path']}: should not contain {present}"
    assert "\r" not in result.text and "\x00" not in result.text and "\n\n\n" not in result.text


# ----------------------------------------------------------------------------- PDF


def _pdf(
    *,
    title: bytes | None = None,
    encrypted: bool = False,
    content: bytes = b"BT /F1 12 Tf 20 100 Td (Hello PDF world) Tj ET",
) -> bytes:
    """A minimal one-page PDF with a correct xref table."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Producer (kensaku tests)" + (b" /Title " + title if title is not None else b"") + b" >>",
    ]
    if encrypted:  # standard security handler whose /U does not match the empty password
        objects.append(
            b"<< /Filter /Standard /V 1 /R 2 /O <" + b"11" * 32 + b"> /U <" + b"22" * 32 + b"> /P -4 >>"
        )
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    trailer = b"<< /Size %d /Root 1 0 R /Info 6 0 R" % (len(objects) + 1)
    if encrypted:
        trailer += (
            b" /Encrypt 7 0 R /ID [<00112233445566778899aabbccddeeff><00112233445566778899aabbccddeeff>]"
        )
    out += b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


@needs_corpus
def test_vertical_japanese_pdf_extracts_readable_text() -> None:
    result = _extract_corpus("pdfminer/jo.pdf", "PDF")
    lines = [line.strip("\u3000 ") for line in result.text.split("\n")]
    # With detect_vertical each vertical column comes out as one whole line.
    assert "わたくしといふ現象は" in lines
    assert "因果交流電燈の" in lines
    assert result.file_type == "pdf"


@needs_corpus
def test_scanned_pdf_without_text_layer_gives_empty_text_not_an_error() -> None:
    result = _extract_corpus("markitdown/MEDRPT-2024-PAT-3847_medical_report_scan.pdf", "PDF")
    assert result.text == ""
    assert result.file_type == "pdf"


@needs_corpus
def test_pdf_pages_become_paragraphs_without_form_feeds() -> None:
    result = _extract_corpus("markitdown/REPAIR-2022-INV-001_multipage.pdf", "PDF")
    assert "\x0c" not in result.text
    assert "ZAVA AUTO REPAIR" in result.text


def test_pdf_title_comes_from_metadata() -> None:
    assert extract(_pdf(title=b"(Quarterly Report)"), "PDF").title == "Quarterly Report"
    utf16_title = b"<FEFF" + "報告書".encode("utf-16-be").hex().upper().encode() + b">"
    result = extract(_pdf(title=utf16_title), "PDF")
    assert result.title == "報告書"
    assert result.text == "Hello PDF world"


def test_pdf_placeholder_or_missing_title_is_none() -> None:
    assert extract(_pdf(title=b"((anonymous))"), "PDF").title is None
    assert extract(_pdf(title=b"(   )"), "PDF").title is None
    assert extract(_pdf(), "PDF").title is None


@needs_corpus
def test_pdf_title_placeholder_in_corpus_file_is_dropped() -> None:
    assert _extract_corpus("markitdown/RECEIPT-2024-TXN-98765_retail_purchase.pdf", "PDF").title is None


@needs_corpus
@pytest.mark.parametrize("keep", [20, 2000, 0.5])
def test_truncated_pdf_raises_extraction_error(keep: float) -> None:
    blob = _corpus_file("markitdown/test.pdf")
    cut = int(len(blob) * keep) if isinstance(keep, float) else int(keep)
    with pytest.raises(ExtractionError):
        extract(blob[:cut], "PDF")


def test_bytes_that_are_not_a_pdf_raise_when_declared_pdf() -> None:
    with pytest.raises(ExtractionError, match="PDF"):
        extract(b"this is not a pdf at all", "PDF")


def test_password_protected_pdf_raises_extraction_error() -> None:
    with pytest.raises(ExtractionError, match="encrypted"):
        extract(_pdf(encrypted=True), "PDF")


# ----------------------------------------------------------------------------- Office Open XML


def test_random_bytes_declared_docx_raise_extraction_error() -> None:
    blob = bytes((i * 7919 + 13) % 256 for i in range(4096))
    with pytest.raises(ExtractionError):
        extract(blob, "MS_WORD")


def test_truncated_docx_raises_extraction_error() -> None:
    blob = _corpus_file("markitdown/test.docx")
    with pytest.raises(ExtractionError):
        extract(blob[: len(blob) // 2], "MS_WORD")


def test_legacy_ole_doc_is_refused_with_a_conversion_hint() -> None:
    blob = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1024
    with pytest.raises(ExtractionError, match=r"legacy \.doc is not supported; convert to \.docx"):
        extract(blob, "MS_WORD")


def test_legacy_ole_files_are_named_by_their_streams() -> None:
    magic = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512
    with pytest.raises(ExtractionError, match=r"legacy \.xls"):
        extract(magic + "Workbook".encode("utf-16-le"), None)
    with pytest.raises(ExtractionError, match=r"legacy \.ppt"):
        extract(magic + "PowerPoint Document".encode("utf-16-le"), "PPT")
    with pytest.raises(ExtractionError, match=r"legacy \.doc"):
        extract(magic + "WordDocument".encode("utf-16-le"), None)


def test_password_protected_office_file_is_reported_as_encrypted() -> None:
    blob = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512 + "EncryptedPackage".encode("utf-16-le")
    with pytest.raises(ExtractionError, match="password"):
        extract(blob, "MS_WORD")


@needs_corpus
@pytest.mark.parametrize(
    "relative",
    ["markitdown/test_with_comment.docx", "authored/総務/備品管理台帳.xlsx", "markitdown/test.pptx"],
)
def test_damaged_office_files_fail_only_with_extraction_error(relative: str) -> None:
    blob = _corpus_file(relative)
    rng = random.Random(relative)
    for _ in range(5):
        damaged = bytearray(blob)
        for _ in range(20):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        with contextlib.suppress(ExtractionError):  # the only exception a caller has to handle
            extract(bytes(damaged), None)


def test_zip_that_is_not_an_office_document_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ExtractionError, match="ZIP"):
        extract(buffer.getvalue(), "MS_WORD")


@needs_corpus
def test_docx_keeps_headers_footers_and_tables_in_body_order() -> None:
    result = _extract_corpus("authored/総務/経費精算の手順.docx", "MS_WORD")
    text = result.text
    assert result.title == "経費精算の手順"
    assert result.file_type == "docx"
    assert text.startswith("社外秘　総務部 経理課")  # the page header comes first
    assert text.rstrip().endswith("改訂 第3版")  # the page footer comes last
    header_row = text.index("区分 | 例 | 上限・条件")
    assert text.index("1. 対象となる経費") < header_row < text.index("2. 申請の流れ")
    assert "出張旅費 | 新幹線・航空券・宿泊費 | 宿泊は1泊12,000円まで" in text


@needs_corpus
def test_docx_keeps_text_around_equations() -> None:
    text = _extract_corpus("markitdown/equations.docx", "MS_WORD").text
    assert "From Eq. 36.1.3" in text
    assert "sin" in text  # the Office Math runs (m:t) are read too


@needs_corpus
def test_pptx_reads_slides_in_order_with_tables_and_speaker_notes() -> None:
    result = _extract_corpus("authored/開発部/技術勉強会_議事録_2024年6月.pptx", "PPT")
    text = result.text
    assert result.file_type == "pptx"
    assert result.title == "技術勉強会 議事録（2024年6月）"
    assert "5 | ｻｰﾊﾞｰ 再起動 | 212 | 38%" in text  # half-width katakana untouched, cells joined
    slides = text.split("\n\n")
    assert slides[0].startswith("技術勉強会 議事録")
    assert (
        slides[-1].rstrip().endswith("次回のテーマは「ベクトル検索入門」。発表者は未定。")
    )  # notes of the last slide
    assert text.index("形態素解析と N-gram の違い") < text.index("検索ログの分析")


@needs_corpus
def test_xlsx_lists_each_sheet_name_then_rows_with_iso_dates() -> None:
    result = _extract_corpus("authored/総務/備品管理台帳.xlsx", "MS_EXCEL")
    lines = result.text.split("\n")
    assert result.file_type == "xlsx"
    assert result.title == "備品管理台帳"
    assert lines[0] == "貸出台帳"
    assert "問い合わせ窓口" in lines
    row = next(line for line in lines if line.startswith("PC-2024-001"))
    expected = (
        "PC-2024-001 | ノートPC | ThinkPad X1 Carbon Gen 12 | 高橋 健 | 営業部 | 2024-04-01 | 2027-03-31"
    )
    assert row == expected + " | 貸出中"
    assert "PC・VPN・アカウント | 情報システム部 ヘルプデスク | 4400 | helpdesk@example.co.jp" in result.text


@needs_corpus
def test_xlsx_over_the_text_limit_stops_early_with_extraction_error() -> None:
    with pytest.raises(ExtractionError, match="limit"):
        extract(_corpus_file("markitdown/test.xlsx"), "MS_EXCEL", max_text_chars=100)


@needs_corpus
def test_mislabelled_pdf_is_read_as_a_pdf() -> None:
    result = extract(_corpus_file("pdfminer/jo.pdf"), "MS_WORD")
    assert result.file_type == "pdf"
    assert "わたくしといふ現象は" in result.text


# ----------------------------------------------------------------------------- sniffing


@needs_corpus
@pytest.mark.parametrize(
    ("relative", "file_type"),
    [
        ("markitdown/test.pdf", "pdf"),
        ("pdfminer/jo.pdf", "pdf"),
        ("markitdown/test.docx", "docx"),
        ("authored/総務/経費精算の手順.docx", "docx"),
        ("markitdown/test.pptx", "pptx"),
        ("markitdown/test.xlsx", "xlsx"),
        ("markitdown/test_blog.html", "html"),
        ("markitdown/test_wikipedia.html", "html"),
        ("markitdown/test_mskanji.csv", "txt"),
    ],
)
def test_sniffing_without_content_type_picks_the_right_kind(relative: str, file_type: str) -> None:
    assert _extract_corpus(relative, None).file_type == file_type


@pytest.mark.parametrize(
    ("blob", "file_type"),
    [
        (b"just some words\nand more", "txt"),
        (b'{"a": ["b", "c"]}', "json"),
        (b"[not json", "txt"),
        (b'<?xml version="1.0"?><root><a>x</a></root>', "xml"),
        (b"<!DOCTYPE html><p>hello</p>", "html"),
        (b"<div><p>hello</p></div>", "html"),
        (b"{\\rtf1\\ansi hello}", "rtf"),
        (b"<3 is a heart", "txt"),
    ],
)
def test_sniffing_small_inputs(blob: bytes, file_type: str) -> None:
    assert extract(blob, None).file_type == file_type


def test_sniffed_markup_that_is_not_well_formed_xml_still_loses_its_tags() -> None:
    result = extract(b"<note><to>Tove</from> <b>hi", None)
    assert "<" not in result.text and "Tove" in result.text and "hi" in result.text


def test_binary_junk_without_content_type_is_refused() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8
    with pytest.raises(ExtractionError):
        extract(png, None)


# ----------------------------------------------------------------------------- HTML


def test_html_drops_scripts_styles_and_page_chrome() -> None:
    html = b"""<!DOCTYPE html><html><head><title>  Page   title </title>
    <style>body { color: red; }</style><script>var x = "<p>fake</p>";</script></head>
    <body><header>Site banner</header><nav><a href="/">Home</a></nav>
    <main><h1>Heading</h1><p>First <b>bold</b> paragraph.<script>alert(1)</script></p>
    <noscript>Enable JS</noscript><div hidden>secret</div><div style="display: none">gone</div>
    <ul><li>one</li><li>two</li></ul></main>
    <aside>Related links</aside><footer>Copyright</footer></body></html>"""
    result = extract(html, "HTML")
    assert result.title == "Page title"
    assert result.file_type == "html"
    assert result.text == "Heading\n\nFirst bold paragraph.\n\none\ntwo"
    for unwanted in (
        "alert",
        "color: red",
        "fake",
        "Enable JS",
        "secret",
        "gone",
        "Site banner",
        "Home",
        "Related",
        "Copyright",
        "<",
        ">",
    ):
        assert unwanted not in result.text


def test_html_without_main_uses_body_and_first_h1_as_title() -> None:
    result = extract(
        b"<html><body><h1>Only  heading</h1><p>a<br>b</p><table><tr><th>k</th><td>v</td></tr></table>"
        b"</body></html>",
        "HTML",
    )
    assert result.title == "Only heading"
    assert result.text == "Only heading\n\na\nb\n\nk | v"


def test_html_meta_charset_shift_jis_is_honoured() -> None:
    html = (
        '<html><head><meta charset="Shift_JIS"><title>社内報</title></head>'
        "<body><p>髙橋さんの記事</p></body></html>"
    )
    result = extract(html.encode("cp932"), "HTML")
    assert result.title == "社内報"
    assert result.text == "髙橋さんの記事"


@needs_corpus
def test_wikipedia_page_keeps_article_text_and_drops_navigation() -> None:
    result = _extract_corpus("markitdown/test_wikipedia.html", "HTML")
    assert result.title == "Microsoft - Wikipedia"
    assert "Microsoft entered the operating system (OS) business in 1980" in result.text
    assert "move to sidebar" not in result.text
    assert "<div" not in result.text and "</" not in result.text


# ----------------------------------------------------------------------------- plain text and encodings


def test_utf8_with_bom_decodes_without_the_bom() -> None:
    result = extract("\ufeff日本語のテキスト\r\nsecond line".encode(), "PLAIN_TEXT")
    assert result.text == "日本語のテキスト\nsecond line"
    assert result.file_type == "txt"


def test_shift_jis_text_decodes() -> None:
    text = "社内規程の改定について。髙橋部長より①②の説明がありました～"
    assert extract(text.encode("cp932"), "PLAIN_TEXT").text == text
    plain = "日本語のテキストです。ひらがなとカタカナを含みます。"
    assert extract(plain.encode("shift_jis"), "PLAIN_TEXT").text == plain


@pytest.mark.parametrize(
    "text", ["日本語のテキストです。ひらがなとカタカナを含みます。", "東京都千代田区", "カタカナ"]
)
def test_euc_jp_text_decodes(text: str) -> None:
    assert extract(text.encode("euc_jp"), "PLAIN_TEXT").text == text


def test_utf16_with_bom_decodes() -> None:
    assert extract("こんにちは world".encode("utf-16"), "PLAIN_TEXT").text == "こんにちは world"


def test_windows_1252_text_decodes() -> None:
    text = "Le café est très bon à Paris, n'est-ce pas? Où est la gare?"
    assert extract(text.encode("cp1252"), "PLAIN_TEXT").text == text


@needs_corpus
def test_cp932_csv_from_corpus_decodes_kanji_only_found_in_cp932() -> None:
    result = _extract_corpus("markitdown/test_mskanji.csv", "CSV")
    assert result.file_type == "csv"
    assert result.text.split("\n") == [
        "名前, 年齢, 住所",
        "佐藤太郎, 30, 東京",
        "三木英子, 25, 大阪",
        "髙橋淳, 35, 名古屋",
    ]


def test_text_is_normalised() -> None:
    result = extract(b"a\r\nb\rc\x00d\n\n\n\n\ne   \n\x0cf", "PLAIN_TEXT")
    assert result.text == "a\nb\ncd\n\ne\n\nf"


def test_too_much_text_raises_extraction_error_mentioning_the_limit() -> None:
    with pytest.raises(ExtractionError, match=r"limit of 1,000 characters"):
        extract(b"x" * 1001, "PLAIN_TEXT", max_text_chars=1000)
    assert len(extract(b"x" * 1000, "PLAIN_TEXT", max_text_chars=1000).text) == 1000


def test_empty_text_document_gives_empty_text() -> None:
    assert extract(b"", "PLAIN_TEXT") == ExtractedText(text="", title=None, file_type="txt")


# ----------------------------------------------------------------------------- CSV, JSON, Markdown


def test_csv_rows_become_lines_of_cells() -> None:
    blob = b'name,comment,score\n"Smith, John","said ""hi""\nthen left",42\n,,\n'
    assert extract(blob, "CSV").text == 'name, comment, score\nSmith, John, said "hi"\nthen left, 42'


def test_tab_separated_csv_is_read_too() -> None:
    assert extract(b"a\tb\tc\n1\t2\t3\n", "CSV").text == "a, b, c\n1, 2, 3"


def test_json_gives_string_values_in_document_order() -> None:
    blob = json.dumps(
        {
            "title": "社内FAQ",
            "items": [{"q": "VPNとは", "id": 3}, {"q": "MFA", "tags": ["a", "b"]}],
            "ok": True,
        },
        ensure_ascii=True,
    ).encode()
    result = extract(blob, "JSON")
    assert result.text == "社内FAQ\nVPNとは\nMFA\na\nb"
    assert result.title == "社内FAQ"
    assert result.file_type == "json"


def test_invalid_json_falls_back_to_raw_text() -> None:
    assert extract(b'{"unterminated": "value', "JSON").text == '{"unterminated": "value'


def test_markdown_loses_front_matter_and_markup_but_keeps_text() -> None:
    blob = (
        "---\nauthor: someone\ntags: [a, b]\n---\n"
        "# 経費精算 *ガイド*\n\n"
        "Some **bold**, _italic_ and ~~old~~ text with a [link text](https://example.com) "
        "and ![diagram](img.png) and `inline_code` in snake_case_name.\n\n"
        "- item one\n1. numbered\n> quoted\n\n"
        "```python\nprint('**kept as is**')\n```\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        "[ref]: https://example.com/ref\n"
        "Escaped \\*stars\\*\n"
    ).encode()
    result = extract(blob, "MD")
    assert result.title == "経費精算 ガイド"
    assert result.file_type == "md"
    assert result.text == (
        "経費精算 ガイド\n\n"
        "Some bold, italic and old text with a link text and diagram and inline_code in snake_case_name.\n\n"
        "item one\nnumbered\nquoted\n\n"
        "print('**kept as is**')\n\n"
        "a | b\n\n1 | 2\n\n"
        "Escaped *stars*"
    )
    assert "author" not in result.text and "https://" not in result.text


def test_markdown_front_matter_title_wins() -> None:
    assert extract(b'---\ntitle: "Front"\n---\n# Heading\n', "MD").title == "Front"


# ----------------------------------------------------------------------------- XML and XSLT


def test_xml_gives_text_nodes_only() -> None:
    blob = (
        '<?xml version="1.0" encoding="Shift_JIS"?>\n<!-- comment -->\n'
        '<doc xmlns:x="urn:x"><x:title>規程集</x:title><p attr="hidden value">Hel<b>lo</b> world</p>'
        "<item>a</item><item>b</item><![CDATA[1 < 2]]></doc>"
    ).encode("cp932")
    result = extract(blob, "XML")
    assert result.text == "規程集\nHello\nworld\na\nb\n1 < 2"
    assert result.title == "規程集"
    assert result.file_type == "xml"
    assert "hidden value" not in result.text and "comment" not in result.text


def test_xslt_gives_literal_text_and_xml_file_type() -> None:
    blob = (
        b'<xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" version="1.0">'
        b'<xsl:template match="/"><h2>My CD Collection</h2><xsl:value-of select="title"/>'
        b"</xsl:template></xsl:stylesheet>"
    )
    result = extract(blob, "XSLT")
    assert result.text == "My CD Collection"
    assert result.file_type == "xml"


def test_xml_entity_expansion_is_refused() -> None:
    billion_laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><lolz>&lol3;</lolz>'
    )
    with pytest.raises(ExtractionError, match="entity"):
        extract(billion_laughs, "XML")


def test_external_entities_are_refused() -> None:
    blob = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    with pytest.raises(ExtractionError, match="entity"):
        extract(blob, "XML")


def test_malformed_xml_raises_extraction_error() -> None:
    with pytest.raises(ExtractionError, match="malformed XML"):
        extract(b"<a><b></a>", "XML")


# ----------------------------------------------------------------------------- RTF


def test_rtf_unicode_escapes_skip_their_fallback_characters() -> None:
    blob = (
        rb"{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0\fswiss Arial;}}{\colortbl;\red255\green0\blue0;}"
        rb"\f0\uc1\u26085?\u26412?\u35486?\par"
        rb"{\uc2\u12354\'82\'a0}x\par "
        rb"Emoji \u-10179?\u-8704? end}"
    )
    result = extract(blob, "RTF")
    assert result.text == "日本語\nあx\nEmoji \U0001f600 end"
    assert result.file_type == "rtf"
    assert "Arial" not in result.text and "red255" not in result.text


def test_rtf_hex_escapes_use_the_ansi_code_page() -> None:
    western = rb"{\rtf1\ansi\ansicpg1252 Caf\'e9 cr\'e8me \'93quoted\'94\par next}"
    assert extract(western, "RTF").text == "Café crème \u201cquoted\u201d\nnext"
    hex_bytes = "".join(f"\\'{b:02x}" for b in "日本語".encode("cp932")).encode()
    japanese = (
        rb"{\rtf1\ansi\ansicpg932 " + hex_bytes + rb"\par \'83e\'83X\'83g}"
    )  # trail bytes may be literal
    assert extract(japanese, "RTF").text == "日本語\nテスト"


def test_rtf_title_comes_from_the_info_group_and_destinations_are_dropped() -> None:
    blob = (
        rb"{\rtf1\ansi{\info{\title Annual \'e9dition}{\author Somebody}}"
        rb"{\*\generator Msftedit 5.41;}{\field{\*\fldinst HYPERLINK \"https://x\"}{\fldrslt link text}}"
        rb"\par Tab\tab here\line and \{braces\} \\ done}"
    )
    result = extract(blob, "RTF")
    assert result.title == "Annual édition"
    assert result.text == "link text\nTab\there\nand {braces} \\ done"


def test_rtf_declared_as_word_is_read_as_rtf() -> None:
    result = extract(rb"{\rtf1\ansi Hello}", "MS_WORD")
    assert (result.text, result.file_type) == ("Hello", "rtf")


# ----------------------------------------------------------------------------- API surface


def test_content_types_match_the_kendra_enum() -> None:
    botocore_session = pytest.importorskip("botocore.session")
    model = botocore_session.get_session().get_service_model("kendra")
    assert set(model.shape_for("ContentType").enum) == CONTENT_TYPES


def test_content_type_is_case_insensitive_and_mime_types_are_accepted() -> None:
    assert extract(b"hello", "plain_text").file_type == "txt"
    assert extract(b"# Hi", "text/markdown; charset=utf-8").file_type == "md"


def test_unknown_content_type_raises_extraction_error() -> None:
    with pytest.raises(ExtractionError, match="unsupported content type"):
        extract(b"hello", "AUDIO")


def test_extracted_text_is_frozen() -> None:
    result = extract(b"hello", "PLAIN_TEXT")
    with pytest.raises(AttributeError):
        result.text = "changed"  # type: ignore[misc]


def test_importing_the_module_does_not_import_heavy_parsers() -> None:
    code = (
        "import sys, connectors.extraction\n"
        "heavy = [m for m in ('pdfminer', 'docx', 'pptx', 'openpyxl', 'selectolax', 'charset_normalizer')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert completed.stdout.strip() == ""
