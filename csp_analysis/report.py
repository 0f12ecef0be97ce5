"""Notebook-side reporting helpers: the report context, tables with CSV download,
headline figures, small-number suppression on display, and the provenance footer.

A notebook starts with::

    ctx = report.start_report(partnership, "01_trends", params_dir=params_dir,
                              store=store, output_dir=output_dir)

and then narrates with ``ctx.say(...)``, shows tables with ``ctx.table(...)`` (each is
also written to ``<output_dir>/tables/<notebook>__<name>.csv`` and offered as a
download link inside the self-contained HTML), records headline numbers with
``ctx.headline(...)`` and ends with ``ctx.footer()``.
"""
from __future__ import annotations

import base64
import datetime as dt
import html
import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import matplotlib
import pandas as pd

from . import __version__
from . import data as data_mod
from . import escape as escape_mod
from .escape import escape, escape_md, mpl_text  # noqa: F401 - the one escaping point, re-exported
from . import params as params_mod
from . import store as store_mod


def _display(obj) -> None:
    try:
        from IPython.display import display

        display(obj)
    except ImportError:  # pragma: no cover - outside IPython
        print(obj)


def markdown(text: str, renderer: "escape_mod.MarkdownRenderer | None" = None) -> None:
    """Display Markdown text as HTML rendered by :func:`csp_analysis.escape.render_markdown`:
    raw HTML inside ``text`` is shown as text, never passed through, and links and images
    are off. Data interpolated into ``text`` should still go through
    :func:`csp_analysis.escape.escape_md` so that it cannot format the narration."""
    # tex2jax_ignore: the page's MathJax must not typeset a '$...$' from data as mathematics
    _display_html(f'<div class="csp-md tex2jax_ignore">{escape_mod.render_markdown(text, renderer)}</div>', plain=text)


def git_commit(cwd: str | os.PathLike | None = None) -> str:
    """The current git commit of the project (or 'unknown')."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True,
                             cwd=cwd or store_mod.PROJECT_ROOT, timeout=10)
        commit = out.stdout.strip() if out.returncode == 0 else "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, cwd=cwd or store_mod.PROJECT_ROOT, timeout=10).stdout.strip()
        return commit + ("+local changes" if dirty and commit != "unknown" else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def format_number(x: Any, dp: int = 0) -> str:
    """Format a number for analysts: thousands separators, fixed decimals, '–' for missing
    (:func:`csp_analysis.formatting.format_number`)."""
    from .formatting import format_number as _format_number

    return _format_number(x, dp, missing="–")


@dataclass
class ReportContext:
    """Everything a report notebook needs: parameters, the store and where outputs go."""

    params: params_mod.Partnership
    con: Any
    notebook: str
    output_dir: Path
    params_file: Path
    headlines: list[dict] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    renderer: escape_mod.MarkdownRenderer = field(default_factory=escape_mod.MarkdownRenderer, repr=False)

    # ---------------------------------------------------------------- properties
    @property
    def slug(self) -> str:
        return self.params.slug

    @property
    def tables_dir(self) -> Path:
        return self.output_dir / "tables"

    @property
    def has_street_data(self) -> bool:
        return data_mod.has_street_data(self.con, self.params.lad_codes, self.params.forces)

    # ---------------------------------------------------------------- narration
    def say(self, text: str) -> None:
        """Display Markdown narration, rendered to HTML without raw HTML (headings keep
        unique ids across the report); see :mod:`csp_analysis.escape`."""
        markdown(text, self.renderer)

    def title(self, heading: str) -> None:
        """The report title, the partnership, and a warning when the data are synthetic."""
        p = self.params
        lads = data_mod.lad_info(self.con, p.lad_codes)
        names = ", ".join(lads["lad_name"]) if len(lads) else ", ".join(p.lad_codes)
        forces = ", ".join(sorted(set(lads["pfa_name"].dropna()))) if len(lads) else ", ".join(p.forces)
        names, forces = escape_md(names), escape_md(forces)
        text = (f"# {escape_md(heading)}: {escape_md(p.name)}\n\n"
                f"**Area:** {names} ({', '.join(p.lad_codes)}); **police force area:** {forces}. "
                f"**Analysis window:** {p.start:%B %Y} to {p.end:%B %Y}.")
        if p.synthetic:
            text += ("\n\n> **Synthetic data.** This report uses the project's fictional default data "
                     "(invented places, codes and crimes with planted effects of known size). "
                     "It demonstrates the methods; it says nothing about any real place.")
        if self.warnings:
            text += "\n\n> **Checks on the parameters:** " + " ".join(
                escape_md(w.rstrip(".")) + "." for w in self.warnings)
        self.say(text)

    def no_data(self, what: str = "street-level crime") -> None:
        """Say plainly that there are no data for this partnership."""
        forces = ", ".join(self.params.forces)
        self.say(
            f"## No data\n\nThe data store holds no {what} records for {escape_md(self.params.name)} "
            f"(force file(s): {forces}). The rest of this report is therefore empty. "
            "Download the force's files from data.police.uk and run `csp ingest` to fill it."
        )
        stray = data_mod.stray_records(self.con, self.params.lad_codes, self.params.forces)
        if stray:
            self.say(f"(The store does hold {stray:,} records that other forces' files place in this area, "
                     "crimes those forces recorded here; on their own they cannot describe the partnership.)")
        self.headline("data_available", "Data available", 0, f"No {what} data in the store for {self.params.name}.")

    # ---------------------------------------------------------------- tables
    def table(self, df: pd.DataFrame, name: str, caption: str, suppress: Sequence[str] | None = None,
              index: bool = False, float_dp: int | dict[str, int] = 1, note: str | None = None,
              max_rows: int | None = None) -> pd.DataFrame:
        """Show a table with a caption and a CSV download link; write the CSV.

        Parameters
        ----------
        df : DataFrame
        name : str
            File-safe name; the CSV is ``tables/<notebook>__<name>.csv``.
        caption : str
            A sentence saying what the table shows.
        suppress : list of str, optional
            Columns holding counts of people: cells below the partnership's
            ``small_number_threshold`` are suppressed (with secondary suppression).
        float_dp : int or dict
            Decimal places shown for floats: one number for every column, or a dict
            ``{column: places}`` (columns not named get 1).
        max_rows : int, optional
            Show only the first ``max_rows`` rows in the report (the CSV always has every row).
        """
        out = df.copy()
        if suppress and self.params.small_number_threshold > 0:
            out = suppress_counts(out, list(suppress), self.params.small_number_threshold)
        self.tables_dir.mkdir(parents=True, exist_ok=True)
        fname = f"{self.notebook}__{_slugify(name)}.csv"
        csv_text = out.to_csv(index=index)
        _atomic_write(self.tables_dir / fname, csv_text)
        self.tables.append(fname)
        b64 = base64.b64encode(csv_text.encode("utf-8")).decode("ascii")
        fmt = out.copy()
        if max_rows is not None and len(fmt) > max_rows:
            fmt = fmt.head(max_rows)
            note = ((note + " ") if note else "") + f"First {max_rows} of {len(out):,} rows shown; the CSV has all."
        for c in fmt.columns:
            dp = float_dp.get(c, 1) if isinstance(float_dp, dict) else float_dp
            if pd.api.types.is_float_dtype(fmt[c]):
                fmt[c] = fmt[c].map(lambda v: format_number(v, dp))
            elif pd.api.types.is_integer_dtype(fmt[c]):
                fmt[c] = fmt[c].map(format_number)
            elif pd.api.types.is_datetime64_any_dtype(fmt[c]):
                fmt[c] = fmt[c].dt.strftime("%Y-%m")
            elif pd.api.types.is_object_dtype(fmt[c]):  # e.g. counts with suppressed '[c]' cells
                fmt[c] = fmt[c].map(lambda v: _format_mixed(v, dp))
        note_html = f"<p class='csp-note'>{html.escape(note)}</p>" if note else ""
        supp = ""
        if suppress and self.params.small_number_threshold > 0:
            supp = (f" Counts below {self.params.small_number_threshold} are suppressed ([c]), with further "
                    "cells suppressed where a total would reveal them.")
        cap = (f"<b>{html.escape(caption)}</b>{html.escape(supp)} "
               f"<a class='csp-download' download='{html.escape(fname)}' href='data:text/csv;base64,{b64}'>"
               f"Download CSV<span class='csp-visually-hidden'> of this table</span></a>")
        body = html_table(fmt, caption_html=cap, index=index)
        # a keyboard-focusable scrolling region for wide tables (axe: scrollable-region-focusable)
        _display_html(f"<div class='csp-table-wrap' role='region' tabindex='0' "
                      f"aria-label='{html.escape(caption, quote=True)}'>{body}{note_html}</div>")
        return out

    # ---------------------------------------------------------------- headlines
    def headline(self, key: str, label: str, value: Any, sentence: str, **extra) -> None:
        """Record a headline figure (for headlines.json and the index page)."""
        if isinstance(value, float) and pd.isna(value):
            value = None
        item = {"notebook": self.notebook, "key": key, "label": label,
                "value": value.item() if hasattr(value, "item") else value, "sentence": sentence}
        item.update({k: (v.item() if hasattr(v, "item") else v) for k, v in extra.items()})
        self.headlines = [h for h in self.headlines if h["key"] != key] + [item]
        d = self.output_dir / "headlines"
        d.mkdir(parents=True, exist_ok=True)
        _atomic_write(d / f"{self.notebook}.json", json.dumps(self.headlines, indent=2, default=str))

    # ---------------------------------------------------------------- figures
    def show(self, fig, alt: str | None = None, caption: str | None = None) -> None:
        """Display a matplotlib figure as an image with alternative text, and close it.

        The figure is emitted as ``<figure><img alt=...><figcaption>`` HTML (a PNG data
        URI), so the report stays one self-contained file and every chart says what it
        shows to people who cannot see it (WCAG 2.2, 1.1.1).

        Parameters
        ----------
        fig : matplotlib.figure.Figure
        alt : str, optional
            The alternative text. ``None`` (default): written from the figure's own data
            by :func:`csp_analysis.alt_text.describe_figure` (titles, axes, each series'
            range, lowest/highest and first-vs-last values, bars, points, bands).
            ``""``: the image is decorative (``alt=""``, ``role="presentation"``).
        caption : str, optional
            The visible caption; default: the figure's title (none when it has several).
        """
        import matplotlib.pyplot as plt

        from .alt_text import describe_figure, figure_title

        try:
            png = render_png(fig)
            text = describe_figure(fig, draw=False) if alt is None else str(alt)  # render_png drew it
            cap = figure_title(fig) if caption is None else str(caption)
        finally:
            plt.close(fig)
        b64 = base64.b64encode(png).decode("ascii")
        if text:
            img = f"<img src='data:image/png;base64,{b64}' alt=\"{html.escape(text, quote=True)}\">"
        else:
            img = f"<img src='data:image/png;base64,{b64}' alt=\"\" role=\"presentation\">"
        figcap = f"<figcaption>{html.escape(cap)}</figcaption>" if cap and text else ""
        _display_html(f"<figure class='csp-chart'>{img}{figcap}</figure>")

    # ---------------------------------------------------------------- footer
    def footer(self) -> None:
        """The provenance footer: package version, commit, parameters, data vintage."""
        vintage = data_mod.data_vintage(self.con)
        relevant = {k: v for k, v in vintage.items() if k.split("/", 1)[1] in self.params.forces}
        vtxt = "; ".join(
            f"{k}: {v['first_month']} to {v['latest_month']} ({v['months']} month{'s' if v['months'] != 1 else ''}, ingested {v['last_ingest']})"
            for k, v in relevant.items()) or "no police data for this partnership's forces in the store"
        params_yaml = self.params_file.read_text(encoding="utf-8") if self.params_file.exists() else ""
        vtxt = escape_md(vtxt)
        self.say(
            "---\n\n#### About this report\n\n"
            f"Produced by csp-analysis {__version__} (commit {git_commit()}) on "
            f"{dt.datetime.now(dt.timezone.utc):%d %B %Y %H:%M} UTC from notebook `{self.notebook}`.  \n"
            f"**Data vintage:** {vtxt}.  \n"
            "**Sources:** data.police.uk street-level crime and stop and search (Open Government Licence v3.0); "
            "ONS geography lookups and population (Source: Office for National Statistics licensed under the "
            "Open Government Licence v3.0); English Indices of Deprivation 2019 (MHCLG).  \n"
            f"**Parameters** ({escape_md(self.params_file.name)}):\n\n"
            + escape_mod.code_fence(params_yaml.strip(), "yaml")
        )

    # ---------------------------------------------------------------- status for the runner
    def warn(self, reason: str) -> None:
        """Record that a section could not compute (one line, plain text).

        The runner reads ``<output_dir>/warnings/<notebook>.json`` and shows the
        partnership as "warning" with this reason in the index (an unrecorded gap would
        show as "ok"). Nothing is displayed in the report: say it there with ``say``.
        """
        reason = " ".join(str(reason).split())[:300]
        recorded = self.__dict__.setdefault("_section_warnings", [])
        if reason not in recorded:
            recorded.append(reason)
        d = self.output_dir / "warnings"
        d.mkdir(parents=True, exist_ok=True)
        _atomic_write(d / f"{self.notebook}.json", json.dumps(recorded, indent=2))


#: White space kept around a chart's content, in inches (matplotlib's ``pad_inches`` default).
PAD_INCHES = 0.1
#: Room drawn around the figure (inches: left, bottom, right, top) so that content sticking out
#: of it (long category labels on the left, a colour bar's label on the right) is not clipped.
OVERHANG_INCHES = (2.5, 0.5, 1.0, 0.5)


def render_png(fig, pad_inches: float = PAD_INCHES) -> bytes:
    """A figure as PNG bytes, cropped to its content plus ``pad_inches``: the look of
    ``savefig(bbox_inches="tight", facecolor="white")`` (what the inline backend shows)
    with one draw instead of two.

    ``bbox_inches="tight"`` draws the figure twice (a dry run to measure every artist's
    extent, then the real draw) and measures each artist in between; on a report's 20-30
    charts that was most of the rendering time. Here the figure is drawn once, at its own
    dpi on white, onto a canvas larger than the figure by :data:`OVERHANG_INCHES` (content
    that sticks out of the figure is drawn, as "tight" would), then cropped to the box of
    non-white pixels plus the pad (numpy, a few milliseconds) and encoded with Pillow as
    an opaque RGB PNG. When content reaches the edge of even that canvas, the figure is
    saved with ``bbox_inches="tight"`` as before. (An artist placed wholly beyond that
    room, which none of the package's charts does, would not be seen.) Written by hand
    because matplotlib has no tight crop without the measuring draw.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    pad_inches : float
        White space around the content.

    Returns
    -------
    bytes
        The PNG (RGB: the same pixels as matplotlib's RGBA PNG on a white background).
    """
    import io

    import numpy as np
    from matplotlib.transforms import Bbox
    from PIL import Image, PngImagePlugin

    dpi = fig.dpi
    fw, fh = fig.get_size_inches()
    # whole pixels of room, so that the canvas size is known exactly
    left, bottom, right, top = (round(m * dpi) / dpi for m in OVERHANG_INCHES)
    box = Bbox.from_extents(-left, -bottom, fw + right, fh + top)
    raw = io.BytesIO()
    fig.savefig(raw, format="rgba", dpi=dpi, bbox_inches=box, facecolor="white")
    data = raw.getvalue()
    # the Agg canvas is int(size * dpi) pixels each way (matplotlib's RendererAgg), where its
    # size * dpi can differ from ours in the last bit: take the one candidate that fits the bytes
    fits = {(wd, hd) for wd in {int(box.width * dpi + e) for e in (-1e-6, 1e-6)}
            for hd in {int(box.height * dpi + e) for e in (-1e-6, 1e-6)} if 4 * wd * hd == len(data)}
    w, h = fits.pop() if len(fits) == 1 else (0, 0)
    rows = cols = np.array([], dtype=int)
    if w and h:
        rgba = np.frombuffer(data, dtype=np.uint8).reshape(h, w, 4)
        rgb = rgba[..., :3]
        if (rgba[..., 3] == 255).all():
            ink = (rgb != 255).any(axis=2)
            rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if not len(rows) or rows[0] == 0 or cols[0] == 0 or rows[-1] == h - 1 or cols[-1] == w - 1:
        # content beyond even the room drawn (or a transparent figure, or an unexpected canvas
        # size): the two-draw tight box
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight", pad_inches=pad_inches, facecolor="white")
        return buf.getvalue()
    pad = int(round(pad_inches * dpi))
    r0, r1 = max(rows[0] - pad, 0), min(rows[-1] + 1 + pad, h)
    c0, c1 = max(cols[0] - pad, 0), min(cols[-1] + 1 + pad, w)
    img = Image.fromarray(np.ascontiguousarray(rgb[r0:r1, c0:c1]), "RGB")
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", f"Matplotlib version{matplotlib.__version__}, https://matplotlib.org/")
    out = io.BytesIO()
    # zlib level 3: charts compress to within about 1% of the default level 6, 40% faster
    img.save(out, format="png", pnginfo=info, dpi=(dpi, dpi), compress_level=3)
    return out.getvalue()


def _format_mixed(v: Any, dp: int) -> Any:
    """Format numbers inside an object column (whole numbers without decimals); leave the rest."""
    import numbers

    if isinstance(v, bool) or not isinstance(v, numbers.Number):
        return v
    if pd.isna(v):
        return "–"
    if float(v).is_integer():
        return format_number(int(v))
    return format_number(float(v), dp)


def _display_html(s: str, plain: str | None = None) -> None:
    """Display an HTML fragment the package built (every data string in it escaped),
    with a plain-text alternative."""
    try:
        from IPython.display import display

        display({"text/html": s, "text/plain": plain if plain is not None else s}, raw=True)
    except ImportError:  # pragma: no cover
        print(s)


def html_table(df: pd.DataFrame, caption_html: str = "", index: bool = False) -> str:
    """An HTML table with a ``<caption>`` and scoped headers, every cell escaped.

    Written by hand because :meth:`pandas.DataFrame.to_html` writes neither a caption nor
    ``scope`` on header cells, which screen readers use to announce a cell's column (and
    row) heading. Column headers get ``scope="col"``; with ``index=True`` the index values
    are row headers (``scope="row"``). MultiIndex labels are joined with " · ".
    ``caption_html`` is inserted as given (the caller escapes it).
    """
    def label(v) -> str:
        if isinstance(v, tuple):
            return " · ".join(str(x) for x in v if str(x) != "")
        return "–" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)

    def cell(v) -> str:
        if v is None or v is pd.NA or (isinstance(v, float) and pd.isna(v)):
            return "–"
        return html.escape(str(v))

    head = ""
    if index:
        head += f"<th scope='col'>{html.escape(' · '.join(str(n) for n in df.index.names if n is not None))}</th>"
    head += "".join(f"<th scope='col'>{html.escape(label(c))}</th>" for c in df.columns)
    rows = []
    for idx, row in zip(df.index, df.itertuples(index=False, name=None)):
        th = f"<th scope='row'>{html.escape(label(idx))}</th>" if index else ""
        rows.append("<tr>" + th + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>")
    cap = f"<caption>{caption_html}</caption>" if caption_html else ""
    return (f"<table class='csp-table'>{cap}<thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


# one implementation of the write-to-temporary-then-rename used for every output file
from .html import atomic_write as _atomic_write  # noqa: E402


def suppress_counts(df: pd.DataFrame, columns: list[str], threshold: int) -> pd.DataFrame:
    """Suppress counts of people below ``threshold`` (shown as '[c]').

    Uses :func:`csp_analysis.disproportionality.suppress_small_numbers` with its
    defaults: primary suppression hides 1..threshold-1 (zeros are shown: a true zero
    discloses nobody); secondary suppression protects both row totals (across
    ``columns``) and column totals, so that no suppressed cell can be worked out from
    a total.
    """
    from .disproportionality import suppress_small_numbers

    suppressed, _ = suppress_small_numbers(df, list(columns), threshold=threshold)
    return suppressed


def start_report(partnership: str, notebook: str, params_dir: str | os.PathLike | None = None,
                 store: str | os.PathLike | None = None, output_dir: str | os.PathLike | None = None,
                 data_roots: Sequence[str | os.PathLike] | None = None) -> ReportContext:
    """Load and validate the partnership's parameters, open the store read-only and
    set up the output folder. Call at the top of every report notebook.

    Parameters
    ----------
    partnership : str
        Slug of ``params/<slug>.yaml``.
    notebook : str
        The notebook's short name (``01_trends``), used for table and headline files.
    params_dir, store, output_dir : path, optional
        Defaults: the project's ``params/``, the default store, ``outputs/<slug>``.
    data_roots : list of path, optional
        Folders outside the params folder that ``local_data`` files may live in (see
        :func:`csp_analysis.params.load_params`; ``$CSP_DATA_ROOT`` is also honoured).
    """
    if not params_mod.SLUG_RE.match(str(partnership)):
        raise params_mod.ParamsError(f"not a partnership slug: {partnership!r} (lower-case letters, digits, hyphens)")
    pdir = Path(params_dir) if params_dir else params_mod.DEFAULT_PARAMS_DIR
    pfile = pdir / f"{partnership}.yaml"
    # named comparators are checked by the runner before any kernel starts; here a missing one is
    # reported by the section that uses it, so one report can still be rendered on its own
    p = params_mod.load_params(pfile, data_roots=data_roots, check_references=False)
    con = store_mod.connect(store, read_only=True)
    warnings = params_mod.check_against_store(p, con, pfile)
    out = Path(output_dir) if output_dir else store_mod.PROJECT_ROOT / "outputs" / p.slug
    out.mkdir(parents=True, exist_ok=True)
    matplotlib.rcParams.update({"figure.figsize": (9, 4), "figure.dpi": 100, "axes.grid": True,
                                "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False})
    escape_mod.disable_mathtext()  # a '$' in a name from data is a dollar sign, never mathtext
    ctx = ReportContext(params=p, con=con, notebook=notebook, output_dir=out, params_file=pfile, warnings=warnings)
    return ctx
