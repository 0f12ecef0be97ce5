"""The report page (csp_analysis.html): offline, navigable, printable; tables with captions and scopes."""
from __future__ import annotations

import re
from types import SimpleNamespace

import nbformat
import pandas as pd
import pytest
from bs4 import BeautifulSoup

from csp_analysis import html as H
from csp_analysis import report

EXTERNAL = re.compile(r"^\s*(https?:)?//", re.I)


def _notebook():
    nb = nbformat.v4.new_notebook()
    md = nbformat.v4.new_markdown_cell
    code = nbformat.v4.new_code_cell
    figure = ("<figure class='csp-chart'><img src='data:image/png;base64,iVBORw0KGgo=' "
              "alt=\"Line chart of crimes per month\"><figcaption>Crimes</figcaption></figure>")
    cells = [
        md("# Crime trends: Northtown\n\n**Area:** Northtown. Maths stays text: $x^2$."),
        md("## Summary\n\nCrime fell. Data from [data.police.uk](https://data.police.uk/data/)."),
        code("ctx.show(fig)", outputs=[
            nbformat.v4.new_output("display_data", data={"text/html": figure, "text/plain": "<Figure>"}),
            nbformat.v4.new_output("stream", name="stderr", text="UserWarning: noisy\n")]),
        md("#### Method\n\nA detail three levels down."),
        md("## Summary\n\nThe same heading twice."),
        md("## Hot spots & places\n\nWhere."),
        md("---\n\n#### About this report\n\nProvenance."),
    ]
    nb.cells = cells
    return nb


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    out = tmp_path_factory.mktemp("html") / "01_trends.html"
    H.render_html(_notebook(), out)
    text = out.read_text(encoding="utf-8")
    return text, BeautifulSoup(text, "html.parser")


def test_offline_no_script_no_external_resources(page):
    text, soup = page
    assert not soup.find_all("script") and "mathjax" not in text.lower() and "require.js" not in text
    assert not soup.find_all("link")  # styles are inline
    for el in soup.find_all(src=True):
        assert not EXTERNAL.match(el["src"]), el
    for el in soup.find_all(href=True):
        if EXTERNAL.match(el["href"]):
            assert el.name == "a", el  # only links the reader clicks
    assert "@import" not in text and not re.search(r"url\(\s*['\"]?https?:", text)
    assert soup.find("style") and "UserWarning" not in text  # stderr dropped


def test_shell_landmarks_skip_link_back_link_title(page):
    text, soup = page
    assert text.startswith("<!DOCTYPE html>") and soup.html["lang"] == "en-GB"
    (main,) = soup.find_all("main")
    assert main["id"] == "main-content" and H.SHELL_MARKER in text
    skip = soup.select_one("a.csp-skip")
    assert skip["href"] == "#main-content" and skip.find_parent("header")
    back = soup.select_one("nav.csp-back a")
    assert back["href"] == "../index.html" and "index" in back.get_text()
    assert soup.title.get_text() == "Crime trends: Northtown · csp-analysis"
    # everything visible is in a landmark: banner, main (the TOC nav is inside main)
    assert [c.name for c in soup.body.find_all(recursive=False)] == ["header", "main"]


def test_headings_in_order_ids_unique_toc_links_every_section(page):
    _, soup = page
    levels = [int(h.name[1]) for h in soup.find_all(re.compile("^h[1-6]$"))]
    assert levels[0] == 1 and all(b <= a + 1 for a, b in zip(levels, levels[1:])), levels
    ids = [el["id"] for el in soup.find_all(id=True)]
    assert len(ids) == len(set(ids))
    assert not soup.select("a.anchor-link")  # no pilcrow permalinks
    toc = soup.select_one("nav.csp-toc")
    sections = [h for h in soup.find_all("h2") if not h.find_parent("nav")]
    links = [a["href"] for a in toc.select("ol a")]
    assert links == [f"#{h['id']}" for h in sections] and len(links) == 3
    assert [a.get_text() for a in toc.select("ol a")] == ["Summary", "Summary", "Hot spots & places"]
    # the contents come after the title block and before the first section
    assert toc.find_previous("h1") is not None
    assert next(h for h in toc.find_all_next("h2") if not h.find_parent("nav")) is sections[0]


def test_print_stylesheet(page):
    text, _ = page
    css = H.page_css()
    assert css in text
    assert re.search(r"@page\s*{[^}]*size:\s*A4", css) and "counter(page)" in css
    pr = css[css.index("@media print"):]
    for rule in ("break-inside: avoid", "display: table-header-group", ".csp-toc", ".csp-back",
                 'a[href^="http"]::after'):
        assert rule in pr, rule


def test_wrap_page_for_the_index_scopes_headers_and_has_no_back_link():
    body = ("<h1>Reports</h1><table><thead><tr><th>Partnership</th><th>Trends</th></tr></thead>"
            "<tbody><tr><td><b>A</b></td><td>ok</td></tr></tbody></table>")
    page = H.wrap_page(body, title="Community Safety Partnership reports", back_href=None, toc=False)
    soup = BeautifulSoup(page, "html.parser")
    assert soup.title.get_text() == "Community Safety Partnership reports"
    assert not soup.select("nav.csp-back") and not soup.select("nav.csp-toc") and len(soup.find_all("main")) == 1
    assert [th["scope"] for th in soup.find_all("th")] == ["col", "col"]
    whole = H.wrap_page("<!doctype html><html><head><style>p{}</style></head><body><main>" + body
                        + "</main></body></html>", back_href=None)
    ws = BeautifulSoup(whole, "html.parser")
    assert len(ws.find_all("main")) == 1 and len(ws.find_all("style")) == 1 and ws.title.get_text().startswith("Reports")
    body_rowhead = "<table><tr><th>Row</th><td>1</td></tr></table>"
    assert BeautifulSoup(H.wrap_page(body_rowhead), "html.parser").find("th")["scope"] == "row"


def test_html_table_caption_scopes_and_escaping():
    df = pd.DataFrame({"Area <b>": ["A&B", None], "n": [1, 2]}, index=pd.Index(["x", "y"], name="key"))
    t = report.html_table(df, caption_html="<b>Cap</b>")
    soup = BeautifulSoup(t, "html.parser")
    assert soup.table.caption.decode_contents() == "<b>Cap</b>"
    assert [th["scope"] for th in soup.find_all("th")] == ["col", "col"]
    assert "Area &lt;b&gt;" in t and "A&amp;B" in t and "<td>–</td>" in t
    t2 = BeautifulSoup(report.html_table(df, index=True), "html.parser")
    assert [th.get_text() for th in t2.thead.find_all("th")] == ["key", "Area <b>", "n"]
    assert [th["scope"] for th in t2.tbody.find_all("th")] == ["row", "row"]


def test_context_table_has_caption_download_and_region(tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(report, "_display_html", shown.append)
    ctx = report.ReportContext(params=SimpleNamespace(small_number_threshold=0), con=None, notebook="99_t",
                               output_dir=tmp_path, params_file=tmp_path / "p.yaml")
    ctx.table(pd.DataFrame({"Crime type": ["Burglary"], "Count": [12]}), "counts", "Counts by <type>")
    soup = BeautifulSoup(shown[0], "html.parser")
    wrap = soup.select_one("div.csp-table-wrap")
    assert wrap["role"] == "region" and wrap["tabindex"] == "0" and wrap["aria-label"] == "Counts by <type>"
    cap = soup.table.caption
    assert cap.b.get_text() == "Counts by <type>" and "&lt;type&gt;" in shown[0]
    a = cap.find("a", download=True)
    assert a["download"] == "99_t__counts.csv" and a["href"].startswith("data:text/csv;base64,")
    assert [th["scope"] for th in soup.find_all("th")] == ["col", "col"]
    assert (tmp_path / "tables" / "99_t__counts.csv").exists()
