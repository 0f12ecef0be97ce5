"""The one escaping point for text that reaches a report.

Every string shown in a report may come from data (police files, ONS lookups), from a
partnership's parameters or from a local-indicators file, all edited by many hands.
The report's own formatting is the only markup:

* :func:`render_markdown` turns narration (Markdown written by the package, with data
  interpolated) into HTML with ``markdown-it-py`` configured so that **raw HTML is
  never passed through** (``html=False``: ``<script>`` is shown as text), links and
  images are switched off (the narration never uses them, so a ``[x](javascript:..)``
  or a tracking image in a name cannot appear), and headings get stable ``id``
  attributes for the table of contents. ``ReportContext.say()``/``title()`` and
  :func:`csp_analysis.report.markdown` display their text through it.
* :func:`escape` is for the rare HTML the package writes itself (table captions,
  notes): it escapes ``& < > " '``.
* :func:`escape_md` neutralises Markdown syntax in a data string interpolated into
  narration (``*``, ``_``, ``#``, backticks, brackets, line breaks), so a name can
  neither format the text nor start a new block.
* :func:`mpl_text` escapes matplotlib's mathtext (``$...$``) in chart text from data;
  :func:`disable_mathtext` switches mathtext parsing off for every chart of a report
  (``rcParams['text.parse_math'] = False``), which ``start_report`` does.

References
----------
markdown-it-py, https://markdown-it-py.readthedocs.io (CommonMark; ``html`` option,
``validateLink``). OWASP Cross Site Scripting Prevention Cheat Sheet (output encoding
by context).
"""
from __future__ import annotations

import html as _html
import re
from typing import Any

__all__ = ["escape", "escape_md", "mpl_text", "render_markdown", "MarkdownRenderer", "disable_mathtext",
           "SAFE_SCHEMES"]

#: URL schemes a link may use, should links ever be switched on (markdown-it's own
#: ``validateLink`` already refuses javascript:, vbscript:, file: and most data: URLs).
SAFE_SCHEMES = ("http", "https", "mailto")

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")


def escape(text: Any) -> str:
    """HTML-escape any value for use in element text or a quoted attribute."""
    return _html.escape("" if text is None else str(text), quote=True)


def escape_md(text: Any) -> str:
    """Make a data string inert inside Markdown narration.

    Backslash-escapes the characters that start emphasis, code, links, images,
    headings, tables and raw HTML, and folds line breaks into spaces (so a value cannot
    open a new block such as a heading or a list). The rendered text shows the string
    exactly as written.
    """
    s = "" if text is None else str(text)
    s = re.sub(r"[\r\n\u2028\u2029]+", " ", s)
    return _MD_SPECIAL.sub(r"\\\1", s)


def mpl_text(text: Any) -> str:
    """Escape a data string for matplotlib text (titles, labels, legends, annotations):
    ``$`` would start mathtext, so it is escaped as ``\\$``."""
    return ("" if text is None else str(text)).replace("$", r"\$")


def disable_mathtext() -> None:
    """Switch off mathtext parsing for every matplotlib text from now on, so a ``$`` in
    data is shown as a dollar sign (the package's charts use no mathtext)."""
    import matplotlib

    matplotlib.rcParams["text.parse_math"] = False


def _heading_slug(text: str) -> str:
    s = re.sub(r"[^0-9a-z]+", "-", text.lower()).strip("-")
    return s or "section"


def _safe_link(url: str) -> bool:
    m = re.match(r"^\s*([a-zA-Z][a-zA-Z0-9+.-]*):", url)
    return m is None or m.group(1).lower() in SAFE_SCHEMES


class MarkdownRenderer:
    """Markdown -> HTML with no raw HTML, no links or images, and unique heading ids.

    One renderer per report keeps heading ids unique across the whole document
    (``analysis-window``, ``analysis-window-2``...).
    """

    def __init__(self) -> None:
        from markdown_it import MarkdownIt

        # Written with markdown-it-py rather than by hand: CommonMark parsing is subtle.
        md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
        md.disable(["link", "image", "autolink", "html_inline", "html_block"])
        md.validateLink = _safe_link  # belt and braces should links be enabled later
        self._md = md
        self.seen: dict[str, int] = {}

    def _unique(self, slug: str) -> str:
        n = self.seen.get(slug, 0) + 1
        self.seen[slug] = n
        return slug if n == 1 else f"{slug}-{n}"

    def render(self, text: str) -> str:
        """Render ``text`` to an HTML fragment."""
        tokens = self._md.parse("" if text is None else str(text))
        for i, tok in enumerate(tokens):
            if tok.type == "heading_open" and i + 1 < len(tokens):
                inline = tokens[i + 1]
                plain = "".join(c.content for c in (inline.children or []) if c.type in ("text", "code_inline"))
                tok.attrSet("id", self._unique(_heading_slug(plain or inline.content)))
        return self._md.renderer.render(tokens, self._md.options, {})


_DEFAULT = None


def render_markdown(text: str, renderer: MarkdownRenderer | None = None) -> str:
    """Render narration Markdown to safe HTML (see :class:`MarkdownRenderer`)."""
    global _DEFAULT
    if renderer is None:
        if _DEFAULT is None:
            _DEFAULT = MarkdownRenderer()
        renderer = _DEFAULT
    return renderer.render(text)


def code_fence(text: str, info: str = "") -> str:
    """A Markdown code fence around ``text`` that ``text`` cannot close (the fence is
    longer than any run of backticks inside it)."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"
