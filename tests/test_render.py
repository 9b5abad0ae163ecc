"""Light Markdown rendering: what survives, what never does, and the traceability markers."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.render import parse_marker, render_inline, render_markdown
from workers.post import markdown_to_html, sources_from_markdown

ATTACKS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    '<img src=x onerror="alert(1)">',
    '<img src="https://ok.example/a.png" onerror=alert(1)>',
    "<svg onload=alert(1)>",
    '<a href="javascript:alert(1)" onclick="alert(1)">x</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "![x](javascript:alert(1))",
    '<iframe src="https://evil.example"></iframe>',
    '<p style="background:url(javascript:alert(1))">x</p>',
    "<scr<script>ipt>alert(1)</script>",
]


def _tags(html: str) -> set[str]:
    return {m.lower() for m in re.findall(r"<\s*([a-zA-Z][a-zA-Z0-9]*)", html)}


def test_inline_keeps_emphasis_links_and_line_breaks() -> None:
    html = render_inline("A *big* day for **councils**\nsee [the slides](https://example.org/s) or <https://a.example>")
    assert "<em>big</em>" in html
    assert "<strong>councils</strong>" in html
    assert "<br>" in html
    assert '<a href="https://example.org/s" rel="nofollow noopener">the slides</a>' in html
    assert '<a href="https://a.example" rel="nofollow noopener">https://a.example</a>' in html


def test_inline_makes_no_blocks() -> None:
    html = render_inline("# not a heading\n\n- not a list\n\n> not a quote")
    assert _tags(html) <= {"br"}


@pytest.mark.parametrize("href", ["mailto:press@example.org", "http://example.org/x", "https://example.org/"])
def test_inline_allows_http_https_mailto(href: str) -> None:
    assert f'href="{href}"' in render_inline(f"[x]({href})")


@pytest.mark.parametrize(
    "href", ["javascript:alert(1)", "/relative", "#anchor", "data:text/html,hi", "ftp://x.example/"]
)
def test_inline_drops_other_hrefs(href: str) -> None:
    assert "href" not in render_inline(f'[x]({href}) <a href="{href}">y</a>')


@pytest.mark.parametrize("attack", ATTACKS)
def test_inline_never_lets_script_or_handlers_through(attack: str) -> None:
    html = render_inline(f"before {attack} after").lower()
    assert "<script" not in html
    assert "onerror=" not in html and "onload=" not in html and "onclick=" not in html
    assert "javascript:" not in html.replace("(javascript:alert(1))", "")  # literal Markdown text is harmless
    assert _tags(html) <= {"a", "em", "strong", "code", "br", "s"}
    assert "after" in html


@pytest.mark.parametrize("attack", ATTACKS)
def test_markdown_never_lets_script_or_handlers_through(attack: str) -> None:
    html = render_markdown(f"para {attack}\n\n{attack}\n\n> {attack}\n").lower()
    assert "<script" not in html and "<iframe" not in html and "<svg" not in html
    assert not re.search(r"\son\w+=", html)
    assert 'href="javascript' not in html and 'src="javascript' not in html and "style=" not in html


def test_markdown_renders_headings_quotes_lists_and_figures() -> None:
    md = (
        "## Session\n\nA *para* with [a link](https://example.org).\n\n> Quoted.\n>\n> — Jane Doe, CEO\n\n"
        "- one\n- two\n\n"
        '![Alt text](<https://img.example.org/a.jpg> "The caption")\n'
    )
    html = render_markdown(md)
    assert "<h2>Session</h2>" in html
    assert "<blockquote>\n<p>Quoted.</p>\n<p>— Jane Doe, CEO</p>\n</blockquote>" in html
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in html
    assert '<a href="https://example.org" rel="nofollow noopener">a link</a>' in html
    figure = re.search(r"<figure>(.*?)</figure>", html, re.S)
    assert figure is not None
    assert 'src="https://img.example.org/a.jpg"' in figure[1]
    assert 'alt="Alt text"' in figure[1]
    assert "<figcaption>The caption</figcaption>" in figure[1]


def test_image_inside_text_stays_inline() -> None:
    html = render_markdown("Look ![a](https://img.example.org/a.jpg) here\n")
    assert "<figure" not in html and "<img" in html


def test_markers_become_data_attributes_on_the_next_block() -> None:
    md = (
        "<!-- p1 updates: u1,u2 -->\nFirst para.\n\n"
        "<!-- q1 updates: u3 -->\n> A quote.\n\n"
        "<!-- s1 updates: u4 u5 -->\n## Heading\n\n"
        '<!-- img1 updates: u6 -->\n![alt](<https://i.example.org/x.png> "cap")\n\n'
        "Untraced para.\n"
    )
    html = markdown_to_html(md)
    assert '<p data-updates="u1 u2" data-block="p1">First para.</p>' in html
    assert '<blockquote data-updates="u3" data-block="q1">' in html
    assert '<h2 data-updates="u4 u5" data-block="s1">Heading</h2>' in html
    assert '<figure data-updates="u6" data-block="img1">' in html
    assert "<p>Untraced para.</p>" in html
    assert "<!--" not in html
    assert sources_from_markdown(md) == {"p1": ["u1", "u2"], "q1": ["u3"], "s1": ["u4", "u5"], "img1": ["u6"]}


def test_marker_survives_an_edit_of_its_block() -> None:
    md = "<!-- p2 updates: a,b -->\nThe reporter wrote this.\n"
    edited = md.replace("The reporter wrote this.", "An editor rewrote this, *with feeling*.")
    assert '<p data-updates="a b" data-block="p2">An editor rewrote this, <em>with feeling</em>.</p>' in (
        markdown_to_html(edited)
    )


def test_hostile_marker_ids_are_dropped() -> None:
    html = render_markdown('<!-- p1 updates: a"onmouseover="x,b -->\nText\n')
    assert "onmouseover" not in html
    assert parse_marker('<!-- p1 updates: ok,"bad" -->') == ("p1", ["ok"])
    assert parse_marker("not a marker") is None
    assert parse_marker("<!-- updates: x -->") == (None, ["x"])


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>/=\"' abcdefhijlnoprstvx:()[]!*_-\n")), max_size=120))
def test_fuzzed_input_never_yields_script_or_handlers(text: str) -> None:
    for html in (render_inline(text), render_markdown(text)):
        lowered = html.lower()
        assert "<script" not in lowered
        assert not re.search(r"<[^>]*\son\w*\s*=", lowered)
        assert 'href="javascript' not in lowered


def test_text_that_would_make_over_a_thousand_elements_is_shown_as_typed() -> None:
    hostile = "*_" * 3_000 + "\n<script>alert(1)</script>"
    html = render_inline(hostile)
    assert "<em>" not in html and "<script" not in html
    assert html.endswith("<br>\n&lt;script&gt;alert(1)&lt;/script&gt;")
    ordinary = "The *council* voted on [the plan](https://example.org/a) today. " * 160  # ~300 elements
    assert render_inline(ordinary).count("<em>") == 160
