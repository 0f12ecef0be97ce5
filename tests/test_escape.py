"""Tests for csp_analysis.escape, the one escaping point between data and the page."""
from __future__ import annotations

from csp_analysis import escape as E


def test_escape_html_text_and_attributes():
    assert E.escape('<b a="1">&\'') == "&lt;b a=&quot;1&quot;&gt;&amp;&#x27;"
    assert E.escape(None) == "" and E.escape(3) == "3"


def test_escape_md_makes_data_inert_in_narration():
    evil = "# Title\n* [x](javascript:alert(1)) <script>alert(1)</script> `code` _em_"
    out = E.render_markdown("Area: " + E.escape_md(evil))
    assert "<script>" not in out and "<a " not in out and "<h1" not in out and "<em>" not in out
    assert "<code>" not in out and "<li>" not in out
    assert "&lt;script&gt;" in out  # shown as written
    assert E.escape_md("a\r\nb\u2028c") == "a b c"


def test_markdown_has_no_raw_html_links_or_images_and_unique_heading_ids():
    r = E.MarkdownRenderer()
    out = r.render("## Analysis window\n\n<div onclick=x>hi</div>\n\n[site](https://x.org) ![i](a.png)")
    assert '<h2 id="analysis-window">' in out
    assert "<div" not in out and "<a " not in out and "<img" not in out
    assert '<h2 id="analysis-window-2">' in r.render("## Analysis window")
    assert "<strong>bold</strong>" in E.render_markdown("**bold**")


def test_mpl_text_escapes_dollars_and_code_fence_cannot_be_closed():
    assert E.mpl_text("cost $5") == r"cost \$5" and E.mpl_text(None) == ""
    body = "a ``` b ```` c"
    fence = E.code_fence(body, "text")
    assert fence.startswith("`````text\n") and fence.endswith("\n`````")
    assert E.code_fence("plain").startswith("```\n")
