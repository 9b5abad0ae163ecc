"""Light Markdown to HTML, sanitised by nh3; pure."""

from __future__ import annotations

import re
from html import escape
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markdown_it.utils import EnvType
from markdown_it_pyrs import MarkdownIt as MarkdownItRs

__all__ = [
    "BLOCK_ATTRIBUTES",
    "BLOCK_TAGS",
    "MARKER_RE",
    "parse_marker",
    "render_inline",
    "render_markdown",
    "with_html",
]

#: A traceability marker line: ``<!-- p3 updates: id1,id2 -->`` (the block id is optional).
MARKER_RE = re.compile(r"^<!--\s*(?:(?P<block>[A-Za-z][A-Za-z0-9_-]*)\s+)?updates:\s*(?P<ids>[^<>]*?)\s*-->\s*$")
_ID_RE = re.compile(r"^[A-Za-z0-9._:~-]{1,128}$")
_ALLOWED_SCHEMES = ("http://", "https://", "mailto:")
_TRACED_TAGS = frozenset({"p", "blockquote", "figure", "h1", "h2", "h3", "h4"})
_LINK_REL = "nofollow noopener"


def parse_marker(line: str) -> tuple[str | None, list[str]] | None:
    """Parse one marker line into ``(block id or None, update ids)``; None if it is not a marker."""
    match = MARKER_RE.match(line.strip())
    if match is None:
        return None
    ids = [part for part in re.split(r"[\s,]+", match["ids"]) if part and _ID_RE.match(part)]
    return match["block"], ids


def _keep_attribute(tag: str, attr: str, value: str) -> str | None:
    value = value.replace("\n", " ")
    # nh3 already drops disallowed schemes; this also refuses scheme-less oddities such as "//host".
    if attr in ("href", "src"):
        return value if value.lower().startswith(_ALLOWED_SCHEMES) else None
    if attr == "data-updates":
        ids = value.split()
        return " ".join(ids) if ids and all(_ID_RE.match(i) for i in ids) else None
    if attr == "data-block":
        return value if re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,31}", value) else None
    return value


_INLINE_CLEANER = nh3.Cleaner(
    tags={"a", "em", "strong", "code", "br", "s"},
    attributes={"a": {"href", "title"}},
    attribute_filter=_keep_attribute,
    url_schemes={"http", "https", "mailto"},
    url_relative="deny",
    link_rel=_LINK_REL,
    strip_comments=True,
)

_TRACED_ATTRS = {"data-updates", "data-block"}
#: What a post's HTML may hold (the editor desk's preview tree keeps the same, see server/desk.py).
BLOCK_TAGS = frozenset({
    "p", "h1", "h2", "h3", "h4", "blockquote", "figure", "figcaption", "img", "ul", "ol", "li",
    "a", "em", "strong", "code", "pre", "br", "hr", "s",
})  # fmt: skip
BLOCK_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    **{tag: _TRACED_ATTRS for tag in _TRACED_TAGS},
}
_BLOCK_CLEANER = nh3.Cleaner(
    tags=set(BLOCK_TAGS),
    attributes=BLOCK_ATTRIBUTES,
    attribute_filter=_keep_attribute,
    url_schemes={"http", "https", "mailto"},
    url_relative="deny",
    link_rel=_LINK_REL,
    strip_comments=True,
)  # fmt: skip

# markdown-it.rs (Rust): linear on hostile input where markdown-it-py took ~90 ms for 9,000 "[" (see
# docs/performance.md, "Rendering"). Only paragraphs and inline rules: "# x" or "- x" stay text.
_inline_md = MarkdownItRs("zero")
_inline_md.enable_many(
    ["paragraph", "emphasis", "link", "autolink", "backticks", "escape", "entity", "newline", "strikethrough",
     "html_inline"]
)  # fmt: skip
_SOFT_BREAK = re.compile(r"(?<!<br>)\n")
#: More tags than this (~1,000 elements; 160 links with emphasis make ~600) and the text is shown as plain text.
_MAX_TAGS = 2_000


def render_inline(text: str) -> str:
    """Render one update's light Markdown (links, emphasis, line breaks) to safe inline HTML.

    Raw HTML tags in ``text`` are removed (scripts and styles with their content); links keep only
    http(s)/mailto targets and get ``rel="nofollow noopener"``. No block elements are produced: every line
    break is a ``<br>``, a blank line two. Linear in the text's length (10 KB of hostile text: under 5 ms); a
    text that would make more than ~1,000 elements is shown as typed, escaped, so the sanitiser stays cheap.
    """
    html: str = _inline_md.render(text.strip(), xhtml=False).strip()
    if html.count("<") > _MAX_TAGS:  # hostile: the cleaner's cost grows with elements; show the text as typed
        return _SOFT_BREAK.sub("<br>\n", escape(text.strip(), quote=False))
    html = html.removeprefix("<p>").removesuffix("</p>").replace("</p>\n<p>", "\n\n")
    # Soft breaks become <br> after cleaning (a <br> per line cost the cleaner more than the parse); no
    # attribute keeps a newline (_keep_attribute), so every "\n" left is text.
    return _SOFT_BREAK.sub("<br>\n", str(_INLINE_CLEANER.clean(html)).strip())


def with_html(record: dict[str, Any]) -> dict[str, Any]:
    """Give an update record written before ``html`` was stored its rendered text (in place; returns it)."""
    if "html" not in record:
        record["html"] = render_inline(str(record.get("text") or ""))
    return record


# Raw HTML is parsed (markers are HTML comments) and then reduced by the cleaner to what it allows.
_block_md = MarkdownIt("commonmark", {"html": True}).enable("strikethrough")


def _is_figure(tokens: list[Token], i: int) -> bool:
    """True when tokens[i] opens a paragraph holding nothing but one image."""
    if tokens[i].type != "paragraph_open" or i + 2 >= len(tokens):
        return False
    children = [c for c in tokens[i + 1].children or [] if not (c.type == "text" and not c.content.strip())]
    return len(children) == 1 and children[0].type == "image"


def _with_figures_and_markers(tokens: list[Token]) -> list[Token]:
    """Drop marker comments onto the next block as data attributes; turn lone images into figures."""
    out: list[Token] = []
    pending: tuple[str | None, list[str]] | None = None
    i = 0
    while i < len(tokens):
        token = tokens[i]
        marker = parse_marker(token.content) if token.type == "html_block" else None
        if marker is not None:
            pending = marker
            i += 1
            continue
        if token.nesting == 1 and token.level == 0 and pending is not None:
            block, ids = pending
            pending = None
            if ids:
                token.attrSet("data-updates", " ".join(ids))
                if block:
                    token.attrSet("data-block", block)
        if _is_figure(tokens, i):
            image = next(c for c in tokens[i + 1].children or [] if c.type == "image")
            caption = str(image.attrs.get("title") or "")
            token.tag = "figure"
            out.extend([token, tokens[i + 1]])
            if caption:
                text = Token("text", "", 0, content=caption)
                out.extend(
                    [Token("figcaption_open", "figcaption", 1), text, Token("figcaption_close", "figcaption", -1)]
                )
            closing = tokens[i + 2]
            closing.tag = "figure"
            out.append(closing)
            i += 3
            continue
        out.append(token)
        i += 1
    return out


def render_markdown(md: str) -> str:
    """Render a whole post's Markdown to sanitised HTML.

    Headings, paragraphs, block quotes, lists, links and images are kept; a paragraph holding only an
    image becomes ``<figure>`` with the image title as ``<figcaption>``. A marker line
    ``<!-- p3 updates: a,b -->`` before a block becomes ``data-updates="a b" data-block="p3"`` on it.
    Raw HTML is cut down to the allowed tags and attributes: scripts (with their content), styles and event
    handlers never survive; links and images keep only http(s) (and mailto) URLs; links get
    ``rel="nofollow noopener"``.
    """
    env: EnvType = {}
    tokens = _with_figures_and_markers(_block_md.parse(md, env))
    html: str = _block_md.renderer.render(tokens, _block_md.options, env)
    return str(_BLOCK_CLEANER.clean(html))
