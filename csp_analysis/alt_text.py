"""Alternative text for charts, written from the data behind them.

:func:`describe_figure` reads a drawn matplotlib figure (titles, axis labels, the data of
each line, bar, point cloud, shaded band, image and colour scale) and writes a plain
description: what is plotted, over what range, the lowest and highest values and how the
first value compares with the last. The report puts it in the ``alt`` attribute of the
chart's image (WCAG 2.2 success criterion 1.1.1, non-text content; the W3C WAI "complex
images" tutorial asks for the chart's type, axes and main message).

Written by hand because no maintained library describes matplotlib figures in text; it
reads only public matplotlib artist APIs (``Axes.get_lines``, ``Axes.containers``,
``Axes.collections``, ``Axes.images``), so any chart the sections draw is covered without
changes to the sections. A caller that knows better passes ``alt=`` to
:meth:`csp_analysis.report.ReportContext.show`.
"""
from __future__ import annotations

import math
import re
from typing import Any, Sequence

import numpy as np

#: at most this many series are described one by one in an axes; the rest are named only
MAX_SERIES = 6
#: at most this many categories are listed with their values
MAX_LISTED = 8


# --------------------------------------------------------------------------- numbers
def format_value(v: float) -> str:
    """A number as a reader would say it: thousands separators, about three significant figures."""
    if v is None or not np.isfinite(v):
        return "missing"
    v = float(v)
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1000 or float(v).is_integer():
        return f"{v:,.0f}"
    digits = max(0, 2 - int(math.floor(math.log10(a))))
    out = f"{v:,.{digits}f}"
    return out.rstrip("0").rstrip(".") if "." in out else out


def _clean(text: str | None) -> str:
    """Collapse whitespace and drop matplotlib mathtext dollar signs."""
    t = re.sub(r"\s+", " ", (text or "").replace("$", "")).strip()
    return t


def _real_label(artist) -> str:
    lab = _clean(artist.get_label()) if hasattr(artist, "get_label") else ""
    return "" if (not lab or lab.startswith("_")) else lab


# --------------------------------------------------------------------------- axes scales
class _Axis:
    """Formats positions on one axis: dates, named categories (tick labels) or numbers."""

    def __init__(self, ax, which: str):
        import matplotlib.dates as mdates

        self.axis = ax.xaxis if which == "x" else ax.yaxis
        conv = self.axis.get_converter() if hasattr(self.axis, "get_converter") else self.axis.converter
        fmt = self.axis.get_major_formatter()
        self.dates = isinstance(conv, mdates.DateConverter) or type(conv).__name__.endswith("DateConverter") \
            or isinstance(fmt, (mdates.DateFormatter, mdates.AutoDateFormatter, mdates.ConciseDateFormatter))
        # pandas' PeriodIndex plots: positions are period ordinals (its converter subclasses
        # matplotlib's date converter, so this test comes first)
        self.periods = type(fmt).__name__.startswith("TimeSeries_") or type(conv).__name__ == "PeriodConverter"
        self.period_freq = getattr(ax, "freq", None) or getattr(fmt, "freq", None)
        if self.periods:
            self.dates = False
        # named categories: fixed tick labels that are not numbers (bar charts, forest plots)
        self.names: dict[float, str] = {}
        try:
            ticks = self.axis.get_majorticklocs()
            labels = [_clean(t.get_text()) for t in self.axis.get_majorticklabels()]
            if (not (self.dates or self.periods) and len(ticks) == len(labels) and any(labels)
                    and not all(_is_number(s) for s in labels if s)):
                self.names = {float(t): s for t, s in zip(ticks, labels) if s}
        except Exception:  # noqa: BLE001 - a chart we cannot read is described without names
            self.names = {}

    def name_at(self, pos: float) -> str | None:
        if not self.names:
            return None
        keys = np.array(list(self.names))
        i = int(np.argmin(np.abs(keys - pos)))
        return self.names[float(keys[i])] if abs(keys[i] - pos) <= 0.5 else None

    def fmt(self, pos: Any) -> str:
        """One position as text."""
        if isinstance(pos, (np.datetime64,)) or hasattr(pos, "strftime"):
            import pandas as pd

            return pd.Timestamp(pos).strftime("%B %Y")
        try:
            pos = float(pos)
        except (TypeError, ValueError):
            return _clean(str(pos))
        if not np.isfinite(pos):
            return "missing"
        if self.dates:
            import matplotlib.dates as mdates

            return mdates.num2date(pos).strftime("%B %Y")
        if self.periods and self.period_freq is not None:
            try:
                import pandas as pd

                return pd.Period(ordinal=int(round(pos)), freq=self.period_freq).strftime("%B %Y")
            except Exception:  # noqa: BLE001
                pass
        name = self.name_at(pos)
        return name if name else format_value(pos)


def _is_number(s: str) -> bool:
    return bool(re.fullmatch(r"[−\-+]?[\d,]*\.?\d+(e[−\-+]?\d+)?%?", s.replace("\u2212", "-")))


def _finite(x, y):
    """Pairs where y (and x, when numeric) are finite."""
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(y)
    xa = np.asarray(x)
    if xa.dtype.kind in "fiu":
        ok &= np.isfinite(xa.astype(float))
    return xa[ok], y[ok]


# --------------------------------------------------------------------------- artists
def _describe_series(name: str, x, y, xa: _Axis, ya: _Axis, markers_only: bool = False) -> str | None:
    x, y = _finite(x, y)
    if len(y) == 0:
        return None
    if xa.names or ya.names or markers_only:
        # points at named categories, or marked points: list them (or the extremes)
        if ya.names and not xa.names:  # horizontal: the value is x, the category is y
            pairs = [(ya.fmt(b), xa.fmt(a), float(a)) for a, b in zip(x, y)]
        else:
            pairs = [(xa.fmt(a), ya.fmt(b), float(b)) for a, b in zip(x, y)]
        head = f"{name}: {len(pairs)} point{'s' if len(pairs) != 1 else ''}"
        if len(pairs) <= MAX_LISTED:
            return head + ", " + ", ".join(f"{c} {v}" for c, v, _ in pairs)
        vals = np.array([p[2] for p in pairs])
        hi, lo = int(np.argmax(vals)), int(np.argmin(vals))
        if xa.names or ya.names:  # named categories: "highest Burglary (7.7)"
            return head + f"; highest {pairs[hi][0]} ({pairs[hi][1]}), lowest {pairs[lo][0]} ({pairs[lo][1]})"
        return head + (f" from {pairs[0][0]} to {pairs[-1][0]}; highest {pairs[hi][1]} at {pairs[hi][0]}, "
                       f"lowest {pairs[lo][1]} at {pairs[lo][0]}")
    if len(y) == 1:
        return f"{name}: one point, {ya.fmt(y[0])} at {xa.fmt(x[0])}"
    if np.allclose(y, y[0]):
        return f"{name}: constant at {ya.fmt(y[0])} from {xa.fmt(x[0])} to {xa.fmt(x[-1])}"
    lo, hi = int(np.argmin(y)), int(np.argmax(y))
    first, last = y[0], y[-1]
    change = ""
    if first != 0 and np.isfinite(first):
        pct = (last - first) / abs(first) * 100
        change = f" ({'+' if pct >= 0 else ''}{pct:.0f}%)"
    trend = "rises" if last > first else "falls" if last < first else "ends where it starts"
    return (f"{name}: {len(y)} points from {xa.fmt(x[0])} to {xa.fmt(x[-1])}; lowest {ya.fmt(y[lo])} "
            f"({xa.fmt(x[lo])}), highest {ya.fmt(y[hi])} ({xa.fmt(x[hi])}); {trend} from "
            f"{ya.fmt(first)} to {ya.fmt(last)}{change}")


def _reference_line(line, xa: _Axis, ya: _Axis) -> str | None:
    """axhline/axvline: two points with one coordinate constant and the other in axes units."""
    x = np.asarray(line.get_xdata(), dtype=object)
    y = np.asarray(line.get_ydata(), dtype=object)
    if len(x) != 2:
        return None
    name = _real_label(line)
    try:
        if y[0] == y[1] and list(map(float, x)) == [0.0, 1.0]:
            return f"a horizontal reference line{(' (' + name + ')') if name else ''} at {ya.fmt(y[0])}"
        if x[0] == x[1] and list(map(float, y)) == [0.0, 1.0]:
            return f"a vertical reference line{(' (' + name + ')') if name else ''} at {xa.fmt(x[0])}"
    except (TypeError, ValueError):
        return None
    return None


def _bars(container, xa: _Axis, ya: _Axis) -> str | None:
    patches = [p for p in container.patches if p.get_visible()]
    if not patches:
        return None
    horizontal = getattr(container, "orientation", None) == "horizontal"
    vals, names = [], []
    for i, p in enumerate(patches):
        if horizontal:
            v, pos, cat = p.get_width() + p.get_x(), p.get_y() + p.get_height() / 2, ya
        else:
            v, pos, cat = p.get_height() + p.get_y(), p.get_x() + p.get_width() / 2, xa
        vals.append(float(v))
        names.append(cat.name_at(pos) or cat.fmt(pos))
    if getattr(container, "datavalues", None) is not None and len(container.datavalues) == len(patches):
        vals = [float(v) for v in container.datavalues]
    val_axis = xa if horizontal else ya
    v = np.asarray(vals)
    label = _real_label(container)
    head = f"{len(v)} {'horizontal ' if horizontal else ''}bar{'s' if len(v) != 1 else ''}" + (
        f" ({label})" if label else "")
    if len(v) <= MAX_LISTED:
        return head + ": " + ", ".join(f"{n} {val_axis.fmt(x)}" for n, x in zip(names, v))
    ok = np.isfinite(v)
    if not ok.any():
        return head
    hi, lo = int(np.nanargmax(v)), int(np.nanargmin(v))
    return head + f"; highest {names[hi]} ({val_axis.fmt(v[hi])}), lowest {names[lo]} ({val_axis.fmt(v[lo])})"


def _points(coll, xa: _Axis, ya: _Axis) -> str | None:
    off = np.asarray(coll.get_offsets(), dtype=float)
    if off.ndim != 2 or len(off) == 0:
        return None
    off = off[np.isfinite(off).all(axis=1)]
    if len(off) == 0:
        return None
    label = _real_label(coll)
    head = f"{len(off)} point{'s' if len(off) != 1 else ''}" + (f" ({label})" if label else "")
    if ya.names and not xa.names:  # a forest/dot plot: one point per named row
        pairs = [(ya.name_at(yv) or ya.fmt(yv), xv) for xv, yv in off]
        if len(pairs) <= MAX_LISTED:
            return head + ": " + ", ".join(f"{n} {xa.fmt(v)}" for n, v in pairs)
        i, j = int(np.argmax(off[:, 0])), int(np.argmin(off[:, 0]))
        return head + f"; highest {pairs[i][0]} ({xa.fmt(off[i, 0])}), lowest {pairs[j][0]} ({xa.fmt(off[j, 0])})"
    if len(off) == 1:
        return head + f" at {xa.fmt(off[0, 0])}, {ya.fmt(off[0, 1])}"
    return head + (f", horizontal values from {xa.fmt(off[:, 0].min())} to {xa.fmt(off[:, 0].max())}, "
                   f"vertical values from {ya.fmt(off[:, 1].min())} to {ya.fmt(off[:, 1].max())}")


def _array_range(mappable) -> tuple[float, float] | None:
    arr = mappable.get_array()
    if arr is None:
        return None
    a = np.ma.masked_invalid(np.ma.asarray(arr, dtype=float))
    if a.count() == 0:
        return None
    return float(a.min()), float(a.max())


def _collections(ax, xa: _Axis, ya: _Axis, errorbar_cols: set) -> list[str]:
    from matplotlib.collections import LineCollection, PatchCollection, PathCollection, PolyCollection, QuadMesh

    out = []
    bands = []
    for c in ax.collections:
        if not c.get_visible() or id(c) in errorbar_cols:
            continue
        if isinstance(c, QuadMesh):
            r = _array_range(c)
            shape = np.shape(c.get_array())
            out.append(f"a grid of coloured cells{f' ({shape[0]} by {shape[1]})' if len(shape) == 2 else ''}"
                       + (f", values from {format_value(r[0])} to {format_value(r[1])}" if r else ""))
        elif isinstance(c, PathCollection):
            d = _points(c, xa, ya)
            if d:
                out.append(d)
        elif isinstance(c, PolyCollection) and c.get_array() is None:
            lab = _real_label(c)
            bands.append(lab or "a shaded band")
        elif isinstance(c, (PatchCollection, PolyCollection)):
            r = _array_range(c)
            n = len(c.get_paths())
            out.append(f"{n} shaded area{'s' if n != 1 else ''}"
                       + (f", shading by value from {format_value(r[0])} to {format_value(r[1])}" if r else ""))
        elif isinstance(c, LineCollection):
            lab = _real_label(c)
            if lab:
                out.append(f"line segments ({lab})")
    if bands:
        out.append("shaded band" + ("s" if len(bands) > 1 else "") + ": " + "; ".join(bands))
    return out


def _containers(ax, xa: "_Axis", ya: "_Axis"):
    """Error bar and bar containers: the ids of error-bar artists (described once, as error
    bars), the number of error-bar sets, the names of their data lines and the bars' texts."""
    from matplotlib.container import BarContainer, ErrorbarContainer

    err_lines, err_cols, n_err, err_names = set(), set(), 0, {}
    bars: list[str] = []
    for cont in ax.containers:
        if isinstance(cont, ErrorbarContainer):
            n_err += 1
            data_line, caplines, barcols = cont.lines
            err_lines.update(id(c) for c in caplines)
            err_cols.update(id(c) for c in barcols)
            if data_line is not None and _real_label(cont):
                err_names[id(data_line)] = _real_label(cont)
        elif isinstance(cont, BarContainer):
            d = _bars(cont, xa, ya)
            if d:
                bars.append(d)
    return err_lines, err_cols, n_err, err_names, bars


def _line_series(ax, xa: "_Axis", ya: "_Axis", title: str, err_lines: set, err_names: dict):
    """The lines of an axes: (series texts, reference-line texts, whether any line is drawn
    rather than markers only)."""
    series, refs, unnamed, lines_drawn = [], [], 0, False
    for line in ax.get_lines():
        if not line.get_visible() or id(line) in err_lines:
            continue
        ref = _reference_line(line, xa, ya)
        if ref:
            refs.append(ref)
            continue
        x, y = line.get_xdata(orig=True), line.get_ydata(orig=True)
        if len(np.atleast_1d(y)) == 0:
            continue
        markers_only = line.get_linestyle() in ("None", "none", " ", "")
        lines_drawn |= not markers_only
        name = _real_label(line) or err_names.get(id(line), "")
        if not name:
            unnamed += 1
            name = f"line {unnamed}" if not title else "line"
        if len(series) >= MAX_SERIES:
            series.append(name)
            continue
        d = _describe_series(name, x, y, xa, ya, markers_only=markers_only)
        if d:
            series.append(d)
    return series, refs, lines_drawn


def _spans(ax, xa: "_Axis") -> list[str]:
    """Shaded backgrounds (polygons and rectangles that are not bars): their x ranges."""
    from matplotlib.patches import Polygon, Rectangle

    spans = []
    for p in ax.patches:
        if not isinstance(p, (Polygon, Rectangle)) or not p.get_visible() \
                or any(p in getattr(c, "patches", ()) for c in ax.containers):
            continue
        xy = np.asarray(p.get_xy() if isinstance(p, Polygon) else
                        [[p.get_x(), p.get_y()], [p.get_x() + p.get_width(), p.get_y() + p.get_height()]],
                        dtype=float)
        spans.append(f"from {xa.fmt(xy[:, 0].min())} to {xa.fmt(xy[:, 0].max())}")
    return spans


def _images(ax) -> list[str]:
    """Images drawn in the axes: their size in cells and range of values."""
    images = []
    for im in ax.images:
        r = _array_range(im)
        shape = np.shape(im.get_array())
        images.append(f"an image{f' of {shape[0]} by {shape[1]} cells' if len(shape) >= 2 else ''}"
                      + (f", values from {format_value(r[0])} to {format_value(r[1])}" if r else ""))
    return images


def _chart_heading(title: str, xl: str, yl: str, series, lines_drawn: bool, bars, others, images) -> str:
    """The first sentence: the title, the kind of chart and what is plotted against what."""
    kinds = []
    if series:
        kinds.append("line chart" if lines_drawn else "dot chart")
    if bars:
        kinds.append("bar chart")
    if others and not (series or bars):
        kinds.append("chart")
    if images and not kinds:
        kinds.append("image")
    head = " and ".join(kinds) or "chart"
    head = (f"{title}. " if title else "") + head[0].upper() + head[1:]
    if yl and xl:
        head += f" of {yl} against {xl}"
    elif yl or xl:
        head += f" of {yl or xl}"
    return head


def describe_axes(ax) -> str:
    """Describe one axes: title, axes, and each plotted element with its range."""
    xa, ya = _Axis(ax, "x"), _Axis(ax, "y")
    title = " ".join(t for t in (_clean(ax.get_title(loc)) for loc in ("left", "center", "right")) if t)
    xl, yl = _clean(ax.get_xlabel()), _clean(ax.get_ylabel())
    err_lines, err_cols, n_err, err_names, bars = _containers(ax, xa, ya)
    series, refs, lines_drawn = _line_series(ax, xa, ya, title, err_lines, err_names)
    others = _collections(ax, xa, ya, err_cols)
    spans = _spans(ax, xa)
    images = _images(ax)

    parts = [_chart_heading(title, xl, yl, series, lines_drawn, bars, others, images)]
    shown = [s for s in series if ":" in s]
    rest = [s for s in series if ":" not in s]
    parts += shown + bars + others + images
    if rest:
        parts.append(f"also {', '.join(rest)}")
    if n_err:
        parts.append("error bars show the intervals")
    if refs:
        parts.append("; ".join(refs))
    if spans:
        shown_spans = "; ".join(spans[:4]) + (f"; and {len(spans) - 4} more" if len(spans) > 4 else "")
        parts.append(f"shaded background {shown_spans}")
    if len(parts) == 1:
        parts.append("no data plotted")
    return ". ".join(p[0].upper() + p[1:] if i and p else p for i, p in enumerate(parts)) + "."


def describe_figure(fig, draw: bool = True) -> str:
    """Alternative text for a whole matplotlib figure.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure, after plotting. It is drawn once (on its own canvas) so that tick
        labels, which name the categories of bar and dot charts, are known.
    draw : bool
        ``False`` when the figure has just been drawn (e.g. saved), to skip the extra draw.

    Returns
    -------
    str
        Plain text (not escaped): the figure's title, then each panel's type, axes,
        series with their first/last, lowest/highest values, bars, points, bands and
        colour scales. Multi-panel figures are described panel by panel.
    """
    if draw:
        try:
            fig.canvas.draw()
        except Exception:  # noqa: BLE001 - describe what we can without tick labels
            pass
    sup = getattr(fig, "_suptitle", None)
    title = _clean(sup.get_text()) if sup is not None else ""
    panels, scales = [], []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        if ax.get_label() == "<colorbar>" or hasattr(ax, "_colorbar"):
            name = _clean(ax.get_ylabel()) or _clean(ax.get_xlabel()) or "value"
            lo, hi = ax.get_ylim() if ax.get_ylabel() or not ax.get_xlabel() else ax.get_xlim()
            scales.append(f"Colour scale: {name}, from {format_value(min(lo, hi))} to {format_value(max(lo, hi))}.")
            continue
        if not (ax.has_data() or ax.get_title()):
            continue  # an empty spacer axes
        panels.append(describe_axes(ax))
    out = [f"{title}." if title else ""]
    if len(panels) > 1:
        out.append(f"{len(panels)} panels.")
        out += [f"Panel {i}: {p}" for i, p in enumerate(panels, 1)]
    else:
        out += panels
    out += scales
    text = " ".join(s for s in out if s)
    return re.sub(r"\.\.+", ".", text).strip() or "Chart with no data."


def figure_title(fig) -> str:
    """A short caption for a figure: its suptitle, else its axes titles (may be empty)."""
    sup = getattr(fig, "_suptitle", None)
    if sup is not None and _clean(sup.get_text()):
        return _clean(sup.get_text())
    titles = [_clean(ax.get_title()) for ax in fig.axes if ax.get_label() != "<colorbar>"]
    titles = [t for t in titles if t]
    return titles[0] if len(titles) == 1 else ""


__all__: Sequence[str] = ("describe_figure", "describe_axes", "figure_title", "format_value")
