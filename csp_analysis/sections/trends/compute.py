"""The trends report's analysis: pure functions from loaded DataFrames to results.

No report context, no figures, no text output: :mod:`.load` fetches the data (through
:mod:`csp_analysis.data`), :func:`compute_trends` turns them into a :class:`TrendsResult`, and
the section functions (:mod:`.render`) draw and word it.

Data-quality rules (:mod:`csp_analysis.quality`): months with no published file are gaps, never
filled in; months flagged as extract artefacts or severe drops (``exclude`` True) in the force
file(s), the partnership or any of its districts are left out of every comparison and model for
that crime type, in every area; period comparisons use only months present (and usable) in both
periods (:func:`csp_analysis.quality.common_months`).

Statistics: :func:`csp_analysis.rates.compare_periods` (two counts, allowing for the extra
variation of each measure estimated from the area's own monthly history by
:func:`csp_analysis.dispersion.estimate_dispersion`; the exact Poisson test where none is found),
verdicts adjusted for multiple comparisons within each family shown together with
:func:`csp_analysis.multiplicity.adjust_p_values` (Holm), :func:`csp_analysis.rates.rate_ci`,
:func:`csp_analysis.trends.fit_count_trend` (negative binomial annual % change),
:func:`csp_analysis.trends.seasonal_mann_kendall` / ``mann_kendall``,
:func:`csp_analysis.trends.decompose` (STL), :func:`csp_analysis.trends.control_chart`
(Making Data Count rules) and :func:`csp_analysis.trends.concentration` / ``top_places``.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ... import dispersion, quality, rates
from ... import trends as tr
from ...multiplicity import adjust_p_values
from . import wording
from .constants import (ALL_CRIME, ASB, CHART_MONTHS, CONFIDENCE, EW_FORCES, MULTIPLICITY, TOP_N,
                        XMR_SWITCH_SHARE)
from .periods import month_text as _month_text
from .periods import runs as _runs
from .periods import to_period as _to_period
from .wording import cap, label


# ============================================================================ inputs and result
@dataclass
class AreaCounts:
    """One area's monthly counts as loaded: ``counts`` has ``month``, ``crime_type``, ``n``.

    The area is shown over ``months`` when given (England and Wales: the months with every
    force's file), else over its own months (``own_months``: county, force area), else over
    the partnership's months (the partnership and its districts)."""

    area: str
    area_type: str
    population: float | None
    counts: pd.DataFrame
    own_months: bool = False
    months: list | None = None


@dataclass
class TrendsInputs:
    """What :func:`compute_trends` needs, as loaded by :func:`.load.load_trends_inputs`.

    ``areas`` starts with the partnership, then its districts, the county and the force
    area(s); ``force_file_counts`` has rows per force file, month and crime type;
    ``national`` is (full months, month with most forces, forces missing in it)."""

    partnership: str
    start: Any
    end: Any
    priority_crime_types: list
    areas: list
    force_file_counts: pd.DataFrame
    national: tuple
    county_note: str = ""


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


def _months_of(counts: pd.DataFrame) -> list[pd.Period]:
    return sorted(pd.PeriodIndex(pd.to_datetime(counts["month"].unique()), freq="M")) if len(counts) else []


def measures_of(priority_crime_types) -> tuple[list[str], list[str]]:
    """The measures reported (all crime, ASB, every other crime type) and the priorities among them."""
    from ...params import CRIME_TYPES

    types = [t for t in CRIME_TYPES if t != ASB]
    measures = [ALL_CRIME, ASB] + types
    priorities = []
    for t in priority_crime_types:
        m = ALL_CRIME if t == "All crime" else t
        if m not in priorities:
            priorities.append(m)
    return measures, priorities


def _measures(p) -> tuple[list[str], list[str]]:
    return measures_of(p.priority_crime_types)


def area_tables(areas: list[AreaCounts], measures: list[str]) -> tuple[list, dict, list[dict], list[str]]:
    """Covered months, area -> month x measure counts, the area rows and the district names."""
    months = _months_of(areas[0].counts)
    wide, rows, districts = {}, [], []
    for a in areas:
        index = a.months if a.months is not None else _months_of(a.counts) if a.own_months else months
        wide[a.area] = _wide(a.counts, measures).reindex(index, fill_value=0)
        rows.append({"area": a.area, "area_type": a.area_type, "population": a.population})
        if a.area_type == "District":
            districts.append(a.area)
    return months, wide, rows, districts


# ============================================================================ flagged months
def _long_counts(w: pd.DataFrame, area: str) -> pd.DataFrame:
    long = w.stack().rename("n").reset_index()
    long.columns = ["month", "crime_type", "n"]
    return long.assign(area=area)


def flag_months(force_file_counts: pd.DataFrame, wide: dict, partnership: str, districts: list[str],
                measures: list[str]) -> pd.DataFrame:
    """Flag anomalous months in the force file(s), the partnership and each district
    (:func:`csp_analysis.quality.flag_anomalous_months`; missing months are not flags here)."""
    frames = []
    ff = force_file_counts
    if len(ff):
        ff = ff[pd.to_datetime(ff["month"]).dt.to_period("M").isin(wide[partnership].index)]
        for force, g in ff.groupby("force"):
            frames.append(_long_counts(_wide(g[["month", "crime_type", "n"]], measures), f"the {force} force file"))
    for area in [partnership, *districts]:
        frames.append(_long_counts(wide[area], area))
    if not frames:
        return pd.DataFrame(columns=["area", "month", "series", "n", "reference", "ratio", "flag", "exclude",
                                     "reason"])
    allc = pd.concat(frames, ignore_index=True)
    allc["month"] = allc["month"].astype(str)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = quality.flag_anomalous_months(allc, group_cols="area")
    return f[f["flag"] != "missing_month"].reset_index(drop=True)


def excluded_months(flags: pd.DataFrame) -> dict[str, list]:
    """measure -> sorted excluded months (Periods) from the flags marked ``exclude``."""
    excluded: dict[str, list] = {}
    if len(flags):
        ex = flags[flags["exclude"]]
        for measure, g in ex.groupby("series"):
            excluded[measure] = sorted({pd.Period(m, freq="M") for m in g["month"]})
    return excluded


# ============================================================================ comparison window
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


def comparison_window(months: list, excluded: dict, start, end) -> tuple[pd.PeriodIndex, int]:
    """The latest 12 months and the lag of the period compared with them."""
    end = pd.Period(end, freq="M")
    latest = _latest_periods(months, end) if months else pd.period_range(end - 11, end, freq="M")
    usable_all = [m for m in months if m not in set(excluded.get(ALL_CRIME, []))]
    lag = _choose_lag(usable_all, latest, pd.Period(start, freq="M")) if months else 12
    return latest, lag


# ============================================================================ England and Wales
def national_coverage(street_file_months: pd.DataFrame) -> tuple[list[pd.Period], pd.Period | None, list[str]]:
    """Months with a street file of every force of England and Wales; also the month with
    most forces and the forces missing in it (from ``force``, ``month`` rows)."""
    df = street_file_months
    if not len(df):
        return [], None, list(EW_FORCES)
    df = df.copy()
    df["month"] = pd.PeriodIndex(pd.to_datetime(df["month"]), freq="M")
    ew = set(EW_FORCES)
    per = df[df["force"].isin(ew)].groupby("month")["force"].apply(set)
    full = sorted(m for m, f in per.items() if f >= ew)
    if not len(per):
        return full, None, list(EW_FORCES)
    best = max(per.index, key=lambda m: (len(per[m]), m))
    return full, best, sorted(ew - per[best])


def national_months_to_use(months: list, latest: pd.PeriodIndex, lag: int, full: list) -> list | None:
    """The covered months England and Wales is shown over, or None when some month compared
    lacks a street file from one of the 43 forces."""
    needed = set(latest) | set(latest - lag)
    have_months = [m for m in needed if m in set(months)]
    if have_months and all(m in set(full) for m in have_months):
        return [m for m in full if m in set(months)]
    return None


def national_area(counts: pd.DataFrame, population, months_in: list) -> AreaCounts:
    """England and Wales as an area, over ``months_in`` (from :func:`national_months_to_use`)."""
    return AreaCounts("England and Wales", "England and Wales", population, counts, months=months_in)


# ============================================================================ year on year
def _area_dispersion(w: pd.DataFrame, measures: list[str], excluded: dict, latest: pd.PeriodIndex) -> dict:
    """measure -> (dispersion of a 12-month total, effective df) from the area's own months.

    :func:`csp_analysis.dispersion.estimate_dispersion` on the area's monthly counts (flagged
    months left out), with a step at the start of the latest period; the month-to-month
    correlation is pooled over the area's measures. An estimate floored at 1 keeps its df, so
    its test still allows for the uncertainty (a t reference); (1, NaN) where it cannot be
    estimated (fewer than 15 months): the exact Poisson test is then used, and with fewer than
    24 months the sentence cannot allow for seasonality in the estimate.
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
                    sent = (sent[: old.start()]
                            + wording.verdict_clause(r.p_value, r.p_adjusted, n, bool(r.unlikely_chance))
                            + sent[old.end():])
            new.append(sent)
        out["sentence"] = new
    return out


def _match_months(w: pd.DataFrame, measure: str, excluded: dict, latest, previous) -> quality.MonthMatch:
    """The months of the two periods that are usable for ``measure`` in both (matched)."""
    excl = set(excluded.get(measure, []))
    usable = [m for m in w.index if m not in excl]
    a = [m for m in latest if m in usable]
    b = [m for m in previous if m in usable]
    if not (a or b):
        return quality.MonthMatch(sentence="Neither period has any usable month.")
    return quality.common_months([str(m) for m in a], [str(m) for m in b])


def _compare(w: pd.DataFrame, measure: str, ka: list, kb: list, disp: dict, population) -> dict:
    """The comparison of the matched months' totals (and the latest period's rate)."""
    cur = int(w.loc[ka, measure].sum())
    prev = int(w.loc[kb, measure].sum())
    phi, phi_df = disp.get(measure, (1.0, np.nan))
    cmp_ = rates.compare_periods(cur, prev, confidence=CONFIDENCE, dispersion=phi, dispersion_df=phi_df).iloc[0]
    chance = bool(cmp_["p_value"] < 1 - CONFIDENCE and (cmp_["lower"] > 1 or cmp_["upper"] < 1))
    row = dict(latest=cur, previous=prev, percent_change=cmp_["percent_change"],
               percent_lower=cmp_["percent_lower"], percent_upper=cmp_["percent_upper"],
               p_value=cmp_["p_value"], unlikely_chance=chance, sentence=cmp_["sentence"],
               dispersion=cmp_["dispersion"], dispersion_df=cmp_["dispersion_df"], method=cmp_["method"])
    if population:
        r = rates.rate_ci(cur, population * len(ka) / 12.0, multiplier=1000, confidence=CONFIDENCE).iloc[0]
        row.update(rate=r["value"], rate_lower=r["lower"], rate_upper=r["upper"], rate_method=r["method"])
    return row


def headline_rows(res_like: dict, area: str, area_type: str, population: float | None,
                  measures: list[str], priorities: list[str]) -> tuple[list[dict], dict]:
    """Compare the latest period with the earlier one for every measure of one area.

    ``res_like``: ``wide`` (area -> month x measure counts), ``latest``, ``lag``, ``excluded``.
    Returns the rows and (area, measure) -> :class:`csp_analysis.quality.MonthMatch`.
    """
    w = res_like["wide"][area]
    latest, lag, excluded = res_like["latest"], res_like["lag"], res_like["excluded"]
    previous = latest - lag
    disp = _area_dispersion(w, measures, excluded, latest)
    rows, matches = [], {}
    for measure in measures:
        mm = _match_months(w, measure, excluded, latest, previous)
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
            row.update(_compare(w, measure, ka, kb, disp, population))
        else:
            row.update(sentence="No month is usable in both periods, so no comparison is possible.")
        row["population"] = population
        rows.append(row)
    return rows, matches


def headline_table_rows(state: dict, areas: pd.DataFrame, measures: list[str],
                        priorities: list[str]) -> tuple[pd.DataFrame, dict]:
    """:func:`headline_rows` for every area, each area's measures adjusted as one family."""
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
    return headline, matches


# ============================================================================ long-run trend
def _count_model_row(s: pd.Series, excl: list, measure: str) -> tuple[dict, Any]:
    """The negative binomial annual % change of one measure (row fields, fit or None)."""
    row: dict[str, Any] = {}
    fit = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if s.drop(excl).sum() > 0:
                fit = tr.fit_count_trend(s, exclude=excl or None, label=cap(label(measure)), confidence=CONFIDENCE)
        except ValueError as exc:
            row["model_note"] = str(exc)
    if fit is not None:
        t = fit.table.iloc[0]
        row.update(annual_change=t["value"], change_lower=t["lower"], change_upper=t["upper"],
                   change_p=t["p_value"], model_method=t["method"], dispersion=t["dispersion"],
                   first_month=t["first_month"], last_month=t["last_month"], model_sentence=t["sentence"])
    return row, fit


def _mann_kendall_row(s: pd.Series, excl: list, measure: str) -> dict:
    """Mann-Kendall on the usable months (excluded months missing, keeping their place):
    the seasonal Kendall test where six calendar months appear in two or more years, else the
    plain test from 8 months; nothing below that."""
    x = s.copy()
    x.loc[excl] = np.nan
    x = x.dropna()
    seasons = pd.Series(x.index.month).value_counts()
    row: dict[str, Any] = {}
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
    if mk is None:
        return row
    m = mk.iloc[0]
    # Both tests end up in one unit: the change in the MONTHLY count per year. The seasonal
    # slope already is that (median of same-calendar-month slopes, per year); the plain
    # test's slope is per month of the monthly count, so it is multiplied by 12.
    k = 12 if m["unit"] == "month" else 1
    slope, lo, hi = m["slope"] * k, m["lower"] * k, m["upper"] * k
    row.update(mk_trend=m["trend"], mk_p=m["p_value"], sen_slope_year=slope, sen_lower=lo, sen_upper=hi,
               sen_annual_total=slope * 12,
               mk_sentence=wording.sen_sentence(label(measure), m["trend"], slope, lo, hi, m["p_value"],
                                                row["mk_test"]))
    return row


def _long_run(series: pd.DataFrame, excluded: dict, measures: list[str]) -> tuple[pd.DataFrame, dict]:
    """One row per measure: count-model annual % change and Mann-Kendall; measure -> fit."""
    rows, fits = [], {}
    for measure in measures:
        s = series[measure].astype(float)
        excl = [m for m in excluded.get(measure, []) if m in s.index]
        row: dict[str, Any] = {"measure": measure, "months_used": int(len(s) - len(excl)),
                               "months_excluded": len(excl)}
        model, fits[measure] = _count_model_row(s, excl, measure)
        row.update(model)
        row.update(_mann_kendall_row(s, excl, measure))
        rows.append(row)
    return pd.DataFrame(rows), fits


long_run_trends = _long_run


# ============================================================================ the whole analysis
def prepare(inputs: TrendsInputs) -> dict:
    """Months, per-area counts, flags, exclusions and the comparison window (before England
    and Wales is decided and before any statistic)."""
    measures, priorities = measures_of(inputs.priority_crime_types)
    months, wide, area_rows, districts = area_tables(inputs.areas, measures)
    missing = [pd.Period(m, freq="M") for m in missing_months(months, inputs.start, inputs.end)]
    flags = flag_months(inputs.force_file_counts, wide, inputs.partnership, districts, measures)
    excluded = excluded_months(flags)
    latest, lag = comparison_window(months, excluded, inputs.start, inputs.end)
    return {"measures": measures, "priorities": priorities, "months": months, "missing": missing, "wide": wide,
            "area_rows": area_rows, "flags": flags, "excluded": excluded, "latest": latest, "lag": lag}


def missing_months(months: list, start, end) -> list[pd.Timestamp]:
    """Months of [start, end] not covered (:func:`csp_analysis.data.missing_months`, a pure helper)."""
    from ... import data

    return data.missing_months([m.to_timestamp() for m in months], start, end)


def compute_trends(inputs: TrendsInputs, prepared: dict | None = None,
                   national: AreaCounts | None = None) -> TrendsResult:
    """Everything the trends report shows, from loaded inputs (no database, no output).

    ``national``: England and Wales (:func:`national_area`) when it is shown."""
    st = prepared or prepare(inputs)
    wide, area_rows = dict(st["wide"]), list(st["area_rows"])
    if national is not None:
        _, nat_wide, nat_rows, _ = area_tables([national], st["measures"])
        wide.update(nat_wide)
        area_rows += nat_rows
    full, best, absent = inputs.national
    note = wording.national_note(national is not None, best, absent, len(full))
    areas = pd.DataFrame(area_rows)
    state = {"wide": wide, "latest": st["latest"], "lag": st["lag"], "excluded": st["excluded"]}
    headline, matches = headline_table_rows(state, areas, st["measures"], st["priorities"])
    res = TrendsResult(partnership=inputs.partnership, months=st["months"], missing=st["missing"],
                       measures=st["measures"], priorities=st["priorities"], wide=wide, areas=areas,
                       flags=st["flags"], excluded=st["excluded"], latest=st["latest"],
                       previous=st["latest"] - st["lag"], lag=st["lag"], matches=matches, headline=headline,
                       national_note=note, population=areas.iloc[0]["population"], county_note=inputs.county_note)
    if st["months"]:
        res.long_run, res.fits = _long_run(wide[inputs.partnership], st["excluded"], st["measures"])
    return res


# ============================================================================ priority sections
def stl_run(usable: list, min_months: int) -> tuple[list, list]:
    """The latest stretch of at least ``min_months`` consecutive usable months ([] when none)
    and the longest stretch (for the sentence when there is none)."""
    runs = _runs(usable)
    long_runs = [r for r in runs if len(r) >= min_months]
    longest = max(runs, key=len) if runs else []
    return (long_runs[-1] if long_runs else []), longest


def decompose_run(series: pd.Series) -> pd.DataFrame:
    """STL of one stretch of consecutive months (:func:`csp_analysis.trends.decompose`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tr.decompose(series.astype(float))


def seasonal_summary(dec: pd.DataFrame) -> dict:
    """Peak and low calendar months of the seasonal component and the two strengths."""
    seas = dec["seasonal"].groupby(dec.index.month).mean()
    return {"peak": seas.idxmax(), "low": seas.idxmin(), "peak_value": seas.max(), "low_value": seas.min(),
            "trend_strength": dec.attrs.get("trend_strength", np.nan),
            "seasonal_strength": dec.attrs.get("seasonal_strength", np.nan)}


def chart_window(usable: list, max_months: int = CHART_MONTHS) -> dict:
    """The months a control chart shows: the latest stretch without gaps (at most
    ``max_months``), or, when that stretch is shorter than 12 months, the latest usable
    months across the gaps. ``months`` is [] when there is no usable month."""
    runs = _runs(usable)
    if not runs:
        return {"months": [], "run": [], "across_gaps": False, "capped": False}
    run = runs[-1][-max_months:]
    if len(run) < 12:
        return {"months": usable[-max_months:], "run": run, "across_gaps": True, "capped": False}
    return {"months": run, "run": run, "across_gaps": False,
            "capped": len(run) == max_months and len(runs[-1]) > max_months}


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


# ============================================================================ hot spots
def _period_vintage(codes: pd.Series, counts: pd.Series, c11: set, c21: set) -> int | None:
    only11 = counts[codes.isin(c11 - c21).to_numpy()].sum()
    only21 = counts[codes.isin(c21 - c11).to_numpy()].sum()
    if only11 == only21 == 0:
        return None
    return 2011 if only11 > only21 else 2021


def _period_totals(recs: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Records per LSOA in the latest and the previous period."""
    by_lsoa = recs.groupby(["period", "lsoa_code"])["n"].sum()
    periods = by_lsoa.index.get_level_values(0)
    cur = by_lsoa.get("latest", pd.Series(dtype=float)) if "latest" in periods else pd.Series(dtype=float)
    prev = by_lsoa.get("previous", pd.Series(dtype=float)) if "previous" in periods else pd.Series(dtype=float)
    return cur, prev


def _top_streets(recs: pd.DataFrame, same: bool, unchanged: set, names: dict) -> pd.DataFrame:
    """Top street locations (within their LSOA) of the two periods."""
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
    return top_s


def _concentration(cur: pd.Series, prev: pd.Series, v_cur, v_prev, c11: set, c21: set) -> pd.DataFrame:
    """Concentration per period over its vintage's LSOAs (zero-crime LSOAs included)."""
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
    return pd.concat(conc, ignore_index=True) if conc else pd.DataFrame()


def hot_spots_from_records(recs: pd.DataFrame, c11: set, c21: set, names: dict, a: list, b: list) -> dict:
    """Top LSOAs and street locations, concentration and the top-10 changes for one measure.

    ``recs``: records by ``period`` ("latest"/"previous"), ``lsoa_code``, ``lsoa_name``,
    ``location``, ``n``; ``c11``, ``c21``: the partnership's LSOA codes of each vintage;
    ``names``: LSOA code -> name; ``a``, ``b``: the matched months of the two periods. When
    the periods use different LSOA vintages, the top-10 comparison uses only LSOAs whose
    boundaries did not change.
    """
    cur, prev = _period_totals(recs)
    v_cur = _period_vintage(pd.Series(cur.index), cur, c11, c21)
    v_prev = _period_vintage(pd.Series(prev.index), prev, c11, c21)
    same = v_cur is None or v_prev is None or v_cur == v_prev
    unchanged = c11 & c21
    rec_names = recs.drop_duplicates("lsoa_code").set_index("lsoa_code")["lsoa_name"].to_dict()
    names = {**rec_names, **names}
    if same:
        cur_c, prev_c, lost = cur, prev, 0
    else:
        cur_c = cur[cur.index.isin(unchanged)]
        prev_c = prev[prev.index.isin(unchanged)]
        lost = cur.sum() - cur_c.sum() + prev.sum() - prev_c.sum()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        top_l = tr.top_places(cur_c.astype(float), prev_c.astype(float), n=TOP_N, confidence=CONFIDENCE)
    if len(top_l):
        top_l.insert(1, "name", top_l["place"].map(names))
    return {"months_latest": a, "months_previous": b, "top_lsoas": top_l,
            "top_streets": _top_streets(recs, same, unchanged, names),
            "concentration": _concentration(cur, prev, v_cur, v_prev, c11, c21),
            "vintage_note": wording.vintage_note(same, v_cur, v_prev, len(unchanged), lost),
            "same_vintage": same, "vintages": (v_cur, v_prev)}
