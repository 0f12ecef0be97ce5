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


def _png_size(png: bytes) -> tuple[int, int]:
    import io

    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        return im.size


def _tight(fig) -> tuple[int, int]:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", facecolor="white")
    return _png_size(buf.getvalue())


def test_render_png_crops_like_a_tight_bounding_box_with_one_draw(monkeypatch):
    """render_png gives the inline backend's tight crop (within a few pixels) from a single draw,
    keeps labels that stick out of the figure, and falls back to savefig's tight box when content
    lies beyond even the room it draws."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    draws = []
    real_draw = Figure.draw
    monkeypatch.setattr(Figure, "draw", lambda self, r: (draws.append(1), real_draw(self, r))[1])

    def fig_with(left: float, long_name: str = "a very long category name indeed"):
        fig, ax = plt.subplots(figsize=(6, 3), dpi=100)
        ax.plot([1, 2, 3], [3, 1, 2], label="series")
        ax.set_yticks([1, 2, 3], ["one", "two", long_name])
        ax.set_title("Title")
        ax.legend()
        fig.subplots_adjust(left=left)
        return fig

    try:
        # content inside the figure: cropped to it, one draw
        fig = fig_with(0.6)
        draws.clear()
        png = report.render_png(fig)
        assert len(draws) == 1
        w, h = _png_size(png)
        tw, th = _tight(fig)
        assert w < 600 and h < 300 and abs(w - tw) <= 6 and abs(h - th) <= 6
        # figure sizes that are not a whole number of pixels (as the density maps' 4.6 * 2 + 1.2
        # inches, 1039.9999... pixels): still one draw
        for size in ((6.373, 3.137), (4.6 * 2 + 1.2, 5.651807607372612)):
            fig = fig_with(0.6)
            fig.set_size_inches(*size)
            draws.clear()
            report.render_png(fig)
            assert len(draws) == 1, size
        # a label sticking out on the left is drawn, not clipped: wider than the figure, as "tight" is
        fig = fig_with(0.05)
        draws.clear()
        w, h = _png_size(report.render_png(fig))
        assert len(draws) == 1
        tw, th = _tight(fig)
        assert w > 600 and abs(w - tw) <= 6 and abs(h - th) <= 6
        # a label longer than the room drawn reaches its edge: savefig's tight box, nothing clipped
        fig = fig_with(0.05, long_name="a category name so long that it runs past all the room drawn " * 2)
        w, h = _png_size(report.render_png(fig))
        tw, th = _tight(fig)
        assert (w, h) == (tw, th) and w > 600 + 100 * report.OVERHANG_INCHES[0]
    finally:
        plt.close("all")


def test_show_emits_a_cropped_png_with_alt_text(tmp_path, shown):
    import base64
    import re

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ctx = _ctx(tmp_path)
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot([1, 2, 3], [3, 1, 2], label="Records")
    ax.set_title("Records <by> month")
    ctx.show(fig)
    html = shown[-1]
    assert "<figcaption>Records &lt;by&gt; month</figcaption>" in html and 'alt="Records &lt;by&gt; month' in html
    png = base64.b64decode(re.search(r"base64,([^']+)'", html).group(1))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = _png_size(png)
    assert 300 < w < 600 and 150 < h < 300
    assert not plt.get_fignums()  # closed
