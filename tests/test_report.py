"""Tests for csp_analysis.report: narration is rendered by the one escaping point
(csp_analysis.escape) with no raw HTML, headings keep unique ids, the footer's
parameters block cannot be broken out of, and parameter warnings are shown."""
from __future__ import annotations

from pathlib import Path

import pytest

from csp_analysis import report, store


@pytest.fixture()
def shown(monkeypatch):
    out: list[str] = []
    monkeypatch.setattr(report, "_display_html", lambda s, plain=None: out.append(s))
    return out


def _ctx(tmp_path: Path, extra: str = "", name: str = "Test <b>bold</b> & co"):
    db = tmp_path / "s.duckdb"
    con = store.connect(db)
    con.execute("INSERT INTO lad_lookup VALUES ('X08000001', 'Riverton <i>x</i>', NULL, NULL, 'X23000001', "
                "'Synthshire', 't')")
    con.close()
    pdir = tmp_path / "params"
    pdir.mkdir()
    (pdir / "t.yaml").write_text(f"name: '{name}'\nslug: t\nlad_codes: [X08000001]\nforces: [synthshire]\n"
                                 f"window: {{start: 2022-01, end: 2022-12}}\n{extra}")
    return report.start_report("t", "01_trends", params_dir=pdir, store=db, output_dir=tmp_path / "out")


def test_say_renders_markdown_without_raw_html(shown):
    report.markdown("## A heading\n\nSome **bold** text <script>alert(1)</script> and $x$.")
    [h] = shown
    assert '<h2 id="a-heading">A heading</h2>' in h and "<strong>bold</strong>" in h
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in h and "<script>" not in h
    assert "tex2jax_ignore" in h  # the page's MathJax leaves '$x$' from data alone


def test_title_escapes_names_and_shows_parameter_warnings(tmp_path, shown):
    ctx = _ctx(tmp_path)
    try:
        ctx.title("Trends")
        ctx.say("## Summary")
        ctx.say("## Summary")
    finally:
        ctx.con.close()
    title = shown[0]
    assert "<b>" not in title and "<i>" not in title
    assert "Test &lt;b&gt;bold&lt;/b&gt; &amp; co" in title and "Riverton &lt;i&gt;x&lt;/i&gt;" in title
    assert "Checks on the parameters" in title and "no street-level data for force" in title
    assert '<h2 id="summary">' in shown[1] and '<h2 id="summary-2">' in shown[2]


def test_footer_parameters_block_cannot_be_closed_from_the_yaml(tmp_path, shown):
    # a block scalar line '  ```' would close a plain ``` fence (CommonMark allows 3 spaces of indent)
    ctx = _ctx(tmp_path, extra="description: |\n  ```\n  <script>alert(1)</script>\n")
    try:
        ctx.footer()
    finally:
        ctx.con.close()
    h = shown[-1]
    assert "<script>" not in h and "&lt;script&gt;" in h
    assert h.count("<pre>") == 1 and "language-yaml" in h


def test_start_report_refuses_a_path_as_partnership(tmp_path):
    from csp_analysis import params

    with pytest.raises(params.ParamsError, match="not a partnership slug"):
        report.start_report("../../etc/x", "01_trends", params_dir=tmp_path)
