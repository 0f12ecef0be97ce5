"""The trends report (``01_trends``): what went up or down, whether it is chance, and where.

The section functions take the report context ``ctx`` and render one part of the report
(narration, charts, tables via ``ctx.table``, headline figures via ``ctx.headline``). All the
numbers come from one call to :func:`analyse`, so the summary at the top of the report is
generated from the same results as the sections below it::

    res = trends.analyse(ctx)
    trends.summary(ctx, res)
    trends.data_quality(ctx, res)
    trends.headline_table(ctx, res)
    trends.priority_sections(ctx, res)
    trends.long_run(ctx, res)
    trends.hot_spots(ctx, res)

Data-quality rules (``csp_analysis.quality``): months with no published file are gaps, never
filled in; months flagged as extract artefacts or severe drops (``exclude`` True) in the force
file(s), the partnership or any of its districts are left out of every comparison and model for
that crime type, in every area, and named in the report; period comparisons use only months
present (and usable) in both periods (:func:`csp_analysis.quality.common_months`).

Statistics: :func:`csp_analysis.rates.compare_periods` (two counts, allowing for the extra
variation of each measure estimated from the area's own monthly history by
:func:`csp_analysis.dispersion.estimate_dispersion`; the exact Poisson test where none is found),
verdicts adjusted for multiple comparisons within each family shown together (the summary, each
table) with :func:`csp_analysis.multiplicity.adjust_p_values` (Holm),
:func:`csp_analysis.rates.rate_ci` (rates per 1,000 residents a year),
:func:`csp_analysis.trends.fit_count_trend` (negative binomial annual % change),
:func:`csp_analysis.trends.seasonal_mann_kendall` / ``mann_kendall``,
:func:`csp_analysis.trends.decompose` (STL), :func:`csp_analysis.trends.control_chart`
(Making Data Count rules) and :func:`csp_analysis.trends.concentration` /
``top_places``.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import data, dispersion, geography, quality, rates
from ..formatting import format_percent
from ..multiplicity import adjust_p_values, allowing_text
from .. import trends as tr

ALL_CRIME = "All crime (excl. ASB)"
ASB = "Anti-social behaviour"
CONFIDENCE = 0.95
TOP_N = 10
#: Control charts show at most this many of the latest months.
CHART_MONTHS = 36
#: Share of months outside the Poisson (c/u chart) limits above which the XmR chart is the
#: chart of record (the counts vary more than a Poisson process: Making Data Count).
XMR_SWITCH_SHARE = 0.15
#: Long-run table: the column with Sen's slope, and its unit.
SEN_COLUMN = "Sen's slope (change in monthly count, records per month each year)"

#: data.police.uk slugs of the 43 territorial forces of England and Wales. The store can
#: describe "England and Wales" only for months with a street file from every one of them.
EW_FORCES = (
    "avon-and-somerset", "bedfordshire", "cambridgeshire", "cheshire", "city-of-london", "cleveland",
    "cumbria", "derbyshire", "devon-and-cornwall", "dorset", "durham", "dyfed-powys", "essex",
    "gloucestershire", "greater-manchester", "gwent", "hampshire", "hertfordshire", "humberside", "kent",
    "lancashire", "leicestershire", "lincolnshire", "merseyside", "metropolitan", "norfolk", "north-wales",
    "north-yorkshire", "northamptonshire", "northumbria", "nottinghamshire", "south-wales",
    "south-yorkshire", "staffordshire", "suffolk", "surrey", "sussex", "thames-valley", "warwickshire",
    "west-mercia", "west-midlands", "west-yorkshire", "wiltshire",
)

AREA_ORDER = {"Force area": 0, "County": 1, "Partnership": 2, "District": 3, "England and Wales": 4}
#: Multiple-comparison adjustment within each family of comparisons shown together.
MULTIPLICITY = "holm"


# ============================================================================ helpers
def label(measure: str) -> str:
    """The measure as it reads inside a sentence ("burglary", "all crime (excluding ASB)")."""
    if measure == ALL_CRIME:
        return "all crime (excluding ASB)"
    if measure == ASB:
        return "anti-social behaviour (ASB)"
    return measure[0].lower() + measure[1:]


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _month_text(p: pd.Period) -> str:
    return p.strftime("%b %Y")


def _ranges(months) -> str:
    """'Jan 2022 to Mar 2022; Jun 2022' for a list of monthly Periods."""
    months = sorted(set(months))
    if not months:
        return "none"
    out, start, prev = [], months[0], months[0]
    for m in months[1:] + [None]:
        if m is not None and m.ordinal == prev.ordinal + 1:
            prev = m
            continue
        out.append(_month_text(start) if start == prev else f"{_month_text(start)} to {_month_text(prev)}")
        if m is not None:
            start = prev = m
    return "; ".join(out)


def _list(items: list[str]) -> str:
    items = list(items)
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def _pct(x: float, signed: bool = True) -> str:
    return format_percent(x, 1, signed=signed, missing="–")


def _num(x: float, dp: int = 1) -> str:
    if x is None or not np.isfinite(x):
        return "–"
    return f"{x:,.{dp}f}"


def _runs(months: list[pd.Period]) -> list[list[pd.Period]]:
    """Consecutive runs of monthly Periods."""
    months = sorted(months)
    runs: list[list[pd.Period]] = []
    for m in months:
        if runs and m.ordinal == runs[-1][-1].ordinal + 1:
            runs[-1].append(m)
        else:
            runs.append([m])
    return runs


def _to_period(values) -> list[pd.Period]:
    return [pd.Period(v, freq="M") for v in values]


# ============================================================================ counts
def _wide(counts: pd.DataFrame, measures: list[str]) -> pd.DataFrame:
    """Long counts (month, crime_type, n) -> month x measure table with ALL_CRIME added."""
    if not len(counts):
        return pd.DataFrame(columns=measures, dtype=float)
    c = counts.copy()
    c["month"] = pd.PeriodIndex(pd.to_datetime(c["month"]), freq="M")
    w = c.pivot_table(index="month", columns="crime_type", values="n", aggfunc="sum", fill_value=0)
    w[ALL_CRIME] = w[[k for k in w.columns if k != ASB]].sum(axis=1)
    return w.reindex(columns=measures, fill_value=0).astype(int).sort_index()


def _force_file_counts(con, forces, start, end) -> pd.DataFrame:
    """Rows per force file, month and crime type (as published, located or not)."""
    return data.force_file_counts(con, forces, start, end)


def _national_months(con) -> tuple[list[pd.Period], pd.Period | None, list[str]]:
    """Months with a street file of every force of England and Wales; also the month with
    most forces and the forces missing in it."""
    df = data.street_file_months(con)
    if not len(df):
        return [], None, list(EW_FORCES)
    df["month"] = pd.PeriodIndex(pd.to_datetime(df["month"]), freq="M")
    ew = set(EW_FORCES)
    per = df[df["force"].isin(ew)].groupby("month")["force"].apply(set)
    full = sorted(m for m, f in per.items() if f >= ew)
    if not len(per):
        return full, None, list(EW_FORCES)
    best = max(per.index, key=lambda m: (len(per[m]), m))
    return full, best, sorted(ew - per[best])


# ============================================================================ analysis
@dataclass
class TrendsResult:
    """Everything the trends report shows, computed once by :func:`analyse`.

    Attributes
    ----------
    months, missing : list of pandas.Period
        Covered and missing months of the analysis window.
    measures, priorities : list of str
        Measures reported (ALL_CRIME, ASB, the crime types) and the partnership's priorities.
    wide : dict
        area label -> month x measure counts (covered months only).
    areas : pandas.DataFrame
        ``area``, ``area_type``, ``population`` of every area compared.
    flags : pandas.DataFrame
        Flagged months (no missing-month rows) with ``area``.
    excluded : dict
        measure -> sorted list of excluded months (Periods).
    latest, previous : pandas.PeriodIndex
        The latest 12 months and the period compared with them.
    lag : int
        Months between matching months (12 = previous year; more when that year is missing).
    matches : dict
        (area, measure) -> :class:`csp_analysis.quality.MonthMatch`.
    headline : pandas.DataFrame
        One row per area and measure (see :func:`headline_rows`).
    national_note : str
        Why England and Wales is, or is not, in the headline table.
    long_run : pandas.DataFrame
        One row per measure: count-model annual % change and Mann-Kendall (partnership).
        ``sen_slope_year`` (with ``sen_lower``, ``sen_upper``) is Sen's slope as the change in
        the *monthly* count each year (records per month, per year), whichever test was used;
        ``sen_annual_total`` is 12 times it, the change in the annual total.
    fits : dict
        measure -> CountTrendResult (or None).
    """

    partnership: str
    months: list
    missing: list
    measures: list
    priorities: list
    wide: dict
    areas: pd.DataFrame
    flags: pd.DataFrame
    excluded: dict
    latest: pd.PeriodIndex
    previous: pd.PeriodIndex
    lag: int
    matches: dict
    headline: pd.DataFrame
    national_note: str
    population: float | None
    long_run: pd.DataFrame = field(default_factory=pd.DataFrame)
    fits: dict = field(default_factory=dict)
    county_note: str = ""

    @property
    def series(self) -> pd.DataFrame:
        """The partnership's month x measure counts."""
        return self.wide[self.partnership]

    def usable(self, measure: str, area: str | None = None) -> list:
        """Covered months of an area that are not excluded for this measure."""
        w = self.wide[area or self.partnership]
        excl = set(self.excluded.get(measure, []))
        return [m for m in w.index if m not in excl]


def _measures(p) -> tuple[list[str], list[str]]:
    from ..params import CRIME_TYPES

    types = [t for t in CRIME_TYPES if t != ASB]
    measures = [ALL_CRIME, ASB] + types
    priorities = []
    for t in p.priority_crime_types:
        m = ALL_CRIME if t == "All crime" else t
        if m not in priorities:
            priorities.append(m)
    return measures, priorities


def _flags(con, p, measures, wide_by_area: dict, partnership: str, districts: list[str]) -> pd.DataFrame:
    """Flag anomalous months in the force file(s), the partnership and each district."""
    frames = []
    ff = _force_file_counts(con, p.forces, p.start, p.end)
    if len(ff):
        ff = ff[pd.to_datetime(ff["month"]).dt.to_period("M").isin(wide_by_area[partnership].index)]
        for force, g in ff.groupby("force"):
            w = _wide(g[["month", "crime_type", "n"]], measures)
            long = w.stack().rename("n").reset_index()
            long.columns = ["month", "crime_type", "n"]
            frames.append(long.assign(area=f"the {force} force file"))
    for area in [partnership, *districts]:
        w = wide_by_area[area]
        long = w.stack().rename("n").reset_index()
        long.columns = ["month", "crime_type", "n"]
        frames.append(long.assign(area=area))
    if not frames:
        return pd.DataFrame(columns=["area", "month", "series", "n", "reference", "ratio", "flag", "exclude",
                                     "reason"])
    allc = pd.concat(frames, ignore_index=True)
    allc["month"] = allc["month"].astype(str)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = quality.flag_anomalous_months(allc, group_cols="area")
    f = f[f["flag"] != "missing_month"].reset_index(drop=True)
    return f


def _latest_periods(months: list[pd.Period], end: pd.Period) -> pd.PeriodIndex:
    last = min(max(months), end)
    return pd.period_range(last - 11, last, freq="M")


def _choose_lag(usable: list[pd.Period], latest: pd.PeriodIndex, first: pd.Period) -> int:
    """12 (same months last year) unless that year has no usable month in common;
    then the nearest earlier year that has (24, 36, ...). 12 when none has."""
    have = set(usable)
    lag = 12
    while latest[0] - lag >= first - 11:
        if any(m in have and (m - lag) in have for m in latest):
            return lag
        lag += 12
    return 12


def _area_dispersion(w: pd.DataFrame, measures: list[str], excluded: dict, latest: pd.PeriodIndex) -> dict:
    """measure -> (dispersion of a 12-month total, effective df) from the area's own months.

    :func:`csp_analysis.dispersion.estimate_dispersion` on the area's monthly counts (flagged
    months left out), with a step at the start of the latest period; the month-to-month
    correlation is pooled over the area's measures. An estimate floored at 1 keeps its df, so
    its test still allows for the uncertainty (a t reference); (1, NaN) where it cannot be
    estimated: the exact Poisson test is then used, and with fewer than 24 months the sentence cannot allow
    for seasonality in the estimate.
    """
    cols = [m for m in measures if m in w.columns]
    if not cols or len(w) < 15:
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            est = dispersion.estimate_dispersion(w[cols], exclude=excluded, months=12, current_start=latest[0])
        except ValueError:
            return {}
    return {r.measure: (float(r.value), float(r.df)) for r in est.itertuples()
            if np.isfinite(r.value) and np.isfinite(r.df)}


def _verdict_clause(p: float, p_adj: float, n: int, chance: bool) -> str:
    """The chance clause of a comparison sentence, worded on the adjusted p-value."""
    verdict = "unlikely to be chance" if chance else "could be chance"
    if n <= 1:
        return f"{verdict} ({rates.format_p_value(p)})"
    return (f"{verdict} ({rates.format_p_value(p)}; {rates.format_p_value(p_adj)} "
            f"{allowing_text(n, MULTIPLICITY)})")


def adjust_family(rows: pd.DataFrame) -> pd.DataFrame:
    """Adjust the year-on-year p-values of one family of comparisons shown together.

    Adds ``p_adjusted`` and ``n_comparisons`` and rewords ``unlikely_chance`` and the chance
    clause of ``sentence`` on the adjusted p-value (:data:`MULTIPLICITY`, Holm by default):
    "unlikely to be chance (p = 0.004; p = 0.03 after allowing for 15 comparisons (Holm))".
    Rows without a comparison are outside the family.
    """
    out = rows.copy()
    if "p_value" not in out:
        out["p_value"] = np.nan
    tested = out["p_value"].notna() & out.get("months_compared", pd.Series(1, index=out.index)).gt(0)
    adj = adjust_p_values(out["p_value"].where(tested), method=MULTIPLICITY, confidence=CONFIDENCE)
    n = int(adj["n_comparisons"].iloc[0]) if len(adj) else 0
    out["p_adjusted"] = adj["p_adjusted"].to_numpy()
    out["n_comparisons"] = n
    excl = (out.get("percent_lower", np.nan) > 0) | (out.get("percent_upper", np.nan) < 0)
    out["unlikely_chance"] = np.where(tested, (out["p_adjusted"] < 1 - CONFIDENCE) & excl, False)
    if "sentence" in out:
        new = []
        for r in out.itertuples():
            sent = r.sentence
            if getattr(r, "p_value") == getattr(r, "p_value") and isinstance(sent, str):
                old = re.search(r"(unlikely to be chance|could be chance) \(p[^)]*\)", sent)
                if old:
                    sent = (sent[: old.start()] + _verdict_clause(r.p_value, r.p_adjusted, n, bool(r.unlikely_chance))
                            + sent[old.end():])
            new.append(sent)
        out["sentence"] = new
    return out


def headline_rows(res_like: dict, area: str, area_type: str, population: float | None,
                  measures: list[str], priorities: list[str]) -> tuple[list[dict], dict]:
    """Compare the latest period with the earlier one for every measure of one area."""
    w = res_like["wide"][area]
    latest, lag, excluded = res_like["latest"], res_like["lag"], res_like["excluded"]
    previous = latest - lag
    disp = _area_dispersion(w, measures, excluded, latest)
    rows, matches = [], {}
    for measure in measures:
        excl = set(excluded.get(measure, []))
        usable = [m for m in w.index if m not in excl]
        a = [m for m in latest if m in usable]
        b = [m for m in previous if m in usable]
        mm = quality.common_months([str(m) for m in a], [str(m) for m in b]) if (a or b) else \
            quality.MonthMatch(sentence="Neither period has any usable month.")
        if not (a or b):
            mm.sentence = "Neither period has any usable month."
        matches[(area, measure)] = mm
        ka, kb = _to_period(mm.a), _to_period(mm.b)
        row = {
            "area": area, "area_type": area_type, "measure": measure, "priority": measure in priorities,
            "latest_period": f"{_month_text(latest[0])} to {_month_text(latest[-1])}",
            "comparison_period": f"{_month_text(previous[0])} to {_month_text(previous[-1])}",
            "months_compared": len(ka), "months_list": ", ".join(mm.a),
            "latest": np.nan, "previous": np.nan,
        }
        if ka:
            cur = int(w.loc[ka, measure].sum())
            prev = int(w.loc[kb, measure].sum())
            phi, phi_df = disp.get(measure, (1.0, np.nan))
            cmp_ = rates.compare_periods(cur, prev, confidence=CONFIDENCE, dispersion=phi,
                                         dispersion_df=phi_df).iloc[0]
            chance = bool(cmp_["p_value"] < 1 - CONFIDENCE and (cmp_["lower"] > 1 or cmp_["upper"] < 1))
            row.update(latest=cur, previous=prev, percent_change=cmp_["percent_change"],
                       percent_lower=cmp_["percent_lower"], percent_upper=cmp_["percent_upper"],
                       p_value=cmp_["p_value"], unlikely_chance=chance, sentence=cmp_["sentence"],
                       dispersion=cmp_["dispersion"], dispersion_df=cmp_["dispersion_df"], method=cmp_["method"])
            if population:
                r = rates.rate_ci(cur, population * len(ka) / 12.0, multiplier=1000, confidence=CONFIDENCE).iloc[0]
                row.update(rate=r["value"], rate_lower=r["lower"], rate_upper=r["upper"], rate_method=r["method"])
        else:
            row.update(sentence="No month is usable in both periods, so no comparison is possible.")
        row["population"] = population
        rows.append(row)
    return rows, matches


def _long_run(series: pd.DataFrame, excluded: dict, measures: list[str]) -> tuple[pd.DataFrame, dict]:
    rows, fits = [], {}
    for measure in measures:
        s = series[measure].astype(float)
        excl = [m for m in excluded.get(measure, []) if m in s.index]
        row: dict[str, Any] = {"measure": measure, "months_used": int(len(s) - len(excl)),
                               "months_excluded": len(excl)}
        fit = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                if s.drop(excl).sum() > 0:
                    fit = tr.fit_count_trend(s, exclude=excl or None, label=cap(label(measure)),
                                             confidence=CONFIDENCE)
            except ValueError as exc:
                row["model_note"] = str(exc)
        fits[measure] = fit
        if fit is not None:
            t = fit.table.iloc[0]
            row.update(annual_change=t["value"], change_lower=t["lower"], change_upper=t["upper"],
                       change_p=t["p_value"], model_method=t["method"], dispersion=t["dispersion"],
                       first_month=t["first_month"], last_month=t["last_month"], model_sentence=t["sentence"])
        # Mann-Kendall on the usable months (excluded months missing, keeping their place)
        x = s.copy()
        x.loc[excl] = np.nan
        x = x.dropna()
        seasons = pd.Series(x.index.month).value_counts()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                if (seasons >= 2).sum() >= 6:
                    mk = tr.seasonal_mann_kendall(x, period=12, confidence=CONFIDENCE, label=cap(label(measure)))
                    row["mk_test"] = "seasonal Kendall"
                elif len(x) >= 8:
                    mk = tr.mann_kendall(x, confidence=CONFIDENCE, label=cap(label(measure)))
                    row["mk_test"] = "Mann-Kendall (not seasonal)"
                else:
                    mk = None
            except ValueError:
                mk = None
        if mk is not None:
            m = mk.iloc[0]
            # Both tests end up in one unit: the change in the MONTHLY count per year. The seasonal
            # slope already is that (median of same-calendar-month slopes, per year); the plain
            # test's slope is per month of the monthly count, so it is multiplied by 12.
            k = 12 if m["unit"] == "month" else 1
            slope, lo, hi = m["slope"] * k, m["lower"] * k, m["upper"] * k
            row.update(mk_trend=m["trend"], mk_p=m["p_value"], sen_slope_year=slope, sen_lower=lo, sen_upper=hi,
                       sen_annual_total=slope * 12,
                       mk_sentence=sen_sentence(label(measure), m["trend"], slope, lo, hi, m["p_value"],
                                                row["mk_test"]))
        rows.append(row)
    return pd.DataFrame(rows), fits


def _fig(x: float) -> str:
    """A slope for text: no decimals from 10, one from 1, two below."""
    a = abs(x)
    return f"{a:,.0f}" if a >= 10 else f"{a:.1f}" if a >= 1 else f"{a:.2f}"


def sen_sentence(what: str, trend: str, slope: float, lower: float, upper: float, p: float,
                 test: str) -> str:
    """Sen's slope in words, in the unit of the long-run table: the change in the monthly
    count, in records per month, each year (``slope`` and its interval in that unit)."""
    name = "seasonal Kendall" if test.startswith("seasonal") else "Mann-Kendall"
    conf = f"{int(CONFIDENCE * 100)}% CI"
    total = f"about {_fig(12 * slope)} {'more' if slope > 0 else 'fewer'} records a year in total"
    if trend == "no trend" or not np.isfinite(slope) or slope == 0:
        return (f"{cap(name)} check: no clear upward or downward trend in the monthly count of {what} "
                f"({name} {rates.format_p_value(p)}); Sen's slope is {slope:+.1f} records per month each year "
                f"({conf} {lower:+.1f} to {upper:+.1f}), which could be chance.")
    verb = "rose" if slope > 0 else "fell"
    return (f"{cap(name)} check: the monthly count of {what} {verb} by about {_fig(slope)} records per month "
            f"each year, {total} (Sen's slope {slope:+.1f} records per month each year, {conf} {lower:+.1f} to "
            f"{upper:+.1f}); the {'upward' if slope > 0 else 'downward'} trend is unlikely to be chance "
            f"({name} {rates.format_p_value(p)}).")


def analyse(ctx) -> TrendsResult:
    """Compute everything the trends report shows for ``ctx.params`` (no output)."""
    p, con = ctx.params, ctx.con
    measures, priorities = _measures(p)
    counts = data.monthly_counts(con, p.lad_codes, p.start, p.end, forces=p.forces)
    months = sorted(pd.PeriodIndex(pd.to_datetime(counts["month"].unique()), freq="M")) if len(counts) else []
    missing = [pd.Period(m, freq="M") for m in data.missing_months([m.to_timestamp() for m in months],
                                                                     p.start, p.end)]
    info = data.lad_info(con, p.lad_codes)
    partnership = p.name
    wide = {partnership: _wide(counts, measures)}
    wide[partnership] = wide[partnership].reindex(months, fill_value=0)
    area_rows = [{"area": partnership, "area_type": "Partnership", "population": data.population(con, p.lad_codes)}]

    districts = []
    if len(p.lad_codes) > 1:
        dc = data.monthly_counts(con, p.lad_codes, p.start, p.end, by=("lad_code", "crime_type"), forces=p.forces)
        names = dict(zip(info["lad_code"], info["lad_name"])) if len(info) else {}
        for code in p.lad_codes:
            name = names.get(code, code)
            g = dc[dc["lad_code"] == code][["month", "crime_type", "n"]]
            wide[name] = _wide(g, measures).reindex(months, fill_value=0)
            districts.append(name)
            area_rows.append({"area": name, "area_type": "District", "population": data.population(con, [code])})

    county = geography.county_of(con, p.lad_codes)
    county_note = geography.county_note(con, p.lad_codes, partnership)
    if county is not None:
        cc = data.monthly_counts(con, county["lad_codes"], p.start, p.end, forces=p.forces)
        name = f"{county['county_name']} (county)"
        cm = sorted(pd.PeriodIndex(pd.to_datetime(cc["month"].unique()), freq="M")) if len(cc) else []
        wide[name] = _wide(cc, measures).reindex(cm, fill_value=0)
        area_rows.append({"area": name, "area_type": "County", "population": county["population"]})

    pfas = info[["pfa_code", "pfa_name"]].dropna().drop_duplicates() if len(info) else pd.DataFrame()
    for r in pfas.itertuples():
        fc = data.monthly_counts(con, None, p.start, p.end, pfa_code=r.pfa_code, forces=p.forces)
        name = f"{r.pfa_name} (force area)"
        fm = sorted(pd.PeriodIndex(pd.to_datetime(fc["month"].unique()), freq="M")) if len(fc) else []
        wide[name] = _wide(fc, measures).reindex(fm, fill_value=0)
        area_rows.append({"area": name, "area_type": "Force area",
                          "population": data.population(con, data.lads_in_pfa(con, r.pfa_code))})

    flags = _flags(con, p, measures, wide, partnership, districts)
    excluded: dict[str, list] = {}
    if len(flags):
        ex = flags[flags["exclude"]]
        for measure, g in ex.groupby("series"):
            excluded[measure] = sorted({pd.Period(m, freq="M") for m in g["month"]})

    end = pd.Period(p.end, freq="M")
    latest = _latest_periods(months, end) if months else pd.period_range(end - 11, end, freq="M")
    usable_all = [m for m in months if m not in set(excluded.get(ALL_CRIME, []))]
    lag = _choose_lag(usable_all, latest, pd.Period(p.start, freq="M")) if months else 12

    # England and Wales, when every force's file is in the store for the months compared
    nat_months, best, absent = _national_months(con)
    state = {"wide": wide, "latest": latest, "lag": lag, "excluded": excluded}
    needed = set(latest) | set(latest - lag)
    have_months = [m for m in needed if m in set(months)]
    if have_months and all(m in set(nat_months) for m in have_months):
        nat_in = [m for m in nat_months if m in set(months)]
        nat = data.england_wales_counts(con, nat_in)
        wide["England and Wales"] = _wide(nat, measures).reindex(nat_in, fill_value=0)
        area_rows.append({"area": "England and Wales", "area_type": "England and Wales",
                          "population": data.area_population(con, "K04000001")})
        national_note = ("England and Wales is included: the store holds street files from all 43 forces "
                         "for the months compared.")
    else:
        n_nat = len(nat_months)
        if best is None:
            national_note = ("England and Wales is not shown: the store holds no street files from other forces, "
                             "so there is no national comparison.")
        else:
            have = len(EW_FORCES) - len(absent)
            national_note = (f"England and Wales is not shown: a national comparison needs street files from all "
                             f"43 forces for both periods, and the store holds files from at most {have} of them in "
                             f"any month (most: {_month_text(best)}")
            national_note += (f"; missing {_list(absent)})" if absent else ")")
            national_note += (f", and from all 43 for {n_nat} month{'s' if n_nat != 1 else ''}." if n_nat else
                              ", never all 43 in one month.")

    areas = pd.DataFrame(area_rows)
    rows, matches = [], {}
    for a in areas.itertuples():
        r, m = headline_rows(state, a.area, a.area_type, a.population, measures, priorities)
        rows += r
        matches.update(m)
    headline = pd.DataFrame(rows)
    if len(headline):
        # each area's measures are one family (the partnership's are the summary bullets); the
        # area tables re-adjust within the rows they show (see headline_table)
        headline = pd.concat([adjust_family(g) for _, g in headline.groupby("area", sort=False)])
    res = TrendsResult(partnership=partnership, months=months, missing=missing, measures=measures,
                       priorities=priorities, wide=wide, areas=areas, flags=flags, excluded=excluded,
                       latest=latest, previous=latest - lag, lag=lag, matches=matches, headline=headline,
                       national_note=national_note, population=areas.iloc[0]["population"],
                       county_note=county_note)
    if months:
        res.long_run, res.fits = _long_run(wide[partnership], excluded, measures)
    return res


# ============================================================================ summary
def _change_phrase(r) -> str:
    return (f"{label(r['measure'])} {_pct(r['percent_change'])} "
            f"({int(CONFIDENCE * 100)}% CI {_pct(r['percent_lower'])} to {_pct(r['percent_upper'])})")


def _period_sentence(res: TrendsResult) -> str:
    lat, prev = res.latest, res.previous
    text = (f"the latest 12 months ({_month_text(lat[0])} to {_month_text(lat[-1])}) against "
            f"{'the previous 12 months' if res.lag == 12 else 'the same months ' + str(res.lag // 12) + ' years earlier'}"
            f" ({_month_text(prev[0])} to {_month_text(prev[-1])})")
    return text


def summary(ctx, res: TrendsResult) -> None:
    """The plain-English summary at the top of the report, generated from the results."""
    h = res.headline
    part = h[(h["area"] == res.partnership) & (h["months_compared"] > 0)]
    ctx.say("## Summary")
    if not len(part):
        ctx.say("The store has no months that can be compared between the latest 12 months and any earlier "
                "year for this partnership, so no year-on-year change can be reported. See *Data quality* below.")
    else:
        n_all = int(part.loc[part["measure"] == ALL_CRIME, "months_compared"].iloc[0]) \
            if (part["measure"] == ALL_CRIME).any() else int(part["months_compared"].max())
        lines = [f"Comparing {_period_sentence(res)}, using only months present in both periods "
                 f"({n_all} matching month{'s' if n_all != 1 else ''} for all crime):"]
        if res.lag > 12:
            lines[0] = (f"The previous 12 months are missing from the store, so this report compares "
                        f"{_period_sentence(res)}, using only months present in both "
                        f"({n_all} matching month{'s' if n_all != 1 else ''} for all crime):")
        order = {m: i for i, m in enumerate(res.measures)}
        part = part.assign(_o=part["measure"].map(order)).sort_values("_o")
        groups = [
            ("Went up, and the rise is unlikely to be chance", (part["percent_change"] > 0) & part["unlikely_chance"]),
            ("Went down, and the fall is unlikely to be chance", (part["percent_change"] < 0) & part["unlikely_chance"]),
            ("Went up, but within normal variation (could be chance)",
             (part["percent_change"] > 0) & ~part["unlikely_chance"].astype(bool)),
            ("Went down, but within normal variation (could be chance)",
             (part["percent_change"] < 0) & ~part["unlikely_chance"].astype(bool)),
            ("No change", part["percent_change"] == 0),
        ]
        bullets = []
        for title, mask in groups:
            sub = part[mask.fillna(False).astype(bool)]
            if len(sub):
                items = []
                for _, r in sub.iterrows():
                    text = _change_phrase(r)
                    if r["months_compared"] != n_all:
                        text += f" [{r['months_compared']} months]"
                    items.append(f"**{text}**" if r["priority"] or r["measure"] in (ALL_CRIME, ASB) else text)
                bullets.append(f"- **{title}:** " + "; ".join(items) + ".")
        lines += bullets
        n_fam = int(part["n_comparisons"].iloc[0]) if "n_comparisons" in part and len(part) else len(part)
        lines.append("\nPriority crime types, all crime and ASB are in bold. \"Unlikely to be chance\" means the "
                     "95% confidence interval of the change excludes no change and p < 0.05 "
                     f"{allowing_text(n_fam, MULTIPLICITY)}, so that a summary of {n_fam} crime types does not "
                     "show changes by chance alone. Each test allows for the way the crime type's counts vary "
                     "more than chance alone from month to month (estimated from the partnership's own months).")
        ctx.say("\n".join(lines))
    if len(res.long_run):
        lr = res.long_run.set_index("measure")
        bits = []
        for m in [ALL_CRIME, ASB, *[x for x in res.priorities if x not in (ALL_CRIME, ASB)]]:
            if m in lr.index and pd.notna(lr.loc[m].get("annual_change", np.nan)):
                r = lr.loc[m]
                verdict = ("unlikely to be chance" if (r["change_lower"] > 0 or r["change_upper"] < 0)
                           else "could be chance")
                bits.append(f"{label(m)} {_pct(r['annual_change'])} a year "
                            f"({_pct(r['change_lower'])} to {_pct(r['change_upper'])}; {verdict})")
        if bits:
            first, last = res.long_run["first_month"].dropna(), res.long_run["last_month"].dropna()
            span = (f" ({pd.Period(first.min()).strftime('%b %Y')} to {pd.Period(last.max()).strftime('%b %Y')})"
                    if len(first) else "")
            ctx.say(f"**Long-run trend{span}**, from a count model allowing for seasonality and for months "
                    "that vary more than chance alone: " + "; ".join(bits) + ".")
    notes = []
    if res.missing:
        notes.append(f"{len(res.missing)} month{'s' if len(res.missing) != 1 else ''} of the window "
                     f"{'are' if len(res.missing) != 1 else 'is'} missing from the published data "
                     f"({_ranges(res.missing)}) and {'are' if len(res.missing) != 1 else 'is'} not filled in")
    ex = {m: v for m, v in res.excluded.items() if v}
    if ex:
        notes.append("flagged months left out of every comparison and model: " + "; ".join(
            f"{label(m)} {_ranges(v)}" for m, v in ex.items()))
    if notes:
        ctx.say("**Data caveats:** " + "; ".join(notes) + ". Details under *Data quality*.")


# ============================================================================ data quality
def data_quality(ctx, res: TrendsResult) -> None:
    """Coverage, gaps, flagged months and what was done with them."""
    from . import overview

    ctx.say("## Data quality")
    cov = overview.data_coverage(ctx)
    if res.flags is None or not len(res.flags):
        ctx.say("No month was flagged as an extract artefact or a sudden drop in the force file(s), the "
                "partnership or its districts.")
    else:
        f = res.flags.copy()
        final = np.array([pd.Period(m, freq="M") in set(res.excluded.get(k, []))
                          for m, k in zip(f["month"], f["series"])], dtype=bool)
        ex = f[f["exclude"]]
        kept = f[~final]
        if len(ex):
            parts = []
            for measure, g in ex.groupby("series", sort=False):
                months = sorted({pd.Period(m, freq="M") for m in g["month"]})
                art = g[g["flag"] == "extract_artefact"]
                why = []
                if len(art):
                    why.append("a capped extract in " + _list(sorted(set(art["area"]))) + ": exactly " + "; ".join(
                        f"{int(r.n):,} rows in {pd.Period(r.month, freq='M').strftime('%b %Y')}"
                        for r in art.itertuples()) + f" against a usual {art['reference'].median():,.0f}")
                drops = g[g["flag"] == "sudden_drop"]
                if len(drops):
                    why.append("far below the usual level in " + _list(sorted(set(drops["area"]))))
                parts.append(f"**{label(measure)}** in {_ranges(months)} ({'; '.join(why)})")
            ctx.say("**Flagged and excluded.** These months are left out of every comparison and model below, "
                    "for every area, and are never interpolated: " + "; ".join(parts) + ".")
        if len(kept):
            ctx.say("**Flagged for checking but kept** (an unusually low month that could be seasonal or "
                    "chance): " + "; ".join(
                        f"{label(r.series)} in {r.area}, {pd.Period(r.month, freq='M').strftime('%b %Y')} "
                        f"({int(r.n):,} against a usual {r.reference:,.0f})" for r in kept.itertuples()) + ".")
        t = pd.DataFrame({
            "Area": f["area"], "Month": f["month"], "Crime type": f["series"],
            "Records": f["n"].astype(int), "Usual level": f["reference"].round(0).astype(int),
            "Ratio": f["ratio"].round(2), "Flag": f["flag"].str.replace("_", " "),
            "Excluded": np.where(final, "yes", "no"),
        })
        t = t.assign(_f=~t["Area"].str.endswith("force file")).sort_values(
            ["_f", "Crime type", "Area", "Month"], kind="stable").drop(columns="_f")
        ctx.table(t, "flagged_months", "Months flagged by the data-quality checks (extract artefacts and "
                  "sudden drops), by area and crime type.", float_dp=2,
                  note="Force file rows include records with no location and records the force recorded in "
                       "neighbouring areas. Usual level: median of the other months (artefacts) or of nearby "
                       "months (drops). A month flagged for exclusion in any area is excluded for that crime "
                       "type in every area (Excluded = yes), so that areas are compared over the same months.")
    ex_asb = res.excluded.get(ASB, [])
    overview.monthly_chart(ctx, cov["counts"], excluded={ASB: ex_asb} if ex_asb else None)
    overview.annual_table(ctx, cov["counts"], excluded={m: v for m, v in res.excluded.items() if v} or None)


# ============================================================================ headline table
_DISPLAY = {
    "area": "Area", "measure": "Crime type", "priority": "Priority", "months_compared": "Months",
    "latest": "Latest", "previous": "Comparison", "percent_change": "% change",
    "percent_lower": "% CI lower", "percent_upper": "% CI upper", "p_value": "p",
    "p_adjusted": "p (adjusted)", "verdict": "Verdict", "rate": "Rate per 1,000 a year", "rate_lower": "Rate CI lower",
    "rate_upper": "Rate CI upper",
}


def _display_headline(h: pd.DataFrame, area: bool = True, partnership: str | None = None) -> pd.DataFrame:
    """Headline rows as shown: formatted p-values, verdicts; the partnership's own rows
    labelled "Whole partnership" (``partnership``), or no area column (``area=False``)."""
    t = h.copy()
    if partnership is not None:
        t["area"] = t["area"].where(t["area"] != partnership, "Whole partnership")
    for c in ("percent_change", "percent_lower", "percent_upper", "p_value", "p_adjusted", "rate", "rate_lower",
              "rate_upper", "unlikely_chance"):
        if c not in t:
            t[c] = np.nan
    t["verdict"] = np.where(t["months_compared"] == 0, "no months to compare",
                            np.where(t["unlikely_chance"].fillna(False).astype(bool), "unlikely to be chance",
                                     "could be chance"))
    for c in ("p_value", "p_adjusted"):
        t[c] = [rates.format_p_value(v).replace("p ", "").replace("= ", "") if pd.notna(v) else "–" for v in t[c]]
    t["priority"] = np.where(t["priority"], "yes", "")
    for c in ("latest", "previous"):
        t[c] = t[c].astype("Int64")
    for c in ("percent_change", "percent_lower", "percent_upper"):
        t[c] = t[c].astype(float).round(1)
    for c in ("rate", "rate_lower", "rate_upper"):
        t[c] = t[c].astype(float).round(2)
    cols = [c for c in _DISPLAY if area or c != "area"]
    return t[cols].rename(columns=_DISPLAY)


def headline_table(ctx, res: TrendsResult) -> None:
    """Latest 12 months against the comparison period: partnership, then force, districts, E&W."""
    h = res.headline
    ctx.say("## Year-on-year change")
    if not len(res.months):
        ctx.say("No months to compare.")
        return
    prev_text = ("the previous 12 months" if res.lag == 12 else f"the same months {res.lag // 12} years earlier")
    gap_text = ("" if res.lag == 12 else
                f" The {res.lag // 12 - 1} year{'s' if res.lag > 24 else ''} in between "
                f"{'are' if res.lag > 24 else 'is'} missing from the store, so this is the most recent like-for-like "
                "comparison possible; a change over several years is not a year-on-year change.")
    ctx.say(
        f"The latest 12 months ({_month_text(res.latest[0])} to {_month_text(res.latest[-1])}) are compared with "
        f"{prev_text} ({_month_text(res.previous[0])} to {_month_text(res.previous[-1])}).{gap_text} "
        "Only months present, "
        "and not flagged, in **both** periods are counted, so a missing or excluded month cannot make a change "
        "appear. Recorded crime counts vary more than chance alone (a Poisson process) would make them, and "
        "neighbouring months are alike, so the % change, its 95% confidence interval and p come from a "
        "comparison of two counts that allows for that extra variation, estimated for each crime type and "
        "area from its own months (quasi-Poisson; the exact test for two Poisson counts where no extra "
        "variation is found). Each table is one family of comparisons: the verdict uses the p-value adjusted "
        "for the number of comparisons in the table (Holm's method), shown beside the unadjusted p. The rate "
        "per 1,000 residents a year is for the latest period's matching months (exact Poisson limits below 10 "
        "records, Byar's method above)."
    )
    part = h[h["area"] == res.partnership]
    # which months each comparison used
    sentences: dict[str, list[str]] = {}
    for m in res.measures:
        mm = res.matches.get((res.partnership, m))
        if mm is not None:
            sentences.setdefault(mm.sentence, []).append(label(m))
    if len(sentences) == 1:
        ctx.say("**Months compared:** " + next(iter(sentences)))
    else:
        ctx.say("**Months compared:** " + " ".join(
            f"For {_list(v)}: {cap(k[0].lower() + k[1:])}" for k, v in sentences.items()))
    pop = res.population
    if not pop:
        ctx.say("The store has no population for this partnership, so rates per 1,000 residents are not shown.")
    else:
        ctx.say(f"Residents: {pop:,.0f} (ONS mid-year estimate or Census 2021 where no estimate is in the store).")
    for _, r in part.iterrows():
        if r["measure"] in (ALL_CRIME, ASB) or r["priority"]:
            if r["months_compared"] > 0:
                sent = (f"{cap(label(r['measure']))} in {res.partnership}, latest 12 months against "
                        f"{'the previous 12' if res.lag == 12 else 'the same months of ' + str(res.previous[0].year)}"
                        f" ({r['months_compared']} matching months): "
                        f"{r['sentence'][0].lower() + r['sentence'][1:]}")
                ctx.headline(f"change_{_slug(r['measure'])}", f"{cap(label(r['measure']))}: % change",
                             round(float(r["percent_change"]), 1) if np.isfinite(r["percent_change"]) else None,
                             sent, lower=round(float(r["percent_lower"]), 1),
                             upper=round(float(r["percent_upper"]), 1), p_value=float(r["p_value"]),
                             p_adjusted=float(r["p_adjusted"]), n_comparisons=int(r["n_comparisons"]),
                             dispersion=float(r["dispersion"]), method=str(r["method"]),
                             latest=int(r["latest"]), previous=int(r["previous"]),
                             months=int(r["months_compared"]))
    order = {m: i for i, m in enumerate(res.measures)}
    pt = part.assign(_o=part["measure"].map(order)).sort_values("_o")
    ctx.table(_display_headline(pt, area=False), "headline_partnership",
              f"{res.partnership}: latest period against the comparison period, by crime type.",
              note="Months: matching months compared. Latest, Comparison: records in those months. % change with "
                   "its 95% CI and p (comparison of two counts allowing for each crime type's extra variation; "
                   "exact Poisson test where none is found); p (adjusted): Holm's adjustment over the "
                   f"{int(pt['n_comparisons'].max()) if 'n_comparisons' in pt and len(pt) else 0} comparisons in "
                   "this table, on which the verdict rests. Rate per 1,000 residents a "
                   "year in the latest period, 95% CI. All crime excludes anti-social behaviour (ASB), which is "
                   "recorded as incidents, not crimes.")
    others = h[h["area"] != res.partnership]
    ctx.say("### Force, partnership and districts")
    ctx.say("The same comparison for the force area, the partnership and each of its districts (the "
            "force / CSP / district comparison of the monthly performance report), over the same months. "
            "Force-area counts are records located in the force area's LSOAs. " + res.national_note +
            " " + res.county_note)
    if len(others):
        key = [ALL_CRIME, ASB] + [m for m in res.priorities if m not in (ALL_CRIME, ASB)]
        rest = [m for m in res.measures if m not in key]
        morder = {m: i for i, m in enumerate(key + rest)}
        both = pd.concat([part, others])
        both = both.assign(_m=both["measure"].map(morder), _a=both["area_type"].map(AREA_ORDER))
        both = both.sort_values(["_m", "_a", "area"])
        key_rows = adjust_family(both[both["measure"].isin(key)])
        n_key = int(key_rows["n_comparisons"].max()) if len(key_rows) else 0
        ctx.table(_display_headline(key_rows, partnership=res.partnership), "headline_areas",
                  "All crime, ASB and priority crime types: force area, partnership and districts.",
                  note=f"p (adjusted): Holm's adjustment over the {n_key} comparisons in this table; the verdict "
                       "and the daggers below rest on it.")
        sents = []
        for m in key:
            g = key_rows[(key_rows["measure"] == m) & (key_rows["months_compared"] > 0)]
            if len(g):
                sents.append(f"{cap(label(m))}: " + ", ".join(
                    f"{'whole partnership' if r['area'] == res.partnership else r['area']} "
                    f"{_pct(r['percent_change'])}" + ("†" if r["unlikely_chance"] else "")
                    for _, r in g.iterrows()))
        if sents:
            ctx.say(f"In brief († = unlikely to be chance {allowing_text(n_key, MULTIPLICITY)} in the table "
                    "above):\n\n" + "\n".join(f"- {s}" for s in sents))
        other_rows = adjust_family(both[~both["measure"].isin(key)])
        n_other = int(other_rows["n_comparisons"].max()) if len(other_rows) else 0
        ctx.table(_display_headline(other_rows, partnership=res.partnership),
                  "headline_areas_other_types",
                  "Other crime types: force area, partnership and districts.",
                  note=f"p (adjusted): Holm's adjustment over the {n_other} comparisons in this table; the "
                       "verdict rests on it.")


# ============================================================================ priority sections
def _monthly_chart(ctx, res: TrendsResult, measure: str) -> None:
    p = ctx.params
    s = res.series[measure]
    full = pd.period_range(pd.Period(p.start, freq="M"), pd.Period(p.end, freq="M"), freq="M")
    y = s.reindex(full).astype(float)
    excl = [m for m in res.excluded.get(measure, []) if m in s.index]
    shown = y.copy()
    shown.loc[excl] = np.nan
    x = full.to_timestamp()
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(x, shown.values, marker=".", color="black", linewidth=1, label="Recorded per month")
    if excl:
        ax.plot(pd.PeriodIndex(excl).to_timestamp(), s.loc[excl].values, "x", color="tab:red", markersize=8,
                label="Flagged month (excluded)")
    fit = res.fits.get(measure)
    if fit is not None:
        tr_ = fit.fitted["trend"].reindex(full)
        ax.plot(x, tr_.values, color="tab:orange", linewidth=2, label="Long-run trend (count model)")
    missing = [m for m in full if m not in s.index]
    for run in _runs(missing):
        ax.axvspan(run[0].to_timestamp(), (run[-1] + 1).to_timestamp(), color="#dddddd", alpha=0.5, linewidth=0)
    if missing:
        ax.plot([], [], color="#dddddd", linewidth=8, label="No data published")
    ax.set_title(f"{res.partnership}: {label(measure)}, records per month")
    ax.set_xlabel("Month")
    ax.set_ylabel("Records per month (count)")
    ax.set_ylim(bottom=0)
    ax.legend(loc="best", fontsize="small")
    ctx.show(fig)


def _fixed_stl_layout(fig) -> None:
    """Fixed margins for the four-panel STL figure instead of constrained layout.

    Constrained layout measures every tick label and title before drawing, which cost
    about as much as drawing the figure itself. These margins are the ones it chose for
    typical series (axes from 11.5% to 98.5% of the width, panels 19% high with 4% gaps);
    a wider tick label than usual is not clipped, because :func:`csp_analysis.report.render_png`
    draws with room around the figure and crops to what was drawn.
    """
    fig.set_layout_engine(None)
    fig.subplots_adjust(left=0.115, right=0.985, bottom=0.06, top=0.939, hspace=0.215)
    if fig.get_suptitle():
        fig.suptitle(fig.get_suptitle(), y=0.995)


def _stl(ctx, res: TrendsResult, measure: str) -> None:
    usable = res.usable(measure)
    runs = _runs(usable)
    long_runs = [r for r in runs if len(r) >= 24]
    if not long_runs:
        longest = max(runs, key=len) if runs else []
        why = (f"the longest stretch of consecutive usable months is {len(longest)} "
               f"({_ranges(longest)})" if longest else "there are no usable months")
        ctx.say(f"*Seasonal decomposition:* not shown, because STL needs at least 24 consecutive months with no "
                f"gap and no flagged month, and {why}. Missing months are not filled in. The count model below "
                "estimates the seasonal pattern despite the gaps.")
        return
    run = long_runs[-1]
    s = res.series.loc[run, measure].astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dec = tr.decompose(s)
    axes = tr.plot_decomposition(dec, title=f"{res.partnership}: {label(measure)}, seasonal decomposition (STL), "
                                 f"{_month_text(run[0])} to {_month_text(run[-1])}",
                                 ylabel="Records per month")
    _fixed_stl_layout(axes[0].figure)
    ctx.show(axes[0].figure)
    ts, ss = dec.attrs.get("trend_strength", np.nan), dec.attrs.get("seasonal_strength", np.nan)
    seas = dec["seasonal"].groupby(dec.index.month).mean()
    peak, low = seas.idxmax(), seas.idxmin()
    mname = lambda k: pd.Timestamp(2000, k, 1).strftime("%B")  # noqa: E731
    ctx.say(f"*Seasonal decomposition* ({len(run)} consecutive months, {_ranges(run)}): the seasonal pattern "
            f"peaks in {mname(peak)} (about {seas.max():+,.0f} records against the trend) and is lowest in "
            f"{mname(low)} ({seas.min():+,.0f}). Strength of seasonality {ss:.2f} and of trend {ts:.2f} "
            "(0 = none, 1 = dominant). " + ("" if len(run) == len(usable) else
                                              "Months outside this stretch are left out: STL cannot bridge gaps."))


_RULE_TEXT = {
    "outside_limits": "a point outside the process limits",
    "shift": "a run of 7 or more months on one side of the mean (shift)",
    "trend": "7 or more months each higher, or each lower, than the one before (trend)",
    "two_of_three": "two of three months close to a limit (near the limit)",
}


def rule_sentences(chart: pd.DataFrame) -> list[str]:
    """One sentence per Making Data Count rule that fired, naming the months."""
    out = []
    idx = chart.index
    for rule, text in _RULE_TEXT.items():
        mask = chart[rule].to_numpy(dtype=bool)
        if not mask.any():
            continue
        months = [pd.Period(m, freq="M") for m in idx[mask]]
        above = chart["value"].to_numpy()[mask] > chart["centre"].to_numpy()[mask]
        if rule in ("shift", "trend", "two_of_three"):
            groups = []
            for run in _runs(months):
                seg = chart.loc[[m for m in idx if pd.Period(m, freq="M") in set(run)]]
                if rule == "trend":
                    d = "rising" if seg["value"].iloc[-1] > seg["value"].iloc[0] else "falling"
                else:
                    d = "above the mean" if (seg["value"] > seg["centre"]).mean() > 0.5 else "below the mean"
                groups.append(f"{_ranges(run)} ({d})")
            out.append(f"{cap(text)}: {'; '.join(groups)}.")
        else:
            hi = [m for m, a in zip(months, above) if a]
            lo = [m for m, a in zip(months, above) if not a]
            items = ([f"above the upper limit in {_ranges(hi)}"] if hi else []) + \
                    ([f"below the lower limit in {_ranges(lo)}"] if lo else [])
            out.append(f"{cap(text)}: {'; '.join(items)}.")
    return out


def _control_chart(ctx, res: TrendsResult, measure: str) -> pd.DataFrame | None:
    usable = res.usable(measure)
    runs = _runs(usable)
    if not runs:
        return None
    run = runs[-1][-CHART_MONTHS:]
    if len(run) < 12:
        months = usable[-CHART_MONTHS:]
        span = (f"all {len(months)} usable months ({_ranges(months)}); the latest stretch without gaps is only "
                f"{len(run)} months, so the runs rules are read across the gaps")
    else:
        months = run
        span = f"the latest {len(run)} consecutive usable months ({_ranges(run)})"
        if len(run) == CHART_MONTHS and len(runs[-1]) > CHART_MONTHS:
            span += f" (at most {CHART_MONTHS} months, so that the limits describe the current process)"
    if len(months) < 8:
        ctx.say(f"*Control chart:* not shown: only {len(months)} usable months.")
        return None
    s = res.series.loc[months, measure].astype(float)
    s.index = pd.PeriodIndex(months, freq="M")
    chart, poisson, kind, unit = control_chart_of_record(s, res.population)
    ax = tr.plot_control_chart(chart, title=f"{res.partnership}: {label(measure)}, control chart "
                               f"({kind.split(' (')[0]})", ylabel=unit)
    ctx.show(ax.figure)
    text = (f"*Control chart:* {'an' if kind.startswith('XmR') else 'a'} {kind} of {span}, with the NHS "
            "*Making Data Count* rules (a fall is shown as an improvement). ")
    if poisson is not None:
        share_out = float(poisson["outside_limits"].mean())
        text += (f"The Poisson ({poisson.attrs['kind']} chart) limits were tried first, but {share_out:.0%} of months "
                 f"({int(poisson['outside_limits'].sum())} of {len(poisson)}) fall outside them: the counts vary "
                 "much more from month to month than a steady Poisson process would (seasonality and genuine "
                 "fluctuation), so on that chart ordinary months such as the usual seasonal highs and lows look "
                 "like special causes. Following *Making Data Count*, the XmR chart, whose limits come from the "
                 "series' own month-to-month variation, is used instead, and its verdicts are the ones given here. "
                 "It still reads a strong seasonal pattern as runs above or below the mean, so a single signal "
                 "in a usually high or low month deserves a look at the same month in earlier years. ")
    n_sc = int(chart["special_cause"].sum())
    if n_sc == 0:
        text += "No month shows special-cause variation: the series is within normal variation."
        ctx.say(text)
    else:
        ctx.say(text + f"{n_sc} of {len(chart)} months show special-cause variation:\n\n" +
                "\n".join(f"- {s}" for s in rule_sentences(chart)))
    last = chart.iloc[-1]
    latest = pd.Period(chart.index[-1], freq="M")
    ctx.say(f"Latest month ({_month_text(latest)}), on the "
            f"{'XmR' if poisson is not None else 'Poisson'} chart: {last['variation'].lower()}."
            + _same_month_text(res, measure, latest) + (
                f" With only {len(chart)} months the limits are provisional (Making Data Count advises at least "
                "15 to 20)." if len(chart) < 15 else ""))
    return chart


def _same_month_text(res: TrendsResult, measure: str, month: pd.Period, years: int = 2) -> str:
    """The month's count against the same calendar month in up to ``years`` earlier years
    (usable months only): the seasonal yardstick a control chart lacks."""
    usable = set(res.usable(measure))
    if month not in usable:
        return ""
    s = res.series[measure]
    earlier = [month - 12 * k for k in range(1, years + 1) if (month - 12 * k) in usable]
    if not earlier:
        return ""
    return (f" Against the same month in earlier years (the seasonal yardstick): {int(s[month]):,} records in "
            f"{_month_text(month)}, against " + _list([f"{int(s[m]):,} in {_month_text(m)}" for m in earlier]) + ".")


def control_chart_of_record(
    s: pd.Series, population: float | None = None, switch_share: float = XMR_SWITCH_SHARE,
) -> tuple[pd.DataFrame, pd.DataFrame | None, str, str]:
    """The control chart to report for a monthly count series, and why.

    A u chart (rate per 1,000 residents; with no population, a c chart of the counts) with
    Poisson limits is computed first. When more than ``switch_share`` of the months fall
    outside those limits the counts are over-dispersed (seasonality, genuine fluctuation) and
    the Poisson limits are too narrow to separate special from common causes, so, as *Making
    Data Count* advises, an XmR chart of the same values is the chart of record.

    Returns ``(chart, poisson, kind, unit)``: the chart of record, the Poisson chart when it
    was set aside (else None), a description of the chart and the y-axis label.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if population:
            pchart = tr.control_chart(s, kind="u", denominators=np.full(len(s), population), multiplier=1000,
                                      improvement="decrease")
            unit = "Records per 1,000 residents per month"
            kind = "u chart (monthly rate per 1,000 residents, Poisson limits)"
        else:
            pchart = tr.control_chart(s, kind="c", improvement="decrease")
            unit = "Records per month (count)"
            kind = "c chart (monthly count, Poisson limits)"
        if pchart["outside_limits"].mean() <= switch_share:
            return pchart, None, kind, unit
        xmr = tr.control_chart(pchart["value"], kind="xmr", improvement="decrease")
    what = "monthly rate per 1,000 residents" if population else "monthly count"
    return xmr, pchart, f"XmR chart ({what}, limits from the month-to-month variation)", unit


def priority_sections(ctx, res: TrendsResult) -> None:
    """Per priority crime type: monthly chart, seasonal decomposition and control chart."""
    ctx.say("## Priority crime types month by month")
    ctx.say("For each of the partnership's priority types: the monthly count with the long-run trend, a "
            "seasonal decomposition where the series is long enough, and a control chart that marks months "
            "showing special-cause variation. Grey bands are months with no published data; red crosses are "
            "flagged months, left out of every calculation.")
    if not len(res.months):
        return
    for measure in res.priorities:
        ctx.say(f"### {cap(label(measure))}")
        row = res.headline[(res.headline["area"] == res.partnership) & (res.headline["measure"] == measure)]
        if len(row) and row.iloc[0]["months_compared"] > 0:
            ctx.say(f"Latest 12 months against the comparison period: {row.iloc[0]['sentence']}")
        _monthly_chart(ctx, res, measure)
        _stl(ctx, res, measure)
        _control_chart(ctx, res, measure)


# ============================================================================ long-run trend
def long_run(ctx, res: TrendsResult) -> None:
    """Annual % change from the count model and Mann-Kendall, every measure."""
    ctx.say("## Long-run trend")
    lr = res.long_run
    if not len(lr):
        ctx.say("Not enough data for a long-run trend.")
        return
    span = ""
    if "first_month" in lr and lr["first_month"].notna().any():
        span = (f" from {pd.Period(lr['first_month'].dropna().min()).strftime('%B %Y')} to "
                f"{pd.Period(lr['last_month'].dropna().max()).strftime('%B %Y')}")
    ctx.say(f"The annual % change{span} comes from a negative binomial regression of the monthly counts with a "
            "term for each calendar month (so seasonality is not mistaken for trend), fitted to the months "
            "present; gaps are allowed and flagged months are left out. The Mann-Kendall test (seasonal "
            "Kendall, comparing January with January and so on, where each calendar month appears in at least "
            "two years) is a check that does not assume a straight-line trend. Its estimate, Sen's slope, is "
            "the change in the **monthly** count each year (records per month, per year): a slope of 5 means "
            "each month has about 5 more records than the same month a year before, about 60 more a year in "
            "total.")
    t = pd.DataFrame({"Crime type": lr["measure"],
                      "Priority": np.where(lr["measure"].isin(res.priorities), "yes", ""),
                      "Months used": lr["months_used"], "Months excluded": lr["months_excluded"]})
    for src, dst, dp in [("annual_change", "Annual % change", 1), ("change_lower", "CI lower (%)", 1),
                         ("change_upper", "CI upper (%)", 1)]:
        t[dst] = lr[src].astype(float).round(dp) if src in lr else np.nan
    t["p-value"] = [rates.format_p_value(v).replace("p ", "").replace("= ", "") if pd.notna(v) else "–"
                    for v in lr.get("change_p", pd.Series(np.nan, index=lr.index))]
    t["Mann-Kendall test"] = lr.get("mk_test", "")
    t["MK verdict"] = lr.get("mk_trend", "")
    t["MK p-value"] = [rates.format_p_value(v).replace("p ", "").replace("= ", "") if pd.notna(v) else "–"
                       for v in lr.get("mk_p", pd.Series(np.nan, index=lr.index))]
    for src, dst in [("sen_slope_year", SEN_COLUMN), ("sen_lower", "Sen CI lower"),
                     ("sen_upper", "Sen CI upper"),
                     ("sen_annual_total", "Sen: change in annual total (records a year)")]:
        t[dst] = lr[src].astype(float).round(1) if src in lr else np.nan
    ctx.table(t, "long_run_trend", f"{res.partnership}: annual % change (count model) and Mann-Kendall trend test, "
              "by crime type.",
              note="Count model: negative binomial GLM with month-of-year terms, dispersion by the Pearson "
                   "moment estimator, t intervals. Mann-Kendall: seasonal Kendall test where at least six calendar "
                   "months appear in two or more years, otherwise the plain test (which seasonality can mislead); "
                   "verdict at the 5% level. Sen's slope is the change in the monthly count, in records per "
                   "month, each year (the plain test's slope per month is multiplied by 12 to give the same unit); "
                   "times 12 again, it is the change in the annual total.")
    # forest plot
    ok = lr.dropna(subset=["annual_change"]) if "annual_change" in lr else lr.iloc[0:0]
    if len(ok):
        ok = ok.iloc[::-1]
        fig, ax = plt.subplots(figsize=(9, 0.35 * len(ok) + 1.5))
        yy = np.arange(len(ok))
        real = ((ok["change_lower"] > 0) | (ok["change_upper"] < 0)).to_numpy()
        colours = np.where(real, "tab:blue", "#999999")
        ax.errorbar(ok["annual_change"], yy, xerr=[ok["annual_change"] - ok["change_lower"],
                                                   ok["change_upper"] - ok["annual_change"]],
                    fmt="none", ecolor=colours, elinewidth=2)
        ax.scatter(ok["annual_change"], yy, color=colours, zorder=3)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.plot([], [], "o-", color="tab:blue", label="Interval excludes no change")
        ax.plot([], [], "o-", color="#999999", label="Could be chance")
        ax.legend(loc="lower right", fontsize="small")
        ax.set_yticks(yy)
        ax.set_yticklabels([m + (" (priority)" if m in res.priorities else "") for m in ok["measure"]])
        ax.set_xlabel("Annual change in recorded count (% a year, 95% CI)")
        ax.set_ylabel("Crime type")
        ax.set_title(f"{res.partnership}: long-run annual change by crime type")
        ax.grid(axis="y", alpha=0)
        ctx.show(fig)
    sents = []
    for m in [ALL_CRIME, ASB, *[x for x in res.priorities if x not in (ALL_CRIME, ASB)]]:
        r = lr[lr["measure"] == m]
        if len(r):
            r = r.iloc[0]
            if isinstance(r.get("model_sentence"), str):
                s = r["model_sentence"]
                if isinstance(r.get("mk_sentence"), str):
                    s += " " + r["mk_sentence"]
                sents.append(s)
            elif isinstance(r.get("model_note"), str) or isinstance(r.get("mk_sentence"), str):
                note = r.get("model_note") if isinstance(r.get("model_note"), str) else "too few months"
                sents.append(f"{cap(label(m))}: no trend model ({note})."
                             + (f" {r['mk_sentence']}" if isinstance(r.get("mk_sentence"), str) else ""))
    if sents:
        ctx.say("\n".join(f"- {s}" for s in sents))
    for m in [ALL_CRIME, ASB, *[x for x in res.priorities if x not in (ALL_CRIME, ASB)]]:
        r = lr[lr["measure"] == m]
        if len(r) and pd.notna(r.iloc[0].get("annual_change", np.nan)):
            r = r.iloc[0]
            ctx.headline(f"trend_{_slug(m)}", f"{cap(label(m))}: annual % change (long run)",
                         round(float(r["annual_change"]), 1), r["model_sentence"],
                         lower=round(float(r["change_lower"]), 1), upper=round(float(r["change_upper"]), 1),
                         p_value=float(r["change_p"]))


# ============================================================================ hot spots
def _lsoa_vintages(con, lad_codes) -> tuple[set, set, dict]:
    df = data.lsoa_vintages(con, lad_codes)
    c11 = set(df.loc[df["vintage"] == 2011, "lsoa_code"])
    c21 = set(df.loc[df["vintage"] == 2021, "lsoa_code"])
    names = dict(zip(df["lsoa_code"], df["lsoa_name"]))
    return c11, c21, names


def _period_vintage(codes: pd.Series, counts: pd.Series, c11: set, c21: set) -> int | None:
    only11 = counts[codes.isin(c11 - c21).to_numpy()].sum()
    only21 = counts[codes.isin(c21 - c11).to_numpy()].sum()
    if only11 == only21 == 0:
        return None
    return 2011 if only11 > only21 else 2021


def hot_spot_data(con, params, res: TrendsResult, measure: str) -> dict | None:
    """Top LSOAs and street locations, concentration and the top-10 changes for one measure.

    Uses the partnership's matched months for the measure (the headline comparison).
    Returns None when there are no matched months.
    """
    mm = res.matches.get((res.partnership, measure))
    if mm is None or not mm.a:
        return None
    a, b = _to_period(mm.a), _to_period(mm.b)
    recs = data.location_counts_by_period(con, params.lad_codes, data.measure_crime_types(measure, ALL_CRIME),
                                          a, b)
    c11, c21, names = _lsoa_vintages(con, params.lad_codes)
    by_lsoa = recs.groupby(["period", "lsoa_code"])["n"].sum()
    cur = by_lsoa.get("latest", pd.Series(dtype=float)) if "latest" in by_lsoa.index.get_level_values(0) \
        else pd.Series(dtype=float)
    prev = by_lsoa.get("previous", pd.Series(dtype=float)) if "previous" in by_lsoa.index.get_level_values(0) \
        else pd.Series(dtype=float)
    v_cur = _period_vintage(pd.Series(cur.index), cur, c11, c21)
    v_prev = _period_vintage(pd.Series(prev.index), prev, c11, c21)
    same = v_cur is None or v_prev is None or v_cur == v_prev
    unchanged = c11 & c21
    rec_names = recs.drop_duplicates("lsoa_code").set_index("lsoa_code")["lsoa_name"].to_dict()
    names = {**rec_names, **names}
    if same:
        vnote = (f"Both periods use {v_cur or v_prev or 2021} LSOA codes, so LSOAs are compared like with like."
                 if (v_cur or v_prev) else "LSOAs are compared like with like (their codes are the same in both "
                 "periods).")
        cur_c, prev_c = cur, prev
    else:
        cur_c = cur[cur.index.isin(unchanged)]
        prev_c = prev[prev.index.isin(unchanged)]
        lost = cur.sum() - cur_c.sum() + prev.sum() - prev_c.sum()
        vnote = (f"The latest period uses {v_cur} LSOA codes and the comparison period {v_prev} codes. To compare "
                 f"like with like, the top-10 comparison uses only the {len(unchanged):,} LSOAs whose boundaries did "
                 f"not change between the 2011 and 2021 vintages ({int(lost):,} records in changed LSOAs are left "
                 "out of it); each period's concentration uses its own vintage's LSOAs.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        top_l = tr.top_places(cur_c.astype(float), prev_c.astype(float), n=TOP_N, confidence=CONFIDENCE)
    if len(top_l):
        top_l.insert(1, "name", top_l["place"].map(names))
    # street locations within LSOA
    st = recs.copy()
    if not same:
        st = st[st["lsoa_code"].isin(unchanged)]
    st["key"] = st["lsoa_code"] + " | " + st["location"]
    st_cur = st[st["period"] == "latest"].groupby("key")["n"].sum().astype(float)
    st_prev = st[st["period"] == "previous"].groupby("key")["n"].sum().astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        top_s = tr.top_places(st_cur, st_prev, n=TOP_N, confidence=CONFIDENCE)
    if len(top_s):
        code = top_s["place"].str.split(" | ", regex=False).str[0]
        loc = top_s["place"].str.split(" | ", regex=False).str[1].str.strip()
        loc = loc.where(~loc.isin(["", "On or near"]), "On or near (unnamed point)")
        top_s.insert(1, "name", loc + ", " + code.map(names).fillna(code))
    # concentration per period over its vintage's LSOAs (zero-crime LSOAs included)
    conc = []
    for per, s, v in (("latest", cur, v_cur), ("previous", prev, v_prev)):
        if s.sum() <= 0:
            continue
        universe = (c21 if (v or 2021) == 2021 else c11) | set(s.index)
        x = s.reindex(sorted(universe), fill_value=0).astype(float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            c = tr.concentration(x, place_label="LSOAs", confidence=CONFIDENCE, n_boot=1000, whole_places=True)
        c.insert(0, "period", per)
        conc.append(c)
    conc = pd.concat(conc, ignore_index=True) if conc else pd.DataFrame()
    return {"months_latest": a, "months_previous": b, "top_lsoas": top_l, "top_streets": top_s,
            "concentration": conc, "vintage_note": vnote, "same_vintage": same,
            "vintages": (v_cur, v_prev)}


def concentration_display(c: pd.DataFrame) -> pd.DataFrame:
    """The concentration table as shown: top shares (whole LSOAs) without an interval, the
    Gini with its bootstrap interval."""
    gini = (c["measure"] == "gini").to_numpy()
    what = [("Generalised Gini" if g else
             f"Share of records in the busiest {int(k)} LSOAs (top {m.split('_')[-1]})")
            for g, m, k in zip(gini, c["measure"], c["n_top_places"].fillna(0))]
    return pd.DataFrame({
        "Period": c["period"].map({"latest": "Latest", "previous": "Comparison"}),
        "Measure": what,
        "Value": np.where(gini, c["value"], c["value"] * 100).round(2),
        "CI lower": np.where(gini, c["lower"], np.nan).round(2),
        "CI upper": np.where(gini, c["upper"], np.nan).round(2),
        "LSOAs (incl. none recorded)": c["n_places"].astype(int), "Records": c["n_records"].astype(int),
    })


def concentration_sentences(c: pd.DataFrame) -> str:
    """Plain-English concentration for one period: top shares in whole LSOAs (no interval),
    the Gini with what its bootstrap interval means."""
    out = []
    for _, r in c.iterrows():
        if r["measure"] == "gini":
            out.append(f"The Gini coefficient of records across {int(r['n_places']):,} LSOAs is {r['value']:.2f} "
                       "(0 = spread as evenly as possible, 1 = all in one place); resampling LSOAs gives a 95% "
                       f"interval of {r['lower']:.2f} to {r['upper']:.2f}, the spread expected over other sets of "
                       "LSOAs like these rather than the uncertainty of this figure.")
        else:
            frac = r["measure"].split("_")[-1]
            k, n = int(r["n_top_places"]), int(r["n_places"])
            rounded = "" if abs(float(frac.rstrip("%")) / 100 * n - k) < 1e-9 else ", rounded up"
            out.append(f"The busiest {k} of {n:,} LSOAs (the top {frac}{rounded}) had {r['value'] * 100:.1f}% of "
                       "records.")
    return " ".join(out)


def _top_display(t: pd.DataFrame, what: str) -> pd.DataFrame:
    if not len(t):
        return pd.DataFrame()
    out = pd.DataFrame({
        "Rank (latest)": t["rank_current"], what: t["name"].fillna(t["place"]),
        "Code": t["place"].str.split(" | ", regex=False).str[0],
        "Latest": t["count_current"].astype(int), "Previous": t["count_previous"].astype(int),
        "Change": t["change"].astype(int), "Rank (previous)": t["rank_previous"],
        "Ratio": t["value"].replace(np.inf, np.nan).astype(float).round(2),
        "Ratio CI lower": t["lower"].replace(np.inf, np.nan).astype(float).round(2),
        "Ratio CI upper": t["upper"].replace(np.inf, np.nan).astype(float).round(2),
        "Top-10 list": np.where(t["entered"], "entered", np.where(t["left"], "left", "stayed")),
    })
    return out


def _entered_left(t: pd.DataFrame) -> str:
    if not len(t):
        return ""
    ent = [str(n) for n in t.loc[t["entered"], "name"].fillna(t["place"])]
    left = [str(n) for n in t.loc[t["left"], "name"].fillna(t["place"])]
    parts = []
    parts.append(f"Entered the top {TOP_N}: {_list(ent)}." if ent else f"No new entry in the top {TOP_N}.")
    parts.append(f"Left the top {TOP_N}: {_list(left)}." if left else "")
    return " ".join(p for p in parts if p)


def hot_spots(ctx, res: TrendsResult, measures: list[str] | None = None) -> dict:
    """Top LSOAs and street locations, concentration, entries and exits of the top-10 list."""
    ctx.say("## Hot spots")
    out = {}
    if not len(res.months):
        return out
    measures = measures or [ALL_CRIME, ASB]
    ctx.say(f"Where records are concentrated: the top {TOP_N} LSOAs (neighbourhoods of about 1,500 residents) and "
            f"the top {TOP_N} street locations (the anonymised \"on or near\" points of data.police.uk, within their "
            "LSOA), in the latest period's matching months against the comparison period's, and how "
            "concentrated records are across all the partnership's LSOAs, including those with no records. "
            "Places at the top of the earlier list tend to fall back next time by chance alone (regression to "
            "the mean), so a fall there is weak evidence on its own; the ratio's interval shows whether a "
            "change at one place is larger than chance.")
    for measure in measures:
        hs = hot_spot_data(ctx.con, ctx.params, res, measure)
        ctx.say(f"### {cap(label(measure))}")
        if hs is None:
            ctx.say("No months to compare, so no hot-spot comparison.")
            continue
        out[measure] = hs
        ctx.say(f"Latest period: {_ranges(hs['months_latest'])}; comparison period: "
                f"{_ranges(hs['months_previous'])}. {hs['vintage_note']}")
        c = hs["concentration"]
        if len(c):
            ctx.table(concentration_display(c), f"concentration_{_slug(measure)}",
                      f"{cap(label(measure))}: concentration across LSOAs (shares of records in the busiest "
                      "whole LSOAs, in %; generalised Gini 0-1 with a 95% bootstrap interval).", float_dp=2,
                      note="Top 5% and 10% are rounded up to whole LSOAs. The shares have no interval: they "
                           "describe this partnership's own LSOAs, all of them, not a sample. The Gini's interval "
                           "comes from resampling LSOAs, so it says how much the Gini would vary over other sets "
                           "of LSOAs like these, not how uncertain this year's figure is.")
            lat = c[c["period"] == "latest"]
            if len(lat):
                ctx.say(concentration_sentences(lat))
        if len(hs["top_lsoas"]):
            ctx.table(_top_display(hs["top_lsoas"], "LSOA"), f"top_lsoas_{_slug(measure)}",
                      f"{cap(label(measure))}: top {TOP_N} LSOAs in either period (ratio = latest / previous, "
                      "exact 95% CI).", float_dp=2)
            ctx.say("LSOAs: " + _entered_left(hs["top_lsoas"]))
        if len(hs["top_streets"]):
            ctx.table(_top_display(hs["top_streets"], "Street location (LSOA)"), f"top_streets_{_slug(measure)}",
                      f"{cap(label(measure))}: top {TOP_N} street locations in either period.", float_dp=2)
            ts = hs["top_streets"]
            new = ts[ts["entered"] & (ts["count_previous"] == 0)]
            gone = ts[ts["left"] & (ts["count_current"] == 0)]
            extra = ""
            if len(new) + len(gone):
                extra = (f" {len(new) + len(gone)} of these location{'s' if len(new) + len(gone) != 1 else ''} "
                         "had no records at all in the other period, which often means data.police.uk added, moved "
                         "or renamed the anonymised map point rather than a real change at that place.")
            ctx.say("Street locations: " + _entered_left(ts) + extra)
    return out
