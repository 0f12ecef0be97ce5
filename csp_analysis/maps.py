"""Static maps: record density, tested hot spots, and intervention areas with their buffer.

Every map is drawn with matplotlib in British National Grid (EPSG:27700) metres, so
distances are true and a scale bar can be drawn; no tiles are fetched from the internet.
Each function returns ``(figure, alt_text)``: the alt text says in words what the map
shows (for screen readers and for readers who cannot see the colours).

Density is shown as hexagonal bins of the published data.police.uk coordinates. Those
coordinates are anonymised "snap points" (the centre of a street or a landmark), not the
place of the crime, so many records share a point and the map shows where records are
*published*, at street-segment precision at best. Hexagons (rather than a kernel
density) show counts that a reader can check, need no bandwidth choice, and keep one
colour scale meaning "records per hexagon" across panels.

The scale bar and north arrow are drawn by hand (a few lines) to avoid another
dependency; on the British National Grid, grid north is within about 2 degrees of true
north across England.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .hotspots import to_bng

#: Hexagons across the width of a density map.
HEX_ACROSS = 40
HOT, COLD, NEUTRAL = "#b2182b", "#2166ac", "#d9d9d9"
TREATED, BUFFER, OTHER = "#d95f02", "#7570b3", "#bdbdbd"


def _plain(text: str) -> str:
    """Text safe for matplotlib (a '$' would start mathtext)."""
    return str(text).replace("$", r"\$")


def map_extent(x: np.ndarray, y: np.ndarray, margin: float = 0.04) -> tuple[float, float, float, float]:
    """(xmin, xmax, ymin, ymax) of the points with a margin (a share of the larger side)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        raise ValueError("no coordinates to map")
    x0, x1, y0, y1 = x[ok].min(), x[ok].max(), y[ok].min(), y[ok].max()
    pad = margin * max(x1 - x0, y1 - y0, 500.0)
    return x0 - pad, x1 + pad, y0 - pad, y1 + pad


def _nice_length(width_m: float) -> float:
    """A round scale-bar length (1, 2 or 5 x 10^k metres) near a fifth of the map width."""
    target = width_m / 5
    k = 10 ** np.floor(np.log10(target))
    for m in (5, 2, 1):
        if m * k <= target:
            return float(m * k)
    return float(k)


def add_scale_bar(ax, extent) -> float:
    """Draw a scale bar in the lower left; returns its length in metres."""
    x0, x1, y0, y1 = extent
    length = _nice_length(x1 - x0)
    bx, by = x0 + 0.04 * (x1 - x0), y0 + 0.05 * (y1 - y0)
    ax.plot([bx, bx + length], [by, by], color="black", lw=3, solid_capstyle="butt", zorder=10)
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(bx + length / 2, by + 0.015 * (y1 - y0), label, ha="center", va="bottom", fontsize=8, zorder=10)
    return length


def add_north_arrow(ax, extent) -> None:
    """Draw a north arrow in the upper right."""
    x0, x1, y0, y1 = extent
    ax.annotate("N", xy=(x1 - 0.06 * (x1 - x0), y1 - 0.05 * (y1 - y0)),
                xytext=(x1 - 0.06 * (x1 - x0), y1 - 0.16 * (y1 - y0)), ha="center", va="center", fontsize=9,
                fontweight="bold", arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.5}, zorder=10)


def _figsize(extent, width: float = 6.4) -> tuple[float, float]:
    """A figure size that fits the map's shape (wide districts get short figures)."""
    x0, x1, y0, y1 = extent
    return width, float(np.clip(width * (y1 - y0) / (x1 - x0) + 0.8, 3.0, 7.5))


def _frame(ax, extent, outline=None) -> None:
    x0, x1, y0, y1 = extent
    if outline is not None:
        _plot_outline(ax, outline)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.grid(False)
    for s in ax.spines.values():
        s.set_visible(True)
        s.set_color("#999999")


def _plot_outline(ax, outline) -> None:
    """Draw the exterior(s) of a shapely (Multi)Polygon or a GeoSeries' union."""
    geom = outline.union_all() if hasattr(outline, "union_all") else outline
    polys = getattr(geom, "geoms", [geom])
    for poly in polys:
        if hasattr(poly, "exterior"):
            xs, ys = poly.exterior.xy
            ax.plot(xs, ys, color="black", lw=1.0, zorder=5)


def _label_places(ax, labels: pd.DataFrame | None, dots: bool = True) -> None:
    if labels is None or not len(labels):
        return
    for r in labels.itertuples():
        if dots:
            ax.plot(r.x, r.y, "o", ms=3, color="black", zorder=11)
        ax.annotate(_plain(r.label), (r.x, r.y), xytext=(4, 4), textcoords="offset points", fontsize=7, zorder=11,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75})


def _nearest_label(labels: pd.DataFrame | None, x: float, y: float) -> str | None:
    if labels is None or not len(labels):
        return None
    d = np.hypot(labels["x"].to_numpy() - x, labels["y"].to_numpy() - y)
    i = int(np.argmin(d))
    return f"{labels['label'].iloc[i]} ({d[i] / 1000:.1f} km away)" if d[i] > 250 else str(labels["label"].iloc[i])


def density_maps(panels: Sequence[tuple[str, np.ndarray, np.ndarray]], extent=None, outline=None,
                 labels: pd.DataFrame | None = None, what: str = "records", area: str = "the area",
                 hex_across: int = HEX_ACROSS):
    """Side-by-side hexagon density maps on one colour scale.

    Parameters
    ----------
    panels : list of (title, x, y)
        One panel per period; x, y in British National Grid metres.
    extent : tuple, optional
        (xmin, xmax, ymin, ymax); default: all panels' points (see :func:`map_extent`).
    outline : shapely geometry or GeoSeries, optional
        The partnership boundary (drawn when a boundary file is loaded).
    labels : DataFrame, optional
        ``label``, ``x``, ``y``: places to name on every panel (e.g. the busiest LSOAs).
    what, area : str
        For the alt text.

    Returns
    -------
    (matplotlib.figure.Figure, str)
        The figure and its alt text.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    if extent is None:
        extent = map_extent(np.concatenate([np.asarray(p[1], float) for p in panels]),
                            np.concatenate([np.asarray(p[2], float) for p in panels]))
    x0, x1, y0, y1 = extent
    ny = max(1, int(round(hex_across * (y1 - y0) / (x1 - x0) / np.sqrt(3))))
    hex_w = (x1 - x0) / hex_across
    aspect = (y1 - y0) / (x1 - x0)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels) + 1.2, float(np.clip(4.6 * aspect + 1.2,
                                                                                       3.0, 6.5))), squeeze=False)
    axes = axes[0]
    colls, maxes, densest = [], [], []
    for ax, (title, x, y) in zip(axes, panels):
        x, y = np.asarray(x, float), np.asarray(y, float)
        hb = ax.hexbin(x, y, gridsize=(hex_across, ny), extent=extent, mincnt=1, cmap="YlOrRd", linewidths=0.1,
                       edgecolors="face", zorder=2)
        arr = hb.get_array()
        maxes.append(float(arr.max()) if arr is not None and len(arr) else 0.0)
        if arr is not None and len(arr):
            off = hb.get_offsets()[int(np.argmax(arr))]
            densest.append((float(off[0]), float(off[1]), float(arr.max())))
        else:
            densest.append(None)
        colls.append(hb)
        _frame(ax, extent, outline)
        _label_places(ax, labels)
        add_scale_bar(ax, extent)
        add_north_arrow(ax, extent)
        ax.set_title(_plain(f"{title}\n{len(x):,} {what}"), fontsize=10)
    vmax = max(max(maxes), 1.0)
    norm = LogNorm(vmin=1, vmax=max(vmax, 2.0))
    for hb in colls:
        hb.set_norm(norm)
    cb = fig.colorbar(colls[0], ax=list(axes), shrink=0.75, pad=0.02)
    cb.set_label(f"Records per hexagon (about {hex_w / 1000:.1f} km across; log scale)" if hex_w >= 1000 else
                 f"Records per hexagon (about {hex_w:.0f} m across; log scale)")
    parts = []
    for (title, x, _), d in zip(panels, densest):
        if d is None:
            parts.append(f"{title}: no {what}")
            continue
        near = _nearest_label(labels, d[0], d[1])
        parts.append(f"{title}: {len(x):,} {what}, densest hexagon {int(d[2]):,} records"
                     + (f", near {near}" if near else ""))
    alt = (f"{len(panels)} map{'s' if len(panels) != 1 else ''} of {area} side by side showing where {what} were "
           f"published, as hexagons about {hex_w / 1000:.1f} km across coloured from pale yellow (1 record) to dark "
           f"red ({int(vmax):,} records) on the same log scale. " + "; ".join(parts) + "."
           + (" The partnership boundary is outlined." if outline is not None else "")
           + (f" Labelled: {', '.join(map(str, labels['label']))}." if labels is not None and len(labels) else ""))
    return fig, alt


def hot_spot_map(result: pd.DataFrame, points: pd.DataFrame, polygons=None, outline=None,
                 labels: pd.DataFrame | None = None, title: str = "", what: str = "records", area: str = "the area"):
    """Map of Gi* classes: hot spots red, cold spots blue, the rest grey.

    Parameters
    ----------
    result : DataFrame
        :func:`csp_analysis.hotspots.gi_star` output (``lsoa_code``, ``classification``).
    points : DataFrame
        ``lsoa_code``, ``x``, ``y`` (centroids, BNG metres): drawn as dots when there are
        no polygons.
    polygons : geopandas.GeoDataFrame, optional
        ``lsoa_code`` and polygons in BNG: LSOAs are filled instead.

    Returns
    -------
    (Figure, str)
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    cls = result.set_index("lsoa_code")["classification"]
    colour = {"Hot spot": HOT, "Cold spot": COLD}
    if polygons is not None:
        g = polygons[polygons["lsoa_code"].isin(cls.index)].copy()
        b = g.total_bounds
        extent = map_extent(np.array([b[0], b[2]]), np.array([b[1], b[3]]))
        fig, ax = plt.subplots(figsize=_figsize(extent))
        g["c"] = g["lsoa_code"].map(cls).map(colour).fillna(NEUTRAL)
        g.plot(ax=ax, color=g["c"], edgecolor="white", linewidth=0.3, zorder=2)
    else:
        p = points[points["lsoa_code"].isin(cls.index)].copy()
        extent = map_extent(p["x"], p["y"])
        fig, ax = plt.subplots(figsize=_figsize(extent))
        p["cls"] = p["lsoa_code"].map(cls)
        for k, size in (("Not significant", 14), ("Cold spot", 26), ("Hot spot", 30)):
            s = p[p["cls"] == k]
            ax.scatter(s["x"], s["y"], s=size, c=colour.get(k, NEUTRAL), edgecolors="white", linewidths=0.4,
                       zorder=3 if k == "Not significant" else 12)  # above the labels
    _frame(ax, extent, outline)
    _label_places(ax, labels, dots=False)
    add_scale_bar(ax, extent)
    add_north_arrow(ax, extent)
    shape = "s" if polygons is not None else "o"
    ax.legend(handles=[Line2D([], [], marker=shape, ls="", color=c, label=k, markersize=8)
                       for k, c in (("Hot spot", HOT), ("Cold spot", COLD), ("Not significant", NEUTRAL))],
              loc="lower right", fontsize=8, framealpha=0.9)
    ax.set_title(_plain(title), fontsize=10)
    n_hot, n_cold = int((cls == "Hot spot").sum()), int((cls == "Cold spot").sum())
    hot_names = []
    if labels is not None and n_hot:
        hot_names = [str(r.label) for r in labels.itertuples() if cls.get(getattr(r, "lsoa_code", None)) == "Hot spot"]
    alt = (f"Map of {area}'s {len(cls)} LSOAs, each "
           + ("filled" if polygons is not None else "drawn as a dot at its centroid")
           + f" by its Getis-Ord Gi* result for {what}: {n_hot} hot spot{'s' if n_hot != 1 else ''} in red, "
           f"{n_cold} cold spot{'s' if n_cold != 1 else ''} in blue, the rest grey."
           + (f" Hot spots include {', '.join(hot_names)}." if hot_names else ""))
    return fig, alt


def displacement_map(places: pd.DataFrame, polygons=None, buffer_km: float | None = None, outline=None,
                     title: str = "", area: str = "the intervention"):
    """The treated area, its buffer and the surrounding places on one map.

    Parameters
    ----------
    places : DataFrame
        ``unit`` (or ``lsoa_code``), ``role`` ("treated", "buffer", anything else = other),
        ``x``, ``y`` (centroids, BNG metres); optional ``name``.
    polygons : geopandas.GeoDataFrame, optional
        ``lsoa_code``, ``role`` and polygons (BNG): areas are filled instead of dots.
    buffer_km : float, optional
        The buffer distance: drawn as a dashed circle of that radius around each treated
        centroid (the rule that picked the buffer).

    Returns
    -------
    (Figure, str)
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Circle

    role = places["role"].where(places["role"].isin(["treated", "buffer"]), "other")
    tr, bu = places[role == "treated"], places[role == "buffer"]
    focus = places[role.isin(["treated", "buffer"])]
    if not len(tr):
        raise ValueError("no treated places to map")
    fig, ax = plt.subplots(figsize=(6.4, 6.0))
    r = (buffer_km or 0) * 1000
    x0, x1, y0, y1 = map_extent(np.r_[focus["x"], tr["x"] - r, tr["x"] + r], np.r_[focus["y"], tr["y"] - r, tr["y"] + r],
                                margin=0.15)
    extent = (x0, x1, y0, y1)
    colour = {"treated": TREATED, "buffer": BUFFER, "other": OTHER}
    if polygons is not None:
        g = polygons.copy()
        g["c"] = g["role"].map(colour).fillna(OTHER)
        g.plot(ax=ax, color=g["c"], edgecolor="white", linewidth=0.4, zorder=2)
    else:
        for k, size in (("other", 12), ("buffer", 36), ("treated", 40)):
            s = places[role == k]
            ax.scatter(s["x"], s["y"], s=size, c=colour[k], edgecolors="white", linewidths=0.4, zorder=3)
    if r > 0:
        for t in tr.itertuples():
            ax.add_patch(Circle((t.x, t.y), r, fill=False, ls="--", lw=0.6, color=BUFFER, alpha=0.6, zorder=4))
    _frame(ax, extent, outline)
    add_scale_bar(ax, extent)
    add_north_arrow(ax, extent)
    shape = "s" if polygons is not None else "o"
    handles = [Line2D([], [], marker=shape, ls="", color=TREATED, label=f"Treated area ({len(tr)})", markersize=8),
               Line2D([], [], marker=shape, ls="", color=BUFFER, label=f"Buffer ({len(bu)})", markersize=8),
               Line2D([], [], marker=shape, ls="", color=OTHER, label="Other places", markersize=8)]
    if r > 0:
        handles.append(Line2D([], [], ls="--", color=BUFFER, label=f"{buffer_km:g} km from a treated centroid"))
    ax.legend(handles=handles, loc="lower right", fontsize=8, framealpha=0.9)
    ax.set_title(_plain(title), fontsize=10)
    span = max(x1 - x0, y1 - y0) / 1000
    alt = (f"Map of {area}: the {len(tr)} treated place{'s' if len(tr) != 1 else ''} in orange and the "
           f"{len(bu)} buffer place{'s' if len(bu) != 1 else ''} around {'them' if len(tr) != 1 else 'it'} in purple"
           + (f" (places whose centroid lies within {buffer_km:g} km of a treated centroid, dashed circles)"
              if r > 0 else "")
           + f", other places grey; the map is about {span:.1f} km across.")
    return fig, alt
