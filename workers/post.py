"""The reflections post: compiled blocks to editable Markdown, sanitised HTML and BlogPosting JSON-LD; pure.

Traceability: in the Markdown every traced block is preceded by a marker line of its own,
``<!-- p3 updates: id1,id2 -->`` (block id, then the comma-separated ids of the updates it came from).
The marker is an HTML comment, so editors can rewrite the block below it freely and it survives; it is
invisible in any Markdown preview. ``markdown_to_html`` turns it into ``data-updates="id1 id2"`` and
``data-block="p3"`` on the block (p, blockquote, figure or h2), and ``sources_from_markdown`` reads the
``sources`` map back from edited Markdown. Block ids are ``sN`` (session heading), ``pN`` (paragraph),
``qN`` (quote) and ``imgN`` (photo). Blocks written from event data alone (a session's line-up when it
stands apart, the closing line) have no marker.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from server.models import Event, Person
from server.render import parse_marker, render_markdown

__all__ = [
    "Block",
    "Draft",
    "Figure",
    "Heading",
    "Paragraph",
    "Quotation",
    "blog_posting",
    "escape_text",
    "event_jsonld",
    "make_draft",
    "markdown_to_html",
    "sources_from_markdown",
    "to_markdown",
]


@dataclass(frozen=True)
class Heading:
    """A session heading (``## Title``)."""

    id: str
    text: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of inline Markdown; ``sources`` may be empty for text written from event data."""

    id: str
    text: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Quotation:
    """A block quote of inline Markdown with an optional attribution line (without the dash)."""

    id: str
    text: str
    attribution: str | None
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Figure:
    """A photo with its alt text and optional caption."""

    id: str
    url: str
    alt: str
    caption: str | None
    sources: tuple[str, ...]


Block = Heading | Paragraph | Quotation | Figure


@dataclass(frozen=True)
class Draft:
    """A compiled day: what the API stores and answers as the draft reflections post."""

    title: str
    markdown: str
    html: str
    jsonld: dict[str, object]
    sources: dict[str, list[str]]
    authors: list[str]
    day: dt.date
    event: str
    #: ``[{"into": update id, "updates": [ids folded into it]}]``: repeats the compiler merged.
    merged: list[dict[str, object]] = field(default_factory=list)
    #: ``[{"update": id, "why": reason}]``: updates the compiler left out.
    dropped: list[dict[str, object]] = field(default_factory=list)


_SPECIALS_RE = re.compile(r"([\\`*_\[\]<>#!|~])")
_LIST_START_RE = re.compile(r"^([*+-])(?=\s|$)")
_ORDERED_START_RE = re.compile(r"^(\d{1,9})([.)])(?=\s|$)")
_BREAK_RE = re.compile(r"^([*_-])(?:\s*\1){2,}\s*$")


def escape_text(text: str) -> str:
    """Escape plain text (a name, a title) so Markdown shows it literally, on one line."""
    return _guard_block_start(_SPECIALS_RE.sub(r"\\\1", " ".join(text.split())))


def _guard_block_start(text: str) -> str:
    """Keep one line of inline Markdown from opening a block (heading, list, quote, HTML, fence, rule)."""
    text = " ".join(text.split())
    if _BREAK_RE.match(text) or _LIST_START_RE.match(text):
        return "\\" + text
    if text[:1] in ("#", ">", "<", "=") or text.startswith(("```", "~~~")):
        return "\\" + text
    return _ORDERED_START_RE.sub(r"\1\\\2", text, count=1)


def _marker(block: Block) -> str:
    return f"<!-- {block.id} updates: {','.join(block.sources)} -->\n" if block.sources else ""


def _image_markdown(figure: Figure) -> str:
    alt = re.sub(r"([\\\[\]])", r"\\\1", " ".join(figure.alt.split()))
    url = figure.url.replace("<", "%3C").replace(">", "%3E").replace(" ", "%20")
    title = ""
    if figure.caption:
        caption = " ".join(figure.caption.split()).replace("\\", "\\\\").replace('"', '\\"')
        title = f' "{caption}"'
    return f"![{alt}](<{url}>{title})"


def _block_markdown(block: Block) -> str:
    match block:
        case Heading():
            body = f"## {escape_text(block.text)}"
        case Paragraph():
            body = _guard_block_start(block.text)
        case Quotation():
            body = f"> {_guard_block_start(block.text)}"
            if block.attribution:
                body += f"\n>\n> — {block.attribution}"
        case Figure():
            body = _image_markdown(block)
    return _marker(block) + body


def to_markdown(blocks: Sequence[Block]) -> str:
    """The post body as Markdown for editors: blocks separated by blank lines, each traced one with its marker."""
    return "\n\n".join(_block_markdown(b) for b in blocks) + "\n"


def markdown_to_html(md: str) -> str:
    """Render (possibly edited) post Markdown to sanitised HTML, keeping markers as ``data-updates``."""
    return render_markdown(md)


def sources_from_markdown(md: str) -> dict[str, list[str]]:
    """The ``sources`` map (block id to update ids) carried by the marker lines of ``md``.

    Markers without a block id are numbered ``b1``, ``b2``... in order; a repeated block id keeps its first.
    """
    sources: dict[str, list[str]] = {}
    anonymous = 0
    for line in md.splitlines():
        parsed = parse_marker(line)
        if parsed is None:
            continue
        block, ids = parsed
        if block is None:
            anonymous += 1
            block = f"b{anonymous}"
        sources.setdefault(block, ids)
    return sources


def event_jsonld(event: Event) -> dict[str, object]:
    """The schema.org ``Event`` that posts about the conference point to (their ``about``)."""
    about: dict[str, object] = {
        "@type": "Event",
        "name": event.title,
        "startDate": event.starts_on.isoformat(),
        "endDate": event.ends_on.isoformat(),
    }
    if event.venue:
        about["location"] = {"@type": "Place", "name": event.venue}
    return about


def blog_posting(
    title: str,
    authors: Sequence[str],
    event: Event,
    *,
    date_published: dt.datetime | None = None,
    date_modified: dt.datetime | None = None,
    article_body: str | None = None,
    url: str | None = None,
    mentions: Sequence[Person] = (),
    images: Sequence[Figure] = (),
) -> dict[str, object]:
    """Schema.org ``BlogPosting`` JSON-LD for the post, ``about`` the event; dates only when given.

    ``mentions`` are the speakers (a ``Person`` with ``jobTitle`` and ``affiliation``), ``images`` the day's
    photos (``ImageObject`` with caption); each only when given (the page adds the publisher).

    The caller must escape ``</`` when embedding the JSON in a ``<script>`` element.
    """
    about = event_jsonld(event)
    doc: dict[str, object] = {
        "@context": "https://schema.org",
        "@type": "BlogPosting",
        "headline": title,
        "author": [{"@type": "Person", "name": name} for name in authors],
        "about": about,
    }
    if date_published is not None:
        doc["datePublished"] = date_published.isoformat()
    if date_modified is not None:
        doc["dateModified"] = date_modified.isoformat()
    if article_body is not None:
        doc["articleBody"] = article_body
    if url is not None:
        doc["url"] = url
    if mentions:
        doc["mentions"] = [_person_jsonld(p) for p in mentions]
    if images:
        doc["image"] = [
            {"@type": "ImageObject", "url": f.url, **({"caption": f.caption} if f.caption else {})} for f in images
        ]
    return doc


def _person_jsonld(person: Person) -> dict[str, object]:
    doc: dict[str, object] = {"@type": "Person", "name": person.name}
    if person.role:
        doc["jobTitle"] = person.role
    if person.organisation:
        doc["affiliation"] = {"@type": "Organization", "name": person.organisation}
    return doc


def make_draft(
    title: str,
    blocks: Sequence[Block],
    authors: Sequence[str],
    event: Event,
    day: dt.date,
    *,
    merged: Sequence[dict[str, object]] = (),
    dropped: Sequence[dict[str, object]] = (),
    mentions: Sequence[Person] = (),
) -> Draft:
    """Assemble the draft: Markdown, its HTML, JSON-LD, the sources of every traced block, what was left out."""
    markdown = to_markdown(blocks)
    figures = [b for b in blocks if isinstance(b, Figure)]
    return Draft(
        title=title,
        markdown=markdown,
        html=markdown_to_html(markdown),
        jsonld=blog_posting(title, authors, event, mentions=mentions, images=figures),
        sources={b.id: list(b.sources) for b in blocks if b.sources},
        authors=list(authors),
        day=day,
        event=event.id,
        merged=list(merged),
        dropped=list(dropped),
    )
