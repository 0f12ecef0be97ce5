"""Executed notebook -> self-contained, accessible HTML report (no code cells), and atomic file writes.

One place owns the look of every page: the nbconvert exporter, the page shell
(``templates/page.html.j2``) and the stylesheet (``templates/report.css``).
:func:`render_html` is what the runner calls per notebook; :func:`make_exporter` builds
the exporter once so a worker can reuse it; :func:`wrap_page` puts any HTML body (the
index page) in the same shell.

Every page is offline and self-contained: nbconvert's ``basic`` template (cells only: no
MathJax, require.js or web fonts) inside our own shell, the stylesheet inline, images as
data URIs. The shell has a skip link, a banner with a "back to the index" link, one
``<main>`` landmark, and a table of contents linking every ``h2``; headings are kept in
order (no level skipped), ids are unique, and table headers get ``scope``. The stylesheet
has a print section: A4 pages with page numbers, charts kept with their captions, tables
and figures not cut, navigation hidden, external links spelt out.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

TEMPLATES_DIR = Path(__file__).parent / "templates"

#: marker in every page made by :func:`wrap_page` (tests and the browser check look for it)
SHELL_MARKER = '<main id="main-content"'


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it over ``path``
    (readers never see a half-written file). Shared by :mod:`csp_analysis.report` and
    :mod:`csp_analysis.runner`."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


#: The former private name, kept so that existing callers keep working.
_atomic_write = atomic_write


def render_html(ipynb, html_path: Path, exporter=None) -> None:
    """Convert an executed notebook to a self-contained, accessible HTML report without code cells.

    Inputs and prompts are excluded and stderr streams (warnings) dropped; images are
    embedded as data URIs by the notebook outputs themselves. The cells are rendered
    with ``exporter`` (default :func:`make_exporter`) and wrapped by :func:`wrap_page`
    with a table of contents and a link back to ``../index.html``.
    """
    import nbformat

    nb = ipynb if hasattr(ipynb, "cells") else nbformat.read(ipynb, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", [])
                            if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    exporter = exporter or make_exporter()
    body, _ = exporter.from_notebook_node(nb)
    fallback = Path(html_path).stem.replace("_", " ")
    _atomic_write(Path(html_path), wrap_page(body, title=None, back_href="../index.html", toc=True,
                                             fallback_title=fallback))


def make_exporter():
    """The nbconvert HTML exporter used for every report.

    nbconvert's ``basic`` template: the cells only (the page shell, styles and navigation
    come from :func:`wrap_page`), so no MathJax, require.js or other external script is
    referenced. Inputs and prompts are excluded.
    """
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name="basic", exclude_input=True, exclude_input_prompt=True,
                        exclude_output_prompt=True)


def page_css() -> str:
    """The report stylesheet (screen and print), inlined in every page."""
    return (TEMPLATES_DIR / "report.css").read_text(encoding="utf-8")


def wrap_page(body: str, title: str | None = None, back_href: str | None = "../index.html", toc: bool = True,
              lang: str = "en-GB", fallback_title: str = "Report") -> str:
    """Put an HTML body in the accessible page shell shared by the reports and the index.

    Parameters
    ----------
    body : str
        HTML for inside ``<main>`` (trusted: produced by the package, with untrusted
        text already escaped by its producers). A whole document is accepted too: the
        contents of its ``<body>`` are used (its ``<head>``, with any styles, is dropped).
    title : str, optional
        The document title; default: the text of the first ``h1`` (else ``fallback_title``).
    back_href : str or None
        Target of the "Back to the index of reports" link in the banner; ``None`` for the
        index page itself.
    toc : bool
        Add a "Contents" list linking every ``h2`` (when there are at least two),
        placed before the first ``h2``.
    lang : str
        The page language (``<html lang>``).

    Returns
    -------
    str
        A complete HTML document: skip link, banner (``<header>``) with the back link,
        one ``<main>``, inline stylesheet. Headings are re-levelled so none skips a level,
        ids made unique, nbconvert's pilcrow anchor links removed, table headers scoped.
    """
    import jinja2

    body, h1 = _tidy(body, toc=toc)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)), autoescape=True)
    page = env.get_template("page.html.j2").render(
        lang=lang, title=title or (f"{h1} · csp-analysis" if h1 else fallback_title),
        css=jinja2.utils.markupsafe.Markup(page_css()), back_href=back_href, body=jinja2.utils.markupsafe.Markup(body))
    return page


def _slug(text: str) -> str:
    s = re.sub(r"[^\w\- ]+", "", text, flags=re.UNICODE).strip().lower()
    return re.sub(r"[\s_]+", "-", s) or "section"


def _tidy(body: str, toc: bool = True) -> tuple[str, str]:
    """Make the body navigable; returns (html, text of the first h1).

    Uses BeautifulSoup (a dependency of nbconvert) with Python's own HTML parser.
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(body, "html.parser")
    if soup.body is not None:  # a whole document was passed: keep what is inside its <body>
        soup = BeautifulSoup(soup.body.decode_contents(), "html.parser")
    main = soup.find("main")
    if main is not None:  # the shell supplies the one <main>
        main.unwrap()
    # nbconvert's "¶" permalinks inside headings: read aloud as "pilcrow", and redundant with the contents list
    for a in soup.select("a.anchor-link"):
        a.decompose()
    # headings in order: a heading may go at most one level deeper than the one before it
    prev = 0
    headings = soup.find_all(re.compile(r"^h[1-6]$"))
    for h in headings:
        level = int(h.name[1])
        if prev and level > prev + 1:
            level = prev + 1
            h.name = f"h{level}"
        prev = level
    # unique ids (headings with the same text, repeated sections); headings get one if missing
    seen: set[str] = set()
    for el in soup.find_all(id=True):
        base = el["id"]
        new, k = base, 2
        while new in seen:
            new, k = f"{base}-{k}", k + 1
        el["id"] = new
        seen.add(new)
    for h in headings:
        if not h.get("id"):
            base = _slug(h.get_text(" ", strip=True))
            new, k = base, 2
            while new in seen:
                new, k = f"{base}-{k}", k + 1
            h["id"] = new
            seen.add(new)
    # scrolling table regions: each needs a distinct accessible name
    labels: dict[str, int] = {}
    for el in soup.select("[role=region][aria-label]"):
        lab = el["aria-label"]
        labels[lab] = labels.get(lab, 0) + 1
        if labels[lab] > 1:
            el["aria-label"] = f"{lab} ({labels[lab]})"
    # header cells without scope (tables not made by ReportContext.table, e.g. the index)
    for th in soup.find_all("th"):
        if not th.get("scope"):
            first_in_row = th.find_previous_sibling(["td", "th"]) is None
            th["scope"] = "row" if (first_in_row and not th.find_parent("thead")
                                    and th.find_next_sibling("td") is not None) else "col"
    h2s = [h for h in soup.find_all("h2")]
    if toc and len(h2s) >= 2:
        nav = soup.new_tag("nav", attrs={"class": "csp-toc", "aria-labelledby": "csp-contents"})
        head = soup.new_tag("h2", id="csp-contents")
        head.string = "Contents"
        nav.append(head)
        ol = soup.new_tag("ol")
        for h in h2s:
            li = soup.new_tag("li")
            a = soup.new_tag("a", href=f"#{h['id']}")
            a.string = h.get_text(" ", strip=True)
            li.append(a)
            ol.append(li)
        nav.append(ol)
        # before the top-level block holding the first h2 (after the title and its summary)
        h1 = soup.find("h1")
        h1_parents = {id(p) for p in h1.parents} if h1 else set()
        anchor = h2s[0]
        while anchor.parent is not None and anchor.parent is not soup and id(anchor.parent) not in h1_parents:
            anchor = anchor.parent
        anchor.insert_before(nav)
    h1 = soup.find("h1")
    return str(soup), (h1.get_text(" ", strip=True) if h1 else "")


__all__ = ["render_html", "make_exporter", "wrap_page", "page_css", "SHELL_MARKER", "TEMPLATES_DIR"]
