"""The national index: one sortable, filterable table of every partnership run, its CSV and a funnel plot.

For each partnership in ``outputs/index.json`` the index shows

* its **status** (ok / warning / failed, with the reason) and links to its reports;
* its **headline change**: all crime (excluding anti-social behaviour), latest 12 months
  against the previous 12, with the 95% interval and the verdict its own trends report
  gave (``change_all_crime_excl_asb`` in ``headlines.json``: a quasi-Poisson comparison
  of two counts, the verdict adjusted for the comparisons in that report's family);
* its **crime rate per 1,000 residents a year** over one common 12-month period (the
  latest month every force in the store has), with a 95% interval (exact Poisson below 10
  records, Byar's above: :func:`csp_analysis.rates.rate_ci`), compared with the **England and
  Wales rate** (all districts with police records in the store) by the Fingertips funnel
  method: :func:`csp_analysis.funnels.assign_funnel_significance` with observed records
  against the number expected at the national rate (95% and 99.8% limits);
* whether the spread between partnerships is wider than chance alone
  (:func:`csp_analysis.funnels.funnel_outliers`, additive over-dispersion, 99.8%), only
  with at least 20 partnerships (Spiegelhalter 2005);
* the flag **"worse than national and getting worse"**, in the manner of Fingertips' "worse
  than England and getting worse": the rate is above the national rate's 95% funnel limit
  *and* the partnership's all-crime change is a rise its report judged unlikely to be
  chance.

:func:`build_index_table` makes the table (one row per partnership, with the standard
result columns ``value, lower, upper, confidence, method, p_value, sentence`` for the rate
against England and Wales), :func:`write_national_index` writes ``index.html``,
``index.csv`` and the funnel plot inside the page. Sorting and filtering are a small inline
script (no external file, works offline); without JavaScript the page is a plain table.

References
----------
Public Health England. Fingertips technical guidance: funnel plots; "recent trends" and
    comparisons with England. PHEindicatormethods v2.1.0.
Spiegelhalter DJ (2005). Funnel plots for comparing institutional performance. Stat Med
    24:1185-1202.
"""
from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

CHANGE_KEY = "change_all_crime_excl_asb"
ASB = "Anti-social behaviour"
MIN_UNITS_OVERDISPERSION = 20
SIGNIFICANCE_WORDS = {
    "High (0.001)": "Higher (outside 99.8% limits)",
    "High (0.025)": "Higher (outside 95% limits)",
    "Low (0.001)": "Lower (outside 99.8% limits)",
    "Low (0.025)": "Lower (outside 95% limits)",
    "Not significant": "Similar (within 95% limits)",
}
FLAG_DEFINITION = (
    "Worse than national and getting worse: the partnership's crime rate (all crime excluding anti-social "
    "behaviour, per 1,000 residents a year) is above the upper 95% funnel limit around the England and Wales "
    "rate, and its own trends report found that all crime rose between the previous 12 months and the latest "
    "12 with a rise unlikely to be chance (95% interval above zero and p below 0.05 after allowing for the "
    "report's comparisons). This follows Fingertips' \"worse than England and getting worse\".")
INDEX_COLUMNS = [
    "slug", "name", "group", "status", "action", "error", "warnings", "reports",
    "change_percent", "change_lower", "change_upper", "change_p_value", "change_p_adjusted", "change_verdict",
    "change_sentence", "period_start", "period_end", "crimes", "population", "expected",
    "value", "lower", "upper", "confidence", "method", "p_value", "national_rate", "significance",
    "comparison", "overdispersion_outlier", "worse_and_getting_worse", "sentence",
]


# ---------------------------------------------------------------------------- data
def common_period(con, months: int = 12) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The latest ``months`` months that every force in the store has (None for an empty store).

    The end is the earliest of the forces' latest months, so no force's recent months are
    missing from a comparison between partnerships.
    """
    rows = con.execute("SELECT force, max(month) FROM street GROUP BY force").fetchall()
    ends = [pd.Timestamp(r[1]) for r in rows if r[1] is not None]
    if not ends:
        return None
    end = min(ends)
    start = (end.to_period("M") - (months - 1)).to_timestamp()
    return start, end


def district_counts(con, start, end) -> pd.DataFrame:
    """Crimes (excluding anti-social behaviour) and residents per local authority district.

    Records are assigned to districts as the reports assign them (``street_geo``: the LAD of
    their LSOA). Residents: the mid-year estimate loaded last, else the Census 2021 LSOA
    populations summed (as :func:`csp_analysis.data.population`). Only districts with at
    least one record in the period are returned (districts of forces not in the store would
    otherwise count as crime-free).
    """
    crimes = con.execute(
        "SELECT lad_code, count(*) AS crimes FROM street_geo WHERE month BETWEEN ? AND ? "
        "AND crime_type <> ? AND lad_code IS NOT NULL GROUP BY lad_code",
        [pd.Timestamp(start).date(), pd.Timestamp(end).date(), ASB]).df()
    pop = con.execute(
        "SELECT area_code AS lad_code, population FROM ("
        " SELECT area_code, population, row_number() OVER (PARTITION BY area_code ORDER BY rowid DESC) AS rk "
        " FROM population_area) WHERE rk = 1").df()
    census = con.execute(
        "SELECT l.lad_code, sum(p.population) AS census FROM population_lsoa p "
        "JOIN lsoa_lad l ON l.lsoa_code = p.lsoa_code GROUP BY l.lad_code").df()
    out = crimes.merge(pop, on="lad_code", how="left").merge(census, on="lad_code", how="left")
    out["population"] = out["population"].fillna(out["census"])
    return out.drop(columns="census")


def partnership_rates(con, partnerships: dict[str, list[str]], months: int = 12) -> tuple[pd.DataFrame, dict]:
    """Crimes, residents and rate per 1,000 a year for each partnership, and the national rate.

    Parameters
    ----------
    con : duckdb connection (read-only is enough)
    partnerships : dict
        ``{slug: [LAD codes]}``.
    months : int
        Length of the common period (12: rates are per year).

    Returns
    -------
    (DataFrame, dict)
        One row per slug: ``crimes``, ``population`` (NaN when a district has no residents
        in the store), ``period_start``, ``period_end``; and ``{"rate", "crimes",
        "population", "districts", "period_start", "period_end"}`` for England and Wales
        (every district with records and residents in the store).
    """
    period = common_period(con, months)
    cols = ["slug", "crimes", "population", "period_start", "period_end"]
    if period is None:
        return pd.DataFrame(columns=cols), {}
    start, end = period
    d = district_counts(con, start, end).set_index("lad_code")
    known = d.dropna(subset=["population"])
    known = known[known["population"] > 0]
    national = {"crimes": int(known["crimes"].sum()), "population": float(known["population"].sum()),
                "districts": int(len(known)), "period_start": start, "period_end": end}
    national["rate"] = (national["crimes"] / national["population"] * 1000 * 12 / months
                        if national["population"] else float("nan"))
    rows = []
    for slug, lads in partnerships.items():
        crimes = float(sum(int(d["crimes"].get(c, 0)) for c in lads))
        pops = [d["population"].get(c, np.nan) for c in lads]
        pop = float(np.sum(pops)) if lads and all(np.isfinite(p) and p > 0 for p in pops) else np.nan
        rows.append({"slug": slug, "crimes": crimes, "population": pop, "period_start": start, "period_end": end})
    return pd.DataFrame(rows, columns=cols), national


def compare_with_national(crimes, population, national_rate: float, months: int = 12) -> pd.DataFrame:
    """Each partnership's rate against the national rate: Fingertips funnel significance.

    The expected count is ``population x national_rate / 1000`` (per year, scaled by
    ``months / 12``); :func:`csp_analysis.funnels.assign_funnel_significance` (ratio, the PHE
    method: exact Poisson interval of the observed count below 10, Byar's above, divided by
    the expected count and compared with 1) labels it at 95% and 99.8%. ``p_value`` is the
    two-sided exact Poisson test of the observed count against the expected one (doubling the
    smaller tail). The national rate is treated as known (it is estimated from many more
    records than any partnership's).

    Returns
    -------
    DataFrame
        ``expected``, ``ratio``, ``significance`` (PHE label), ``comparison`` (words),
        ``p_value``, in the order given; NaN/empty where the population is missing.
    """
    from scipy import stats

    from .funnels import assign_funnel_significance

    o = np.asarray(crimes, dtype=float)
    n = np.asarray(population, dtype=float)
    e = n * national_rate / 1000 * months / 12
    ok = np.isfinite(e) & (e > 0) & np.isfinite(o)
    out = pd.DataFrame({"expected": e, "ratio": np.where(ok, o / np.where(ok, e, 1), np.nan),
                        "significance": "", "comparison": "not available (no residents in the store)",
                        "p_value": np.nan})
    if ok.any():
        sig = assign_funnel_significance(o[ok], e[ok], statistic="ratio")["significance"].to_numpy()
        out.loc[ok, "significance"] = sig
        out.loc[ok, "comparison"] = [SIGNIFICANCE_WORDS.get(s, s) for s in sig]
        lower_tail = stats.poisson.cdf(o[ok], e[ok])
        upper_tail = stats.poisson.sf(o[ok] - 1, e[ok])
        out.loc[ok, "p_value"] = np.minimum(1.0, 2 * np.minimum(lower_tail, upper_tail))
    return out


def _change(headlines: list[dict]) -> dict:
    h = next((x for x in headlines or [] if x.get("key") == CHANGE_KEY), None)
    if h is None or h.get("value") is None:
        return {}
    sentence = str(h.get("sentence") or "")
    m = re.search(r"(unlikely to be chance|could be chance)", sentence)
    return {"change_percent": h.get("value"), "change_lower": h.get("lower"), "change_upper": h.get("upper"),
            "change_p_value": h.get("p_value"), "change_p_adjusted": h.get("p_adjusted"),
            "change_verdict": m.group(1) if m else "", "change_sentence": sentence}


def build_index_table(entries: list[dict], params_dir: Path | None = None, store: Path | None = None,
                      con=None) -> tuple[pd.DataFrame, dict]:
    """One row per partnership for the national index (see the module docstring).

    Parameters
    ----------
    entries : list of dict
        The runner's results as in ``outputs/index.json`` (``slug``, ``name``, ``status``,
        ``notebooks``, ``headlines``, ...).
    params_dir : Path, optional
        Where ``<slug>.yaml`` lives (for LAD codes and group). Without it, or without a
        store, the rate columns are empty.
    store : Path, optional
        The DuckDB store, opened read-only (or pass an open ``con``).

    Returns
    -------
    (DataFrame, dict)
        The table (columns :data:`INDEX_COLUMNS`) and the national figures (empty when not
        computed). The standard columns ``value, lower, upper, confidence, method, p_value,
        sentence`` hold the partnership's crime rate per 1,000 a year, its 95% interval and
        its comparison with England and Wales.
    """
    lads, groups = _partnership_areas(entries, params_dir)
    rates, national = _store_rates(lads, store, con)
    t = _entry_rows(entries, groups)
    if len(rates):
        t = t.drop(columns=["crimes", "population", "period_start", "period_end"]).merge(rates, on="slug", how="left")
    have = t["population"].notna() & (t["population"].astype(float) > 0) if len(t) else pd.Series([], dtype=bool)
    t["confidence"] = 0.95
    t["method"] = ""
    t["comparison"] = "not computed"
    if national and have.any():
        _compare_rates(t, have, national)
    t.loc[~have, "comparison"] = "not available" if national else "not computed"
    rose = (pd.to_numeric(t["change_percent"], errors="coerce") > 0) & (t["change_verdict"] == "unlikely to be chance")
    worse = t["significance"].isin(["High (0.025)", "High (0.001)"])
    t["worse_and_getting_worse"] = (rose & worse).astype(bool)
    t["sentence"] = [_row_sentence(r) for _, r in t.iterrows()]
    return t[INDEX_COLUMNS].reset_index(drop=True), national


def _partnership_areas(entries: list[dict], params_dir: Path | None) -> tuple[dict, dict]:
    """``({slug: LAD codes}, {slug: group})`` from the partnerships' params files (none
    without ``params_dir``; a params file that cannot be read is left out)."""
    from . import params as params_mod

    lads, groups = {}, {}
    if params_dir is None:
        return lads, groups
    for e in entries:
        try:
            p = params_mod.load_params(Path(params_dir) / f"{e['slug']}.yaml", check_files=False)
        except Exception:  # noqa: BLE001 - a bad params file shows as the partnership's own failure
            continue
        lads[e["slug"]], groups[e["slug"]] = list(p.lad_codes), p.group or ""
    return lads, groups


def _store_rates(lads: dict, store: Path | None, con) -> tuple[pd.DataFrame, dict]:
    """:func:`partnership_rates` from ``con`` or the store opened read-only; empty when there
    are no areas, no store, or the store cannot give them (the page then says so)."""
    from . import store as store_mod

    rates, national = pd.DataFrame(columns=["slug"]), {}
    if not lads or (con is None and store is None):
        return rates, national
    own = con is None
    try:
        if own:
            con = store_mod.connect(store, read_only=True)
        rates, national = partnership_rates(con, lads)
    except Exception:  # noqa: BLE001 - the index is still written; the page says rates are missing
        rates, national = pd.DataFrame(columns=["slug"]), {}
    finally:
        if own and con is not None:
            con.close()
    return rates, national


def _entry_rows(entries: list[dict], groups: dict) -> pd.DataFrame:
    """The runner's side of the table: one row per entry (status, reports, headline change),
    every column of :data:`INDEX_COLUMNS` present (text columns as strings)."""
    rows = []
    for e in entries:
        nbs = e.get("notebooks") or []
        rows.append({
            "slug": e["slug"], "name": e.get("name") or e["slug"], "group": groups.get(e["slug"], ""),
            "status": e.get("status") if e.get("status") in ("ok", "warning", "failed") else "failed",
            "action": e.get("action") or "", "error": e.get("error") or "",
            "warnings": " | ".join(e.get("warnings") or []),
            "reports": " ".join(f"{e['slug']}/{n['html']}" for n in nbs if n.get("html")),
            **_change(e.get("headlines") or []),
        })
    t = pd.DataFrame(rows)
    text_cols = {"significance", "comparison", "overdispersion_outlier", "method", "change_verdict",
                 "change_sentence", "group", "sentence"}
    for c in INDEX_COLUMNS:
        if c not in t.columns:
            t[c] = pd.Series([""] * len(t), dtype=object) if c in text_cols else np.nan
        elif c in text_cols:
            t[c] = t[c].fillna("").astype(object)
    return t


def _compare_rates(t: pd.DataFrame, have: pd.Series, national: dict) -> None:
    """Fill (in place) the rows with residents: the rate per 1,000 with its interval, the
    funnel comparison with England and Wales and, with enough partnerships, the
    over-dispersion outlier verdict (``national["tau2"]`` is set then)."""
    from .rates import rate_ci

    ci = rate_ci(t.loc[have, "crimes"].astype(float).to_numpy(), t.loc[have, "population"].astype(float).to_numpy(),
                 multiplier=1000)
    t.loc[have, "value"] = ci["value"].to_numpy()
    t.loc[have, "lower"] = ci["lower"].to_numpy()
    t.loc[have, "upper"] = ci["upper"].to_numpy()
    t.loc[have, "method"] = [f"crude rate per 1,000 a year, {m} 95% CI; PHE funnel (ratio) against the "
                             f"England and Wales rate" for m in ci["method"]]
    cmp = compare_with_national(t.loc[have, "crimes"], t.loc[have, "population"], national["rate"])
    for c in ("expected", "significance", "comparison", "p_value"):
        t.loc[have, c] = cmp[c].to_numpy()
    t["national_rate"] = national["rate"]
    if int(have.sum()) >= MIN_UNITS_OVERDISPERSION:
        from .funnels import funnel_outliers

        fo = funnel_outliers(t.loc[have, "crimes"].astype(float).to_numpy(),
                             t.loc[have, "expected"].astype(float).to_numpy(), confidence=0.998,
                             overdispersion="additive")
        t.loc[have, "overdispersion_outlier"] = np.where(fo["direction"] == "", "within",
                                                         fo["direction"]).astype(object)
        national["tau2"] = float(fo["tau2"].iloc[0])
    else:
        t.loc[have, "overdispersion_outlier"] = "not assessed (fewer than 20 partnerships)"


def _fmt(v, spec="{:.1f}", missing="–") -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return missing
    return spec.format(f) if np.isfinite(f) else missing


def _row_sentence(r) -> str:
    parts = [f"{r['name']}: {r['status']}."]
    if pd.notna(r.get("change_percent")):
        parts.append(f"All crime (excl. ASB) changed {_fmt(r['change_percent'], '{:+.1f}')}% between the previous "
                     f"12 months and the latest 12 (95% CI {_fmt(r['change_lower'], '{:+.1f}')}% to "
                     f"{_fmt(r['change_upper'], '{:+.1f}')}%; {r['change_verdict'] or 'no verdict'}).")
    if pd.notna(r.get("value")):
        parts.append(f"{_fmt(r['value'])} crimes per 1,000 residents a year (95% CI {_fmt(r['lower'])} to "
                     f"{_fmt(r['upper'])}) against {_fmt(r['national_rate'])} for England and Wales: "
                     f"{str(r['comparison']).lower()}.")
    if bool(r.get("worse_and_getting_worse")):
        parts.append("Worse than national and getting worse.")
    return " ".join(parts)


# ---------------------------------------------------------------------------- funnel plot
def funnel_figure(t: pd.DataFrame, national: dict):
    """Funnel plot of partnership crime rates against residents, with 95% and 99.8% limits
    around the England and Wales rate (exact Poisson, Spiegelhalter's interpolation:
    :func:`csp_analysis.funnels.funnel_ratio_limits`). Returns ``(figure, alt text)``, or
    ``(None, reason)`` when there is nothing to draw."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .escape import mpl_text
    from .funnels import funnel_ratio_limits

    d = t[pd.to_numeric(t["value"], errors="coerce").notna()]
    if not national or d.empty:
        return None, "No funnel plot: no partnership has both police records and residents in the store."
    rate = national["rate"]
    pop = d["population"].astype(float).to_numpy()
    grid = np.geomspace(max(1000.0, pop.min() * 0.8), pop.max() * 1.2, 300)
    fig, ax = plt.subplots(figsize=(8, 5), dpi=100)
    for conf, style in ((0.95, "--"), (0.998, "-")):
        lim = funnel_ratio_limits(grid * rate / 1000, confidence=conf)
        ax.plot(grid, lim["lower"] * rate, color="0.35", linestyle=style, linewidth=1, label=f"{conf * 100:g}% limits")
        ax.plot(grid, lim["upper"] * rate, color="0.35", linestyle=style, linewidth=1)
    if "tau2" in national:  # the spread between areas allowed for (Spiegelhalter's additive adjustment)
        lim = funnel_ratio_limits(grid * rate / 1000, confidence=0.998, overdispersion="additive",
                                  tau2=national["tau2"])
        ax.plot(grid, lim["lower"] * rate, color="#9467BD", linestyle=":", linewidth=1.3,
                label="99.8% limits allowing for the spread between areas")
        ax.plot(grid, lim["upper"] * rate, color="#9467BD", linestyle=":", linewidth=1.3)
    ax.axhline(rate, color="#2CA02C", linewidth=1.2, label=f"England and Wales ({rate:.1f})")
    sig = d["significance"].astype(str)
    groups = [("Higher than national (95%)", sig.str.startswith("High"), "#D62728", "^"),
              ("Similar", sig == "Not significant", "#7F7F7F", "o"),
              ("Lower than national (95%)", sig.str.startswith("Low"), "#2C7BB6", "v")]
    for label, mask, colour, marker in groups:
        if mask.any():
            ax.scatter(d.loc[mask, "population"], d.loc[mask, "value"], s=18, color=colour, marker=marker,
                       label=f"{label}: {int(mask.sum())}", zorder=3)
    flag = d["worse_and_getting_worse"].astype(bool)
    if flag.any():
        ax.scatter(d.loc[flag, "population"], d.loc[flag, "value"], s=70, facecolors="none", edgecolors="black",
                   linewidths=1.4, label=f"Worse than national and getting worse: {int(flag.sum())}", zorder=4)
    if len(d) <= 12:
        for _, r in d.iterrows():
            ax.annotate(mpl_text(str(r["name"])[:30]), (r["population"], r["value"]), textcoords="offset points",
                        xytext=(4, 4), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("Residents (log scale)")
    ax.set_ylabel("Crimes per 1,000 residents a year")
    start, end = national["period_start"], national["period_end"]
    ax.set_title(f"Crime rates of {len(d)} partnerships against England and Wales, "
                 f"{pd.Timestamp(start):%b %Y} to {pd.Timestamp(end):%b %Y}")
    ax.legend(frameon=False, fontsize=7, loc="upper right")
    fig.tight_layout()
    n_hi = int(sig.str.startswith("High").sum())
    n_lo = int(sig.str.startswith("Low").sum())
    hi3 = int((sig == "High (0.001)").sum())
    lo3 = int((sig == "Low (0.001)").sum())
    alt = (f"Funnel plot: crimes per 1,000 residents a year (vertical) against residents (horizontal, log scale) "
           f"for {len(d)} partnerships, from {_fmt(d['value'].min())} to {_fmt(d['value'].max())}, around the "
           f"England and Wales rate of {rate:.1f} with 95% and 99.8% limits that narrow as residents increase. "
           f"{n_hi} partnerships are above the upper 95% limit ({hi3} above 99.8%), {n_lo} below the lower 95% "
           f"limit ({lo3} below 99.8%) and {len(d) - n_hi - n_lo} within; {int(flag.sum())} are worse than "
           f"national and getting worse.")
    if "tau2" in national:
        od = d["overdispersion_outlier"].astype(str)
        alt += (f" Allowing for the usual spread between areas (wider dotted 99.8% limits), {int((od == 'high').sum())}"
                f" partnerships are above and {int((od == 'low').sum())} below.")
    return fig, alt


def _figure_html(fig, alt: str, caption: str) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (f"<figure class='csp-chart'><img src='data:image/png;base64,{data}' alt='{html.escape(alt, quote=True)}'"
            f" style='max-width:100%;height:auto'><figcaption>{html.escape(caption)}</figcaption></figure>")


# ---------------------------------------------------------------------------- page
_SCRIPT = r"""
(function () {
  var table = document.getElementById('csp-national');
  var form = document.getElementById('csp-filters');
  if (!table || !form || !table.tBodies.length) { return; }
  form.hidden = false;
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var count = document.getElementById('csp-shown');
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  function key(row, i, numeric) {
    var c = row.cells[i];
    var v = c.getAttribute('data-sort');
    if (v === null) { v = c.textContent; }
    if (numeric) { v = parseFloat(v); return isNaN(v) ? null : v; }
    return v.toLowerCase();
  }
  heads.forEach(function (th, i) {
    var kind = th.getAttribute('data-sortable');
    if (!kind) { return; }
    var b = document.createElement('button');
    b.type = 'button';
    b.className = 'csp-sort';
    b.innerHTML = th.innerHTML;
    th.innerHTML = '';
    th.appendChild(b);
    b.addEventListener('click', function () {
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      heads.forEach(function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      var numeric = kind === 'number';
      rows.sort(function (a, c) {
        var x = key(a, i, numeric), y = key(c, i, numeric);
        if (x === y) { return 0; }
        if (x === null) { return 1; }
        if (y === null) { return -1; }
        var r = numeric ? x - y : x.localeCompare(y);
        return asc ? r : -r;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
  var text = document.getElementById('csp-filter-text');
  var status = document.getElementById('csp-filter-status');
  var flag = document.getElementById('csp-filter-flag');
  function apply() {
    var q = text.value.toLowerCase().trim(), st = status.value, fl = flag.checked, n = 0;
    rows.forEach(function (r) {
      var show = (!q || r.getAttribute('data-search').indexOf(q) !== -1) &&
                 (!st || r.getAttribute('data-status') === st) &&
                 (!fl || r.getAttribute('data-flag') === '1');
      r.hidden = !show;
      if (show) { n += 1; }
    });
    count.textContent = n + ' of ' + rows.length + ' partnerships shown.';
  }
  text.addEventListener('input', apply);
  status.addEventListener('change', apply);
  flag.addEventListener('change', apply);
  form.addEventListener('submit', function (ev) { ev.preventDefault(); apply(); });
  apply();
})();
"""

_CSS = """.csp-national td,.csp-national th{vertical-align:top;text-align:left}
.csp-national td.num{text-align:right;white-space:nowrap}
.ok{color:#176d2c}.warning{color:#8a5300}.failed{color:#b00020;font-weight:bold}
.csp-sort{font:inherit;font-weight:bold;background:none;border:0;padding:0;color:inherit;text-decoration:underline;
cursor:pointer;text-align:left}
th[aria-sort=ascending] .csp-sort::after{content:" \\25B2"}th[aria-sort=descending] .csp-sort::after{content:" \\25BC"}
#csp-filters{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:end;margin:1rem 0}
#csp-filters[hidden]{display:none}
#csp-filters label{display:block;font-weight:bold}
.csp-flag{font-weight:bold;color:#b00020}
.csp-national details summary{cursor:pointer}"""


def _status_cell(r: dict, entry: dict) -> str:
    st = r["status"]
    when = (f"unchanged since {html.escape(str(entry.get('finished') or 'the last run'))}"
            if entry.get("action") == "unchanged" else f"{float(entry.get('seconds') or 0):.0f} s")
    err = f"<br><small>{html.escape(str(entry.get('error'))[:300])}</small>" if entry.get("error") else ""
    warns = "".join(f"<br><small class='warning'>{html.escape(w[:200])}</small>"
                    for w in (entry.get("warnings") or [])[:3])
    more = len(entry.get("warnings") or []) - 3
    if more > 0:
        warns += f"<br><small>and {more} more warning(s)</small>"
    return f"<td data-sort='{st}'><span class='{st}'>{html.escape(st)}</span><br><small>{when}</small>{err}{warns}</td>"


def _reports_cell(entry: dict, notebooks, titles: dict) -> str:
    items = []
    for nb in notebooks:
        n = next((x for x in entry.get("notebooks") or [] if x.get("notebook") == nb), None)
        if n is None:
            continue
        title = html.escape(titles.get(nb, nb))
        st = n.get("status") if n.get("status") in ("ok", "warning", "failed") else "failed"
        link = (f"<a href='{html.escape(entry['slug'])}/{html.escape(n['html'])}'>{title}</a>" if n.get("html")
                else title)
        msg = n.get("error") if st == "failed" else "; ".join(n.get("warnings") or [])
        why = f": {html.escape((msg or '')[:160])}" if st != "ok" and msg else ""
        items.append(f"<li>{link} <small class='{st}'>{html.escape(str(n.get('status')))}{why}</small></li>")
    return f"<td><ul>{''.join(items)}</ul></td>" if items else "<td>–</td>"


def render_index_html(t: pd.DataFrame, national: dict, entries: list[dict], notebooks, titles: dict,
                      version: str) -> str:
    """The body of ``index.html`` (to be wrapped by :func:`csp_analysis.html.wrap_page`)."""
    by_slug = {e["slug"]: e for e in entries}
    n = len(t)
    counts = t["status"].value_counts().to_dict() if n else {}
    flagged = t[t["worse_and_getting_worse"].astype(bool)] if n else t
    rows = [_index_row(r, by_slug.get(r["slug"], {}), notebooks, titles) for _, r in t.iterrows()]
    nat = _national_paragraph(national)
    summary = (f"<p>{n} partnership(s): {counts.get('ok', 0)} ok, {counts.get('warning', 0)} with warnings, "
               f"{counts.get('failed', 0)} failed. {len(flagged)} worse than national and getting worse"
               + (": " + ", ".join(html.escape(str(x)) for x in flagged['name']) if 0 < len(flagged) <= 20 else "")
               + ".</p>")
    fig_html = _funnel_html(t, national)
    filters = _filters_form()
    body = f"""<style>{_CSS}</style>
<h1>Community Safety Partnership reports</h1>
<p>Generated {dt.datetime.now(dt.timezone.utc):%d %B %Y %H:%M} UTC by csp-analysis {html.escape(version)}.
Each link opens a self-contained HTML report; tables are downloadable as CSV inside the report and in
<code>&lt;partnership&gt;/tables/</code>. This table as CSV: <a href='index.csv' download>index.csv</a>.</p>
{summary}
<h2 id='csp-national-heading'>All partnerships</h2>
<p>Status: <span class='ok'>ok</span> every section rendered; <span class='warning'>warning</span> a section could
not compute (reason given); <span class='failed'>failed</span> a report did not render. "Unchanged" partnerships
were not re-rendered: nothing they read changed since the run shown. Change: all crime excluding anti-social
behaviour, latest 12 months against the previous 12, with its 95% interval and the verdict of the partnership's
trends report. {html.escape(FLAG_DEFINITION)} Column headings sort the table (with JavaScript; without it the
table is in alphabetical order).</p>
{filters}
<div class='csp-table-wrap' role='region' tabindex='0' aria-labelledby='csp-national-caption'>
<table id='csp-national' class='csp-national'><caption id='csp-national-caption'>Partnerships: status, reports,
change in all crime, rate per 1,000 against England and Wales, and the worse-and-getting-worse flag</caption>
<thead><tr><th scope='col' data-sortable='text'>Partnership</th><th scope='col' data-sortable='text'>Status</th>
<th scope='col'>Reports</th><th scope='col' data-sortable='number'>All crime change</th>
<th scope='col' data-sortable='number'>Crimes per 1,000 a year</th>
<th scope='col' data-sortable='number'>Against England and Wales</th>
<th scope='col' data-sortable='number'>Worse and getting worse</th><th scope='col'>Headline figures</th></tr></thead>
<tbody>{''.join(rows)}</tbody></table></div>
<h2 id='csp-funnel-heading'>Crime rates against England and Wales</h2>
{nat}
{fig_html}
<script>{_SCRIPT}</script>"""
    return body


def _index_row(r: pd.Series, e: dict, notebooks, titles: dict) -> str:
    """One ``<tr>`` of the index table: partnership, status, reports, change, rate,
    comparison with England and Wales, flag and headline figures (text escaped)."""
    name = html.escape(str(r["name"]))
    first = next((x for x in e.get("notebooks") or [] if x.get("html")), None)
    name_html = (f"<a href='{html.escape(r['slug'])}/{html.escape(first['html'])}'>{name}</a>" if first
                 else name)
    search = html.escape(f"{r['name']} {r['slug']} {r['group']}".lower(), quote=True)
    if pd.notna(r["change_percent"]):
        verdict = html.escape(str(r["change_verdict"] or ""))
        change = (f"<td class='num' data-sort='{float(r['change_percent']):.3f}'>{_fmt(r['change_percent'], '{:+.1f}')}%"
                  f"<br><small>95% CI {_fmt(r['change_lower'], '{:+.1f}')}% to "
                  f"{_fmt(r['change_upper'], '{:+.1f}')}%</small><br><small>{verdict}</small></td>")
    else:
        change = "<td class='num' data-sort=''>–<br><small>no trends headline</small></td>"
    if pd.notna(r["value"]):
        rate = (f"<td class='num' data-sort='{float(r['value']):.4f}'>{_fmt(r['value'])}<br><small>95% CI "
                f"{_fmt(r['lower'])} to {_fmt(r['upper'])}</small></td>")
    else:
        rate = "<td class='num' data-sort=''>–</td>"
    sig = str(r["significance"] or "")
    order = {"High (0.001)": 5, "High (0.025)": 4, "Not significant": 3, "Low (0.025)": 2, "Low (0.001)": 1}
    od = r["overdispersion_outlier"]
    od_txt = (f"<br><small>between-area spread allowed for: {html.escape(str(od))}</small>"
              if isinstance(od, str) and od in ("high", "low", "within") else "")
    cmp_cell = (f"<td data-sort='{order.get(sig, 0)}'>{html.escape(str(r['comparison']))}{od_txt}</td>")
    flag = bool(r["worse_and_getting_worse"])
    flag_cell = (f"<td data-sort='{int(flag)}'>" + ("<span class='csp-flag'>Yes</span>" if flag else "No")
                 + "</td>")
    heads = e.get("headlines") or []
    heads_html = ("<td><details><summary>" + f"{len(heads)} figure(s)<span class='csp-visually-hidden'> for "
                  f"{name}</span></summary><ul>"
                  + "".join(f"<li>{html.escape(str(h.get('sentence') or h.get('value')))}</li>" for h in heads)
                  + "</ul></details></td>") if heads else "<td>–</td>"
    return (
        f"<tr data-status='{html.escape(r['status'])}' data-flag='{int(flag)}' data-search='{search}'>"
        f"<th scope='row' data-sort='{html.escape(str(r['name']).lower(), quote=True)}'>{name_html}<br>"
        f"<small>{html.escape(r['slug'])}{' · ' + html.escape(str(r['group'])) if r['group'] else ''}</small></th>"
        f"{_status_cell(r, e)}{_reports_cell(e, notebooks, titles)}{change}{rate}{cmp_cell}{flag_cell}"
        f"{heads_html}</tr>")


def _national_paragraph(national: dict) -> str:
    """The paragraph on the England and Wales rate and the funnel method (or why it is missing)."""
    if national:
        return (f"<p>England and Wales: <b>{national['rate']:.1f} crimes per 1,000 residents a year</b> (all crime "
                f"excluding anti-social behaviour, {pd.Timestamp(national['period_start']):%B %Y} to "
                f"{pd.Timestamp(national['period_end']):%B %Y}: {national['crimes']:,} records and "
                f"{national['population']:,.0f} residents in the {national['districts']} local authority districts with "
                f"police records in the store; the latest 12 months every force in the store has). Each partnership's "
                f"rate has its 95% interval (exact Poisson below 10 records, Byar's above) and is compared with the "
                f"England and Wales rate by the Fingertips funnel method: higher or lower when the partnership's "
                f"records fall outside the 95% (or 99.8%) limits of the number expected at the national rate for its "
                f"residents. These limits allow for chance alone; with tens of thousands of records most areas differ "
                f"from the national rate, so the page also says (with 20 or more partnerships) whether a partnership "
                f"stands out once the usual spread between areas is allowed for (Spiegelhalter's additive "
                f"over-dispersion, 99.8%).</p>")
    return ("<p>Crime rates against England and Wales are not shown: the store or the partnerships' parameters "
            "could not be read.</p>")


def _funnel_html(t: pd.DataFrame, national: dict) -> str:
    """The funnel plot as a figure with alternative text (empty without national figures)."""
    fig_html = ""
    if national:
        fig, alt = funnel_figure(t, national)
        fig_html = (_figure_html(fig, alt, "Partnership crime rates against residents, with funnel limits around "
                                          "the England and Wales rate. Points outside a limit differ from the "
                                          "national rate by more than chance would usually give.")
                    if fig is not None else f"<p>{html.escape(alt)}</p>")
    return fig_html


def _filters_form() -> str:
    """The filter form (hidden until the inline script shows it)."""
    return ("<form id='csp-filters' hidden role='search' aria-label='Filter partnerships'>"
            "<div><label for='csp-filter-text'>Name or code contains</label>"
            "<input id='csp-filter-text' type='search' autocomplete='off'></div>"
            "<div><label for='csp-filter-status'>Status</label><select id='csp-filter-status'>"
            "<option value=''>Any</option><option value='ok'>ok</option><option value='warning'>warning</option>"
            "<option value='failed'>failed</option></select></div>"
            "<div><input id='csp-filter-flag' type='checkbox'> <label for='csp-filter-flag' "
            "style='display:inline'>Only worse than national and getting worse</label></div>"
            "<p id='csp-shown' role='status' aria-live='polite'></p></form>")


def write_national_index(entries: list[dict], outputs_dir: Path, notebooks, titles: dict, version: str,
                         params_dir: Path | None = None, store: Path | None = None) -> Path:
    """Write ``index.html`` and ``index.csv`` for ``entries`` (as in ``index.json``).

    Returns the path of ``index.html``.
    """
    from .html import atomic_write, wrap_page

    outputs_dir = Path(outputs_dir)
    t, national = build_index_table(entries, params_dir=params_dir, store=store)
    csv = t.copy()
    for c in ("period_start", "period_end"):
        csv[c] = pd.to_datetime(csv[c], errors="coerce").dt.strftime("%Y-%m")
    atomic_write(outputs_dir / "index.csv", _csv_text(csv))
    body = render_index_html(t, national, entries, notebooks, titles, version)
    page = wrap_page(body, title="Community Safety Partnership reports", back_href=None, toc=False)
    path = outputs_dir / "index.html"
    atomic_write(path, page)
    if national:
        atomic_write(outputs_dir / "national.json", json.dumps(
            {k: (str(v) if isinstance(v, pd.Timestamp) else v) for k, v in national.items()}, indent=2))
    return path


def _csv_text(t: pd.DataFrame) -> str:
    """CSV with cells that a spreadsheet would run as formulas neutralised (a leading ' )."""
    out = t.copy()
    for c in out.columns:
        if not pd.api.types.is_numeric_dtype(out[c]):
            out[c] = out[c].map(lambda v: "'" + v if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") else v)
    return out.to_csv(index=False)


__all__ = ["build_index_table", "write_national_index", "partnership_rates", "compare_with_national",
           "common_period", "district_counts", "funnel_figure", "render_index_html", "FLAG_DEFINITION",
           "INDEX_COLUMNS"]
