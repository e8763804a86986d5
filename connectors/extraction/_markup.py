"""Markup formats: HTML (main-content text by selectolax) and XML/XSLT (text nodes by expat)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

from ._decode import _decode_text
from ._text import _CONTROL_RE, _MANY_NEWLINES_RE, _WHITESPACE_RE
from ._types import ExtractionError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from selectolax.lexbor import LexborHTMLParser, LexborNode

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
    tree = LexborHTMLParser(_flatten_deep(html))
    title = _html_title(tree)
    text = ""
    for root in _html_content_roots(tree):
        text = "\n\n".join(_html_text(node) for node in root)
        if text.strip():
            break
    return text, title


# Deeper elements are not nested further (Chromium's parser stops at 512 too). An HTML parser checks
# the stack of open elements at every tag, so nesting n tags deep costs n² without a bound.
MAX_HTML_DEPTH: Final = 512
_TAG_RE: Final = re.compile(r"<(/?)([A-Za-z][^\s/>]*)[^>]*?(/?)>")
_VOID_TAGS: Final = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
)


def _flatten_deep(html: str, max_depth: int = MAX_HTML_DEPTH) -> str:
    """The page with the tags that open (and close) elements deeper than ``max_depth`` removed, their
    text kept. Depth is counted naively (every open tag not closed yet), which can only overcount."""
    depth = deepest = 0
    tags = []
    for match in _TAG_RE.finditer(html):
        closing, name, self_closing = match.group(1), match.group(2).lower(), match.group(3)
        if self_closing or name in _VOID_TAGS:
            continue
        depth = max(depth - 1, 0) if closing else depth + 1
        deepest = max(deepest, depth)
        tags.append((match, depth + (1 if closing else 0)))
    if deepest <= max_depth:
        return html
    kept, at = [], 0
    for match, level in tags:
        if level > max_depth:
            kept.append(html[at : match.start()])
            at = match.end()
    kept.append(html[at:])
    return "".join(kept)


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
    if tree.css_first("article") is not None:
        yield _outermost(tree.root, "article")
    if tree.body is not None:
        yield [tree.body]
    if tree.root is not None:
        yield [tree.root]


def _outermost(root: LexborNode | None, tag: str) -> list[LexborNode]:
    """The ``tag`` elements not inside another, in document order: one walk, without descending into
    a found one (asking each element for its ancestors is quadratic in nesting depth)."""
    found: list[LexborNode] = []
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if node.tag == tag:
            found.append(node)
            continue
        stack.extend(reversed(list(node.iter())))
    return found


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
