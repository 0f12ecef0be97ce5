"""Statistics for local (non-police) indicators.

Thin functions that apply the package's statistics to the tidy frame of
:mod:`csp_analysis.local_indicators`:

* :func:`indicator_change` and :func:`monthly_year_on_year` - change in a count
  between two periods, with the exact conditional confidence interval of
  :func:`csp_analysis.rates.compare_periods`;
* :func:`indicator_proportions` - a proportion per period with a Wilson interval
  (:func:`csp_analysis.rates.proportion_ci`) and, for monthly data, a p-chart
  (:func:`csp_analysis.trends.control_chart`);
* :func:`compare_with_comparators` - each group's share against each comparator's
  (statistical neighbours, national average) with an exact binomial test;
* :func:`before_after` - before and after a process change, with the caveat that
  a handful of points cannot separate the change from a trend.

* :func:`two_proportions` - two shares compared (Wilson intervals, Newcombe
  interval for the difference, Fisher's exact test), used by :func:`before_after`
  and by the report's change in share.

Each returns a tidy DataFrame with a plain-English ``sentence`` column. Counts of
children from 1 to ``small_number_threshold - 1`` (and proportions whose
numerator or complement is that small) are suppressed: their figures are
missing, ``suppressed`` is true and the sentence says so; in a change between two
periods only the small count is blanked, with the change statistics. This is
primary suppression only: the report adds secondary suppression through
:func:`csp_analysis.local_indicators.suppress_small_counts`. Where several
changes or comparisons are tested at once, ``p_value_holm`` is Holm-adjusted
over them and the sentences' verdicts rest on it.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
from scipy import stats

from . import formatting as _formatting
from .contract import standardise as _standardise

from .local_indicators import (
    PERIOD_TYPES,
    guess_period_type,
    period_bounds,
    period_label,
    select_indicator,
    suppressed_change_sentence,
    suppression_mask,
)

_WORDS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
          "fifteen sixteen seventeen eighteen nineteen twenty").split()


def _words(n: int) -> str:
    return _WORDS[n] if 0 <= n < len(_WORDS) else f"{n:,}"


def _fmt(x: float) -> str:
    from .rates import format_count

    return format_count(x)


def _pct(x: float, dp: int = 1) -> str:
    return _formatting.format_percent(x, dp)


def _p(p: float) -> str:
    from .rates import format_p_value

    return format_p_value(p)


def _conf(confidence: float) -> str:
    return _formatting.confidence_label(confidence)


def _group_part(group) -> str:
    return f" ({group})" if isinstance(group, str) and group else ""


def _suppressed_sentence(label: str, group, threshold: int) -> str:
    return (f"{label}{_group_part(group)}: suppressed, because a count of children is below "
            f"{threshold}; publishing it could identify a child.")


def _period_label(row) -> str:
    return period_label(row["period"], row["period_type"])


def _proportion_inputs(rows: pd.DataFrame) -> pd.DataFrame:
    """Numerator ``x``, denominator ``n`` and ``implied`` (x derived from a rounded percentage)."""
    out = rows.copy()
    n = out["denominator"]
    is_pct = out["unit"] == "percent"
    x = out["value"].where(~is_pct, (out["value"] / 100 * n).round())
    out["x"] = x.where(n.notna())
    out["n"] = n
    out["implied"] = is_pct & n.notna()
    return out


def _require_units(rows: pd.DataFrame, indicator: str, allowed: tuple[str, ...], what: str) -> str:
    units = rows["unit"].unique()
    if len(units) != 1 or units[0] not in allowed:
        raise ValueError(
            f"{what} needs an indicator with unit {' or '.join(allowed)}; {indicator!r} has unit "
            f"{', '.join(map(str, units))}"
        )
    return units[0]


def _rows_for_period(rows: pd.DataFrame, indicator: str, period: str) -> pd.DataFrame:
    sel = rows[rows["period"] == period]
    if sel.empty:
        have = ", ".join(dict.fromkeys(rows["period"]))
        raise KeyError(f"indicator {indicator!r} has no figure for period {period!r}; it has: {have}")
    return sel


# --------------------------------------------------------------------------- change in counts


#: The former private name of :func:`csp_analysis.local_indicators.suppressed_change_sentence`
#: (moved there, beside the suppression rules), kept for existing importers.
_suppressed_change_sentence = suppressed_change_sentence


_VERDICT_RE = re.compile(r"; (unlikely to be chance|could be chance) \((p [^)]*)\)\.$")


def _holm(out: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Add ``p_value_holm`` (Holm over the tested rows) and word each verdict on it.

    The rows of ``out`` are one set of tests (the groups of one breakdown, or the
    months of a year); with more than one test, a change is called unlikely to be
    chance only when its Holm-adjusted p-value is below ``1 - confidence`` and its
    interval excludes no change, and the sentence says so.
    """
    from statsmodels.stats.multitest import multipletests

    out = out.copy()
    out["p_value_holm"] = np.nan
    valid = out["p_value"].notna()
    k = int(valid.sum())
    if not k:
        return out
    out.loc[valid, "p_value_holm"] = multipletests(out.loc[valid, "p_value"].to_numpy(dtype=float),
                                                   method="holm")[1]
    if k == 1:
        return out
    alpha = 1 - confidence
    for i in out.index[valid]:
        r = out.loc[i]
        excludes = (r["lower"] > 1) or (r["upper"] < 1)
        verdict = "unlikely to be chance" if (r["p_value_holm"] < alpha and excludes) else "could be chance"
        tail = (f"; {verdict} after Holm adjustment for {k} comparisons ({_p(r['p_value'])}; adjusted "
                f"{_p(r['p_value_holm'])}).")
        s = r["sentence"]
        out.at[i, "sentence"] = _VERDICT_RE.sub(tail, s) if _VERDICT_RE.search(s) else s
    return out


def _change_table(cur: pd.DataFrame, prev: pd.DataFrame, confidence: float, threshold: int) -> pd.DataFrame:
    """Pair current and previous rows by group and apply compare_periods.

    Each count is suppressed on its own (``previous_suppressed``,
    ``current_suppressed``); the change statistics of a row are withheld
    (``suppressed``) when either count is, since they would reveal it.
    """
    from .rates import compare_periods

    key = "_g"
    c = cur.assign(**{key: cur["group"].fillna("")})
    p = prev.assign(**{key: prev["group"].fillna("")})
    cols = ["partnership", "indicator", "indicator_label", "group", "period", "period_type", "value",
            "counts_children", key]
    m = c[cols].merge(p[cols], on=[key], how="outer", suffixes=("_cur", "_prev"), sort=False)
    for col in ("partnership", "indicator", "indicator_label", "group", "counts_children"):
        m[col] = m[f"{col}_cur"].where(m[f"{col}_cur"].notna(), m[f"{col}_prev"])
    both = m["value_cur"].notna() & m["value_prev"].notna()
    res = pd.DataFrame(index=m.index, columns=["ratio", "lower", "upper", "percent_change", "percent_lower",
                                               "percent_upper", "p_value"], dtype="float64")
    res["rates_sentence"] = None
    if both.any():
        r = compare_periods(m.loc[both, "value_cur"].to_numpy(), m.loc[both, "value_prev"].to_numpy(),
                            confidence=confidence)
        r.index = m.index[both]
        for col in res.columns:
            res.loc[both, col] = r[col] if col != "rates_sentence" else r["sentence"]
    m = pd.concat([m, res], axis=1)
    cc = m["counts_children"].fillna(False).astype(bool).to_numpy()
    m["previous_suppressed"] = suppression_mask(m["value_prev"].to_numpy(), counts_children=cc,
                                                threshold=threshold).to_numpy()
    m["current_suppressed"] = suppression_mask(m["value_cur"].to_numpy(), counts_children=cc,
                                               threshold=threshold).to_numpy()
    m["suppressed"] = m["previous_suppressed"] | m["current_suppressed"]
    m["sentence"] = [_change_sentence(r, threshold) for _, r in m.iterrows()]
    return _change_output(m)


def _change_sentence(r, threshold: int) -> str:
    """The sentence of one row of a change table (suppressed, one-sided, or the rates' sentence)."""
    label = r["indicator_label"]
    grp = _group_part(r["group"])
    pc = r["period_cur"] if pd.notna(r["period_cur"]) else None
    pp = r["period_prev"] if pd.notna(r["period_prev"]) else None
    lab_c = period_label(pc, r["period_type_cur"]) if pc else None
    lab_p = period_label(pp, r["period_type_prev"]) if pp else None
    shown_c = pc is not None and not r["current_suppressed"]
    shown_p = pp is not None and not r["previous_suppressed"]
    if r["suppressed"]:
        if shown_c or shown_p:
            return suppressed_change_sentence(
                label, r["group"], r["value_cur"] if shown_c else r["value_prev"], lab_c if shown_c else lab_p,
                lab_p if shown_c else lab_c, threshold)
        return _suppressed_sentence(label, r["group"], threshold)
    if not pc or not pp:
        have, lack = (lab_c, "the previous period") if pc else (lab_p, "the current period")
        val = r["value_cur"] if pc else r["value_prev"]
        return (f"{label}{grp}: {_fmt(val)} in {have}; no figure is published for {lack}, "
                "so no change can be computed.")
    rs = r["rates_sentence"]
    return f"{label}{grp}, {lab_p} to {lab_c}: {rs[:1].lower()}{rs[1:]}"


def _change_output(m: pd.DataFrame) -> pd.DataFrame:
    """The change table's public columns from the merged frame, the hidden figures blanked."""
    out = pd.DataFrame({
        "partnership": m["partnership"],
        "indicator": m["indicator"],
        "indicator_label": m["indicator_label"],
        "group": m["group"].astype(object).where(m["group"].notna(), None),
        "previous_period": m["period_prev"],
        "current_period": m["period_cur"],
        "previous": m["value_prev"],
        "current": m["value_cur"],
        "difference": m["value_cur"] - m["value_prev"],
        "percent_change": m["percent_change"],
        "percent_lower": m["percent_lower"],
        "percent_upper": m["percent_upper"],
        "ratio": m["ratio"],
        "lower": m["lower"],
        "upper": m["upper"],
        "p_value": m["p_value"],
        "suppressed": m["suppressed"].astype(bool),
        "previous_suppressed": m["previous_suppressed"].astype(bool),
        "current_suppressed": m["current_suppressed"].astype(bool),
        "sentence": m["sentence"],
    })
    out.loc[out["previous_suppressed"], "previous"] = np.nan
    out.loc[out["current_suppressed"], "current"] = np.nan
    out.loc[out["suppressed"], CHANGE_STATISTICS] = np.nan
    return out.reset_index(drop=True)


#: The columns of a change table computed from both counts (withheld when either count is suppressed).
CHANGE_STATISTICS = ["difference", "percent_change", "percent_lower", "percent_upper", "ratio", "lower", "upper",
                     "p_value"]


def indicator_change(
    df: pd.DataFrame,
    indicator: str,
    current_period: str,
    previous_period: str,
    *,
    partnership: str | None = None,
    confidence: float = 0.95,
    small_number_threshold: int = 5,
) -> pd.DataFrame:
    """Change in a count between two periods, with a confidence interval.

    Parameters
    ----------
    df : pandas.DataFrame
        Local indicators (from :func:`~csp_analysis.local_indicators.read_local_indicators`
        or the store).
    indicator : str
        An indicator with unit ``count``.
    current_period, previous_period : str
        Periods as written in the data (e.g. ``"2022/23"`` and ``"2021/22"``);
        both of the same period type.
    partnership : str, optional
        Needed when ``df`` holds the indicator for several partnerships.
    confidence : float
        Confidence level of the interval (default 0.95).
    small_number_threshold : int
        Counts of children from 1 to this minus one are suppressed (default 5;
        ``0`` switches suppression off).

    Returns
    -------
    pandas.DataFrame
        One row per group (one row if the indicator has no groups):
        ``partnership``, ``indicator``, ``indicator_label``, ``group``,
        ``previous_period``, ``current_period``, ``previous``, ``current``,
        ``difference``, ``percent_change``, ``percent_lower``, ``percent_upper``,
        ``ratio``, ``lower``, ``upper``, ``p_value``, ``suppressed``,
        ``previous_suppressed``, ``current_suppressed``, ``sentence``,
        ``p_value_holm``. A group published for one period only gets a row
        saying so.

        Each count is suppressed on its own (``previous_suppressed``,
        ``current_suppressed``: a count of children from 1 to
        ``small_number_threshold - 1``); the other count is still shown, but
        the change statistics (``difference`` to ``p_value``) are withheld and
        ``suppressed`` is true, since they would reveal the hidden count.
        ``p_value_holm`` is Holm-adjusted over the groups tested (the whole
        breakdown); with more than one test the sentence's verdict ("unlikely
        to be chance" or "could be chance") rests on it.

    Notes
    -----
    Uses :func:`csp_analysis.rates.compare_periods`: the exact conditional
    (binomial) comparison of two Poisson counts with equal exposure. The counts
    are treated as independent Poisson counts. Snapshot counts of a caseload
    (children in need at a date) are neither: many of the same children appear in
    both, and the change reflects policy and recording as well as chance. For them
    the interval says whether a change exceeds Poisson noise; it is not a full
    account of the uncertainty.
    """
    rows = select_indicator(df, indicator, partnership)
    _require_units(rows, indicator, ("count",), "indicator_change")
    cur = _rows_for_period(rows, indicator, current_period)
    prev = _rows_for_period(rows, indicator, previous_period)
    if cur["period_type"].iloc[0] != prev["period_type"].iloc[0]:
        raise ValueError(
            f"cannot compare a {cur['period_type'].iloc[0].replace('_', ' ')} ({current_period}) with a "
            f"{prev['period_type'].iloc[0].replace('_', ' ')} ({previous_period}); use periods of one type"
        )
    out = _holm(_change_table(cur, prev, confidence, small_number_threshold), confidence)
    return _standardise(out, value="ratio", confidence=confidence,
                        method="rate ratio of the two counts (compare_periods: exact conditional test); Holm across the rows")


def monthly_year_on_year(
    df: pd.DataFrame,
    indicator: str,
    current_year: str,
    previous_year: str,
    *,
    partnership: str | None = None,
    confidence: float = 0.95,
    small_number_threshold: int = 5,
) -> pd.DataFrame:
    """Each month of one year against the same month of another (e.g. children in need).

    Parameters
    ----------
    df : pandas.DataFrame
        Local indicators.
    indicator : str
        A monthly indicator with unit ``count``.
    current_year, previous_year : str
        Financial years (``"2022/23"``) or calendar years (``"2022"``).
    partnership : str, optional
        Needed when ``df`` holds the indicator for several partnerships.
    confidence : float
        Confidence level (default 0.95).
    small_number_threshold : int
        Suppression threshold for counts of children (default 5).

    Returns
    -------
    pandas.DataFrame
        As :func:`indicator_change`, one row per month (and group) published in
        either year, in calendar order of the current year, plus ``month``
        (e.g. ``"June"``). A month published in one year only gets a row
        saying so. ``p_value_holm`` is Holm-adjusted over all the months (and
        groups) tested, and the sentences' verdicts rest on it.

    Notes
    -----
    Monthly counts of a caseload (children in need at a date) count many of the
    same children every month, so they must not be added up across months and
    compared as one total: that would treat 10 snapshots of largely the same
    children as 10 times the information. Compare like months instead, as here,
    or compare the published averages descriptively.
    """
    rows = select_indicator(df, indicator, partnership)
    _require_units(rows, indicator, ("count",), "monthly_year_on_year")
    monthly = rows[rows["period_type"] == "month"]
    if monthly.empty:
        raise ValueError(f"indicator {indicator!r} has no monthly figures")

    cur = _months_in_year(monthly, indicator, current_year)
    prev = _months_in_year(monthly, indicator, previous_year)
    parts = []
    for pos in sorted(set(cur["_pos"]) | set(prev["_pos"])):
        c, p = cur[cur["_pos"] == pos], prev[prev["_pos"] == pos]
        name = (c if not c.empty else p)["_month"].iloc[0]
        if c.empty or p.empty:
            part = _one_year_only(c, p, name, current_year if c.empty else previous_year, small_number_threshold)
        else:
            part = _change_table(c, p, confidence, small_number_threshold)
        part.insert(4, "month", name)
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    return _standardise(_holm(out, confidence), value="ratio", confidence=confidence,
                        method="rate ratio of the two counts (compare_periods: exact conditional test); Holm across the rows")


def _months_in_year(monthly: pd.DataFrame, indicator: str, year: str) -> pd.DataFrame:
    """The monthly rows in a financial or calendar year, with the month's position in it and its name."""
    ptype = guess_period_type(year)
    if ptype not in ("financial_year", "year"):
        raise ValueError(f"{year!r} is not a financial year (2022/23) or calendar year (2022)")
    start, end = period_bounds(year, ptype)
    sel = monthly[(monthly["period_start"] >= pd.Timestamp(start)) & (monthly["period_start"] <= pd.Timestamp(end))]
    if sel.empty:
        raise KeyError(f"indicator {indicator!r} has no monthly figures in {year}")
    offset = sel["period_start"].dt.month.sub(start.month) % 12
    return sel.assign(_pos=offset.to_numpy(), _month=sel["period_start"].dt.strftime("%B").to_numpy())


def _one_year_only(c: pd.DataFrame, p: pd.DataFrame, name: str, lacking: str, threshold: int) -> pd.DataFrame:
    """Rows of a month published in one of the two years only (``c`` or ``p`` is empty): no change."""
    present = c if not c.empty else p
    recs = []
    small = suppression_mask(present["value"].to_numpy(), counts_children=present["counts_children"].to_numpy(),
                             threshold=threshold).to_numpy()
    for (_, r), hide in zip(present.iterrows(), small):
        value = np.nan if hide else r["value"]
        recs.append({
            "partnership": r["partnership"], "indicator": r["indicator"],
            "indicator_label": r["indicator_label"], "group": r["group"],
            "previous_period": None if p.empty else r["period"],
            "current_period": None if c.empty else r["period"],
            "previous": np.nan if p.empty else value, "current": np.nan if c.empty else value,
            "suppressed": bool(hide), "previous_suppressed": bool(hide) and not p.empty,
            "current_suppressed": bool(hide) and not c.empty,
            "sentence": (f"{r['indicator_label']}{_group_part(r['group'])}: {name} is published for "
                         f"{_period_label(r)} but not in {lacking}, so no change can be computed."),
        })
    return pd.DataFrame(recs)


# --------------------------------------------------------------------------- proportions


def indicator_proportions(
    df: pd.DataFrame,
    indicator: str,
    *,
    partnership: str | None = None,
    confidence: float = 0.95,
    p_chart: bool = True,
    improvement: str | None = None,
    small_number_threshold: int = 5,
) -> pd.DataFrame:
    """Proportion per period (and group) with a Wilson interval, and a p-chart for months.

    Parameters
    ----------
    df : pandas.DataFrame
        Local indicators.
    indicator : str
        An indicator with unit ``count`` or ``percent``; rows need a
        ``denominator`` for a proportion (rows without one are reported as such).
    partnership : str, optional
        Needed when ``df`` holds the indicator for several partnerships.
    confidence : float
        Confidence level (default 0.95).
    p_chart : bool
        For monthly rows, add p-chart columns from
        :func:`csp_analysis.trends.control_chart` (default True).
    improvement : {"increase", "decrease", None}
        Which direction is better, passed to the p-chart to label special causes
        as improvement or concern (e.g. ``"increase"`` for interviews within 72 hours).
    small_number_threshold : int
        Suppression threshold for counts of children (default 5).

    Returns
    -------
    pandas.DataFrame
        One row per local row: ``partnership``, ``indicator``, ``indicator_label``,
        ``group``, ``period``, ``period_type``, ``numerator``, ``denominator``,
        ``implied_numerator`` (the numerator was derived from a published, rounded
        percentage), ``percent``, ``lower``, ``upper``, ``suppressed``, ``sentence``;
        for monthly data also ``in_chart`` and the p-chart's columns prefixed
        ``chart_`` (``chart_value``, ``chart_centre``, ``chart_lower``,
        ``chart_upper`` in per cent, ``chart_special_cause``, ``chart_variation``
        and so on; missing for months left out of the chart), and
        ``attrs["p_chart_sentences"]``, the chart's plain-English sentence per group.

    Notes
    -----
    Wilson score interval via :func:`csp_analysis.rates.proportion_ci`. Where a
    percentage and its denominator are published, the numerator is rounded from
    them; the interval is then approximate to the rounding of the percentage.
    Months without a denominator, or suppressed, are left out of the p-chart.
    """
    rows = select_indicator(df, indicator, partnership)
    _require_units(rows, indicator, ("count", "percent"), "indicator_proportions")
    rows = _proportion_inputs(rows)
    out = _proportion_table(rows, confidence, small_number_threshold)
    has_n = rows["n"].notna()
    conf = _conf(confidence)
    out["sentence"] = [_proportion_sentence(r, out.loc[i], bool(has_n[i]), conf, small_number_threshold)
                       for i, r in rows.iterrows()]
    out.loc[out["suppressed"], ["numerator", "percent", "lower", "upper"]] = np.nan

    if p_chart and (rows["period_type"] == "month").any():
        out = _add_p_chart(out, rows, improvement)
    return _standardise(out.reset_index(drop=True), value="percent", confidence=confidence,
                        method="Wilson score interval (percent)", count="numerator")


def _proportion_table(rows: pd.DataFrame, confidence: float, threshold: int) -> pd.DataFrame:
    """Numerator, denominator, Wilson share and suppression flag per row of :func:`_proportion_inputs`."""
    from .rates import proportion_ci

    has_n = rows["n"].notna()
    res = pd.DataFrame(index=rows.index, columns=["percent", "lower", "upper"], dtype="float64")
    if has_n.any():
        ci = proportion_ci(rows.loc[has_n, "x"].to_numpy(), rows.loc[has_n, "n"].to_numpy(),
                           confidence=confidence, multiplier=100)
        ci.index = rows.index[has_n]
        res.loc[has_n, "percent"] = ci["value"]
        res.loc[has_n, "lower"] = ci["lower"]
        res.loc[has_n, "upper"] = ci["upper"]
    is_pct = rows["unit"] == "percent"
    res.loc[is_pct & ~has_n, "percent"] = rows.loc[is_pct & ~has_n, "value"]
    sup = suppression_mask(rows["x"].where(has_n, rows["value"].where(~is_pct)).to_numpy(),
                           rows["n"].to_numpy(), rows["counts_children"].to_numpy(),
                           threshold=threshold).to_numpy()
    return pd.DataFrame({
        "partnership": rows["partnership"],
        "indicator": rows["indicator"],
        "indicator_label": rows["indicator_label"],
        "group": rows["group"],
        "period": rows["period"],
        "period_type": rows["period_type"],
        "numerator": rows["x"].where(has_n, rows["value"].where(~is_pct)),
        "denominator": rows["n"],
        "implied_numerator": rows["implied"].astype(bool),
        "percent": res["percent"],
        "lower": res["lower"],
        "upper": res["upper"],
        "suppressed": sup,
    })


def _proportion_sentence(r, o, has_n: bool, conf: str, threshold: int) -> str:
    """The sentence of one share: ``r`` its input row, ``o`` its computed row."""
    where = f"{r['indicator_label']}{_group_part(r['group'])}, {_period_label(r)}"
    if o["suppressed"]:
        return _suppressed_sentence(where, None, threshold)
    if not has_n:
        shown = _pct(r["value"]) if r["unit"] == "percent" else _fmt(r["value"])
        return (f"{where}: {shown}; no denominator is recorded, so no confidence interval "
                "can be given (see the source note).")
    if r["implied"]:
        return (f"{where}: {_pct(r['value'])} of {_fmt(r['n'])} ({conf} confidence interval "
                f"{_pct(o['lower'])} to {_pct(o['upper'])}, from the published percentage).")
    return (f"{where}: {_fmt(r['x'])} of {_fmt(r['n'])}, {_pct(o['percent'])} ({conf} "
            f"confidence interval {_pct(o['lower'])} to {_pct(o['upper'])}).")


def _add_p_chart(out: pd.DataFrame, rows: pd.DataFrame, improvement: str | None) -> pd.DataFrame:
    from .trends import control_chart

    usable = (rows["period_type"] == "month") & out["denominator"].notna() & ~out["suppressed"]
    chart_parts, sentences = [], []
    for _, idx in rows[usable].groupby(rows["group"].fillna(""), sort=False).groups.items():
        idx = rows.loc[idx].sort_values("period_start").index
        if len(idx) < 2:
            continue
        values = pd.Series(out.loc[idx, "numerator"].to_numpy(dtype=float),
                           index=[_period_label(r) for _, r in rows.loc[idx].iterrows()])
        chart = control_chart(values, kind="p",
                              denominators=out.loc[idx, "denominator"].to_numpy(dtype=float),
                              improvement=improvement, multiplier=100)
        sentences.append(chart.attrs.get("sentence"))
        chart = pd.DataFrame(chart).reset_index(drop=True)
        if len(chart) != len(idx):
            raise ValueError(f"control_chart returned {len(chart)} rows for {len(idx)} months")
        chart.columns = [f"chart_{c}" for c in chart.columns]
        chart.index = idx
        chart_parts.append(chart)
    if chart_parts:
        out = out.join(pd.concat(chart_parts))
        out["in_chart"] = out.index.isin(pd.concat(chart_parts).index)
        out.attrs["p_chart_sentences"] = [s for s in sentences if s]
    return out


# --------------------------------------------------------------------------- comparators


def compare_with_comparators(
    df: pd.DataFrame,
    indicator: str,
    period: str,
    *,
    partnership: str | None = None,
    comparator_period: str | None = None,
    confidence: float = 0.95,
    small_number_threshold: int = 5,
) -> pd.DataFrame:
    """Each group's local share against each comparator's share, with an exact test.

    Parameters
    ----------
    df : pandas.DataFrame
        Local indicators.
    indicator : str
        An indicator whose local rows are counts with a denominator (e.g.
        referrals by source, of all referrals) or percentages with a denominator,
        and whose comparator rows give the comparators' shares (unit
        ``percent``, or ``count`` with a denominator).
    period : str
        The local period, e.g. ``"2022/23"``.
    partnership : str, optional
        Needed when ``df`` holds the indicator for several partnerships.
    comparator_period : str, optional
        The comparators' period. By default each comparator's figure for
        ``period`` is used, or failing that its latest figure from an earlier
        period (the sentence then says the comparator is for an earlier year).
    confidence : float
        Confidence level of the Wilson interval (default 0.95); the tests use
        ``1 - confidence`` as the significance level.
    small_number_threshold : int
        Suppression threshold for counts of children (default 5).

    Returns
    -------
    pandas.DataFrame
        One row per group and comparator: ``partnership``, ``indicator``,
        ``indicator_label``, ``group``, ``period``, ``comparator``,
        ``comparator_period``, ``numerator``, ``denominator``,
        ``local_percent``, ``lower``, ``upper``, ``comparator_percent``,
        ``difference_points`` (local minus comparator, percentage points),
        ``expected`` (the count the comparator's share would give),
        ``p_value`` (two-sided exact binomial test), ``p_value_holm`` (Holm
        adjustment over all the rows), ``suppressed``, ``sentence``.

    Notes
    -----
    The test is a one-sample exact binomial test
    (:func:`scipy.stats.binomtest`, two-sided, "minimum likelihood" method as in
    R's ``binom.test``) of the local count against the comparator's proportion,
    which is treated as known: comparators are averages over many areas, so their
    own sampling error is small, but they may be for an earlier year and may be
    defined slightly differently. Several groups and comparators are tested at
    once, so the verdict in the sentence uses the Holm-adjusted p-value.
    """
    local = select_indicator(df, indicator, partnership)
    comps = select_indicator(df, indicator, partnership, comparators=True)
    if comps.empty:
        raise KeyError(f"indicator {indicator!r} has no comparator rows")
    local = _proportion_inputs(_rows_for_period(local, indicator, period))
    if local["n"].isna().all():
        raise ValueError(f"indicator {indicator!r} has no denominator in {period}: a share needs one")
    comps = _chosen_comparators(comps, indicator, period, comparator_period, local["period_end"].max())
    out = _comparator_statistics(_comparator_tests(local, comps, indicator, period), confidence,
                                 small_number_threshold)
    k = int(out["p_value"].notna().sum())
    out["sentence"] = [_comparator_sentence(r, period, k, confidence, small_number_threshold)
                       for _, r in out.iterrows()]
    num = ["numerator", "local_percent", "lower", "upper", "difference_points", "expected", "p_value", "p_value_holm"]
    out.loc[out["suppressed"], num] = np.nan
    cols = ["partnership", "indicator", "indicator_label", "group", "period", "comparator", "comparator_period",
            "numerator", "denominator", "implied", "local_percent", "lower", "upper", "comparator_percent",
            "difference_points", "expected", "p_value", "p_value_holm", "suppressed", "sentence"]
    out = out.rename(columns={"implied": "implied_numerator"})[
        [c if c != "implied" else "implied_numerator" for c in cols]]
    return _standardise(out, value="local_percent", confidence=confidence, count="numerator",
                        method="Wilson score interval (percent); exact binomial test against the comparator "
                               "figure; Holm across the groups")


def _chosen_comparators(comps: pd.DataFrame, indicator: str, period: str, comparator_period: str | None,
                        local_end) -> pd.DataFrame:
    """Each comparator's rows for ``comparator_period``, else ``period``, else its latest earlier period."""
    chosen = []
    for name, c in comps.groupby("comparator", sort=False):
        if comparator_period is not None:
            c = c[c["period"] == comparator_period]
        elif (c["period"] == period).any():
            c = c[c["period"] == period]
        else:
            earlier = c[c["period_end"] <= local_end]
            if earlier.empty:
                continue
            c = earlier[earlier["period_end"] == earlier["period_end"].max()]
        chosen.append(c)
    if not chosen or all(c.empty for c in chosen):
        raise KeyError(f"indicator {indicator!r} has no comparator figure for {comparator_period or period} "
                       "or earlier")
    return pd.concat(chosen)


def _comparator_share(r, indicator: str) -> float:
    """A comparator row's share (0-1): a percentage, or a count over its denominator."""
    if r["unit"] == "percent":
        return r["comparator_value"] / 100
    if r["unit"] == "count" and pd.notna(r["denominator"]):
        return r["comparator_value"] / r["denominator"]
    raise ValueError(f"comparator {r['comparator']!r} of {indicator!r} is not a share "
                     f"(unit {r['unit']}, {'no ' if pd.isna(r['denominator']) else ''}denominator)")


def _comparator_tests(local: pd.DataFrame, comps: pd.DataFrame, indicator: str, period: str) -> pd.DataFrame:
    """One row per local group and comparator, with the exact binomial test of the count against the share."""
    recs = []
    for _, lr in local.iterrows():
        g = lr["group"] if isinstance(lr["group"], str) else ""
        for _, cr in comps[comps["group"].fillna("") == g].iterrows():
            p0 = _comparator_share(cr, indicator)
            x, n = lr["x"], lr["n"]
            ok = pd.notna(n)
            p = stats.binomtest(int(x), int(n), p0).pvalue if ok else np.nan
            recs.append({
                "partnership": lr["partnership"], "indicator": indicator, "indicator_label": lr["indicator_label"],
                "group": lr["group"], "period": period, "comparator": cr["comparator"],
                "comparator_period": cr["period"], "comparator_period_type": cr["period_type"],
                "numerator": x if ok else lr["value"] if lr["unit"] == "count" else np.nan,
                "denominator": n, "implied": bool(lr["implied"]),
                "published_percent": lr["value"] if lr["unit"] == "percent" else np.nan,
                "comparator_percent": 100 * p0, "expected": n * p0 if ok else np.nan, "p_value": p,
                "counts_children": bool(lr["counts_children"]),
            })
    if not recs:
        raise KeyError(f"no group of {indicator!r} in {period} has a comparator figure")
    return pd.DataFrame(recs)


def _comparator_statistics(out: pd.DataFrame, confidence: float, threshold: int) -> pd.DataFrame:
    """Wilson share of each local count, its difference from the comparator, Holm over the tests, suppression."""
    from statsmodels.stats.multitest import multipletests

    from .rates import proportion_ci

    ci = proportion_ci(out["numerator"].to_numpy(dtype=float), out["denominator"].to_numpy(dtype=float),
                       confidence=confidence, multiplier=100)
    out["local_percent"] = ci["value"].to_numpy()
    out["lower"] = ci["lower"].to_numpy()
    out["upper"] = ci["upper"].to_numpy()
    out["difference_points"] = out["local_percent"] - out["comparator_percent"]
    valid = out["p_value"].notna()
    out["p_value_holm"] = np.nan
    if valid.any():
        out.loc[valid, "p_value_holm"] = multipletests(out.loc[valid, "p_value"], method="holm")[1]
    out["suppressed"] = suppression_mask(out["numerator"].to_numpy(), out["denominator"].to_numpy(),
                                         out["counts_children"].to_numpy(), threshold=threshold).to_numpy()
    return out


def _comparator_sentence(r, period: str, k: int, confidence: float, threshold: int) -> str:
    """The sentence of one comparison; ``k`` tests were made (Holm over them when more than one)."""
    alpha = 1 - confidence
    where = f"{r['indicator_label']}{_group_part(r['group'])}, {period}"
    if r["suppressed"]:
        return _suppressed_sentence(where, None, threshold)
    comp_when = period_label(r["comparator_period"], r["comparator_period_type"])
    if pd.isna(r["denominator"]):
        shown = _pct(r["published_percent"]) if pd.notna(r["published_percent"]) else _fmt(r["numerator"])
        return (f"{where}: {shown}, against {_pct(r['comparator_percent'])} for {r['comparator']} "
                f"in {comp_when}; no denominator is recorded, so no share, interval or test can "
                "be given (see the source note).")
    ci_txt = f"{_conf(confidence)} confidence interval {_pct(r['lower'])} to {_pct(r['upper'])}"
    if r["implied"]:
        local_txt = f"{_pct(r['published_percent'])} of {_fmt(r['denominator'])} ({ci_txt})"
        diff = r["published_percent"] - r["comparator_percent"]
    else:
        local_txt = f"{_fmt(r['numerator'])} of {_fmt(r['denominator'])}, {_pct(r['local_percent'])} ({ci_txt})"
        diff = r["difference_points"]
    direction = "higher" if diff > 0 else "lower" if diff < 0 else "the same"
    size = f"{abs(diff):.1f} percentage points {direction}" if direction != "the same" else "the same"
    holm = (f"; {_p(r['p_value_holm'])} after Holm adjustment for {k} comparisons" if k > 1 else "")
    verdict = "is unlikely to be chance alone" if r["p_value_holm"] < alpha else "could be chance"
    when = (f" The comparator is for {comp_when}, an earlier period than {period}."
            if r["comparator_period"] != period else "")
    return (
        f"{where}: {local_txt}, against {_pct(r['comparator_percent'])} for {r['comparator']} "
        f"in {comp_when}: {size}. Exact binomial test {_p(r['p_value'])}{holm}: the difference "
        f"{verdict}.{when}"
    )


# --------------------------------------------------------------------------- two proportions


def two_proportions(x1, n1, x0, n0, confidence: float = 0.95) -> dict:
    """Compare two proportions: Wilson intervals, Newcombe's interval for the difference, Fisher's test.

    Parameters
    ----------
    x1, n1 : float
        Count and total of the later (or "after") group.
    x0, n0 : float
        Count and total of the earlier (or "before") group.
    confidence : float
        Confidence level of the intervals (default 0.95).

    Returns
    -------
    dict
        ``percent0``, ``lower0``, ``upper0`` and ``percent1``, ``lower1``,
        ``upper1`` (per cent, Wilson score intervals from
        :func:`csp_analysis.rates.proportion_ci`); ``difference`` (``percent1``
        minus ``percent0``, percentage points) with ``lower`` and ``upper``
        (Newcombe's hybrid score interval, method 10, from
        :func:`statsmodels.stats.proportion.confint_proportions_2indep`); and
        ``p_value`` (two-sided Fisher's exact test, :func:`scipy.stats.fisher_exact`).

    Examples
    --------
    >>> r = two_proportions(134, 192, 302, 425)
    >>> round(r["difference"], 1), round(r["p_value"], 2)
    (-1.3, 0.77)
    """
    from statsmodels.stats.proportion import confint_proportions_2indep

    from .rates import proportion_ci

    x1, n1, x0, n0 = (int(round(float(v))) for v in (x1, n1, x0, n0))
    ci = proportion_ci([x0, x1], [n0, n1], confidence=confidence, multiplier=100)
    lo, hi = confint_proportions_2indep(x1, n1, x0, n0, method="newcomb", compare="diff", alpha=1 - confidence)
    p = stats.fisher_exact([[x1, n1 - x1], [x0, n0 - x0]]).pvalue
    return {
        "percent0": float(ci["value"].iloc[0]), "lower0": float(ci["lower"].iloc[0]),
        "upper0": float(ci["upper"].iloc[0]), "percent1": float(ci["value"].iloc[1]),
        "lower1": float(ci["lower"].iloc[1]), "upper1": float(ci["upper"].iloc[1]),
        "difference": float(ci["value"].iloc[1] - ci["value"].iloc[0]), "lower": 100 * float(lo),
        "upper": 100 * float(hi), "p_value": float(p),
    }


# --------------------------------------------------------------------------- before / after


def before_after(
    df: pd.DataFrame,
    indicator: str,
    change_period: str,
    *,
    partnership: str | None = None,
    group: str | None = None,
    min_points: int = 8,
    confidence: float = 0.95,
    small_number_threshold: int = 5,
) -> pd.DataFrame:
    """Compare an indicator before and after a process change, with honest caveats.

    Parameters
    ----------
    df : pandas.DataFrame
        Local indicators.
    indicator : str
        The indicator (one group, or name it with ``group``).
    change_period : str
        The first period under the new process, e.g. ``"2023-01"``; periods
        starting before it are "before".
    partnership : str, optional
        Needed when ``df`` holds the indicator for several partnerships.
    group : str, optional
        The group to use when the indicator has several.
    min_points : int
        Fewer points than this on either side earn the caveat that the data
        cannot separate the change from an underlying trend (default 8).
    confidence : float
        Confidence level (default 0.95).
    small_number_threshold : int
        Suppression threshold for counts of children (default 5).

    Returns
    -------
    pandas.DataFrame
        One row: ``partnership``, ``indicator``, ``indicator_label``, ``group``,
        ``change_period``, ``before_periods``, ``after_periods``, ``n_before``,
        ``n_after``, ``measure``, ``before`` (with ``before_lower`` and
        ``before_upper`` for proportions), ``after`` (likewise), ``difference``,
        ``lower``, ``upper``, ``p_value``, ``method``, ``suppressed``,
        ``min_points`` (as given), ``sentence``, ``caveat``.

    Notes
    -----
    What can be computed depends on what is published:

    * proportions with denominators (counts with a denominator, or percentages
      with one): pooled proportion on each side with Wilson intervals
      (:func:`csp_analysis.rates.proportion_ci`), the difference in percentage
      points with Newcombe's hybrid-score interval and Fisher's exact test;
    * counts without denominators: the mean count per period on each side
      compared with :func:`csp_analysis.rates.compare_periods` (exposure = the
      number of periods);
    * anything else (e.g. percentages without denominators): the averages of
      the published figures and their difference, with no interval or test,
      because none can be computed honestly.

    Pooling each side assumes the level is flat within it. Whether the change
    *caused* the difference needs enough points on each side to model the
    trend (an interrupted time series); with fewer than ``min_points`` the
    caveat says so.
    """
    rows = _before_after_rows(df, indicator, partnership, group)
    first, before, after, dropped, proportions = _split_at_change(rows, indicator, change_period)
    rec = _before_after_record(first, indicator, change_period, before, after, min_points)
    if proportions:
        sentence = _pooled_shares(rec, first, before, after, dropped, confidence, small_number_threshold)
    elif first["unit"] == "count":
        sentence = _mean_counts(rec, first, before, after, confidence, small_number_threshold)
    else:
        sentence = _mean_figures(rec, before, after, first["unit"])
    if rec["suppressed"]:
        sentence = _suppressed_sentence(_where_of(rec), None, small_number_threshold)
        rec.update(dict.fromkeys(("before", "before_lower", "before_upper", "after", "after_lower", "after_upper",
                                  "difference", "lower", "upper", "p_value"), np.nan))
    rec["sentence"] = sentence
    rec["caveat"] = _before_after_caveat(len(before), len(after), min_points)
    return _standardise(pd.DataFrame([rec]), value="difference", confidence=confidence)


def _before_after_rows(df: pd.DataFrame, indicator: str, partnership: str | None, group: str | None) -> pd.DataFrame:
    """The indicator's rows for one group, of one period type (else a KeyError or ValueError saying why)."""
    rows = select_indicator(df, indicator, partnership)
    if group is not None:
        rows = rows[rows["group"] == group]
        if rows.empty:
            raise KeyError(f"indicator {indicator!r} has no group {group!r}")
    elif rows["group"].nunique(dropna=False) > 1:
        raise ValueError(f"indicator {indicator!r} has several groups "
                         f"({', '.join(map(str, rows['group'].unique()))}); name one with group=")
    if rows["period_type"].nunique() > 1:
        raise ValueError(f"indicator {indicator!r} mixes period types; before_after needs one")
    return rows


def _split_at_change(rows: pd.DataFrame, indicator: str, change_period: str):
    """The rows before and from the change (rows without a denominator dropped when shares are compared).

    Returns ``(first, before, after, dropped, proportions)``: the first row (label, unit, group),
    the two sides, the rows dropped, and whether pooled shares are compared.
    """
    ptype = guess_period_type(change_period)
    if ptype is None:
        raise ValueError(f"change_period {change_period!r} is not a period "
                         f"({'; '.join(h for h, _ in PERIOD_TYPES.values())})")
    change_start = pd.Timestamp(period_bounds(change_period, ptype)[0])
    rows = rows.sort_values("period_start")
    first = rows.iloc[0]
    proportions = first["unit"] in ("count", "percent") and rows["denominator"].notna().any()
    dropped = rows[rows["denominator"].isna()] if proportions else rows.iloc[0:0]
    rows = rows.drop(index=dropped.index)
    before = rows[rows["period_start"] < change_start]
    after = rows[rows["period_start"] >= change_start]
    if before.empty or after.empty:
        raise ValueError(f"before_after needs at least one period before {period_label(change_period, ptype)} "
                         f"and one from it; {indicator!r} has {len(before)} before and {len(after)} after"
                         + (" with a denominator" if proportions else ""))
    return first, before, after, dropped, proportions


def _span_of(part: pd.DataFrame) -> str:
    labs = [_period_label(r) for _, r in part.iterrows()]
    return labs[0] if len(labs) == 1 else f"{labs[0]} to {labs[-1]}"


def _where_of(rec: dict) -> str:
    return f"{rec['indicator_label']}{_group_part(rec['group'])}"


def _before_after_record(first, indicator: str, change_period: str, before: pd.DataFrame, after: pd.DataFrame,
                         min_points: int) -> dict:
    """The result row before any statistic: the periods on each side, every statistic missing."""
    return {
        "partnership": first["partnership"], "indicator": indicator, "indicator_label": first["indicator_label"],
        "group": first["group"], "change_period": change_period,
        "before_periods": ", ".join(before["period"]), "after_periods": ", ".join(after["period"]),
        "n_before": len(before), "n_after": len(after), "measure": None, "before": np.nan, "before_lower": np.nan,
        "before_upper": np.nan, "after": np.nan, "after_lower": np.nan, "after_upper": np.nan,
        "difference": np.nan, "lower": np.nan, "upper": np.nan, "p_value": np.nan, "method": None,
        "suppressed": False, "min_points": int(min_points),
    }


def _pooled_shares(rec: dict, first, before: pd.DataFrame, after: pd.DataFrame,
                   dropped: pd.DataFrame, confidence: float, threshold: int) -> str:
    """Proportions with denominators: pooled share on each side, Newcombe interval, Fisher's test."""
    alpha = 1 - confidence
    inp = _proportion_inputs(pd.concat([before, after]))
    xb, nb_ = inp.loc[before.index, "x"].sum(), inp.loc[before.index, "n"].sum()
    xa, na_ = inp.loc[after.index, "x"].sum(), inp.loc[after.index, "n"].sum()
    tp = two_proportions(xa, na_, xb, nb_, confidence=confidence)
    p = tp["p_value"]
    rec.update(before_lower=tp["lower0"], before_upper=tp["upper0"],
               after_lower=tp["lower1"], after_upper=tp["upper1"])
    rec.update(measure="percent (pooled)", before=tp["percent0"], after=tp["percent1"],
               difference=tp["difference"], lower=tp["lower"], upper=tp["upper"],
               p_value=p, method="Wilson intervals; Newcombe interval for the difference; Fisher's exact test")
    rec["suppressed"] = bool(suppression_mask([xb, xa], [nb_, na_], bool(first["counts_children"]), threshold).any())
    verdict = "unlikely to be chance alone" if p < alpha else "could be chance"
    implied = (" (numerators derived from the published percentages)"
               if (inp["unit"] == "percent").any() else "")
    left_out = ""
    if not dropped.empty:
        left_out = (f" Left out for want of a denominator: {', '.join(_period_label(r) for _, r in dropped.iterrows())}"
                    " (see the source note).")
    return (
        f"{_where_of(rec)}: {_pct(rec['before'])} before the change ({_span_of(before)}; {_fmt(xb)} of {_fmt(nb_)}) "
        f"and {_pct(rec['after'])} after it ({_span_of(after)}; {_fmt(xa)} of {_fmt(na_)}){implied}, a difference of "
        f"{rec['difference']:+.1f} percentage points ({_conf(confidence)} confidence interval "
        f"{rec['lower']:+.1f} to {rec['upper']:+.1f}); Fisher's exact test {_p(p)}: the difference "
        f"{'is ' if p < alpha else ''}{verdict}.{left_out}"
    )


def _mean_counts(rec: dict, first, before: pd.DataFrame, after: pd.DataFrame, confidence: float, threshold: int) -> str:
    """Counts without denominators: the mean count per period on each side (compare_periods, exposure = periods)."""
    from .rates import compare_periods

    nb, na = len(before), len(after)
    xb, xa = before["value"].sum(), after["value"].sum()
    r = compare_periods(xa, xb, current_exposure=na, previous_exposure=nb, confidence=confidence).iloc[0]
    per = first["period_type"].replace("financial_year", "year").replace("_", " ")
    rec.update(measure=f"mean count per {per}", before=xb / nb, after=xa / na, difference=xa / na - xb / nb,
               lower=r["percent_lower"], upper=r["percent_upper"], p_value=r["p_value"],
               method="compare_periods (exact conditional); the interval is for the percentage change in the mean")
    counts = pd.concat([before["value"], after["value"]]).to_numpy()
    rec["suppressed"] = bool(suppression_mask(counts, counts_children=bool(first["counts_children"]),
                                              threshold=threshold).any())
    verdict = "is unlikely to be chance alone" if r["p_value"] < 1 - confidence else "could be chance"
    return (
        f"{_where_of(rec)}: an average of {rec['before']:,.1f} per {per} before the change ({_span_of(before)}) and "
        f"{rec['after']:,.1f} after it ({_span_of(after)}), a change of {r['percent_change']:+.1f}% "
        f"({_conf(confidence)} confidence interval {r['percent_lower']:+.1f}% to {r['percent_upper']:+.1f}%); "
        f"{_p(r['p_value'])}: the change {verdict}."
    )


def _mean_figures(rec: dict, before: pd.DataFrame, after: pd.DataFrame, unit: str) -> str:
    """Anything else (percentages without denominators): the averages and their difference, no test."""
    nb, na = len(before), len(after)
    mb, ma = before["value"].mean(), after["value"].mean()
    rec.update(measure=f"mean of published {unit} figures", before=mb, after=ma, difference=ma - mb,
               method="description only (no denominators, so no interval or test)")
    unit_txt = "percentage points" if unit == "percent" else unit
    fmt_v = _pct if unit == "percent" else (lambda v: f"{v:,.1f}")
    bw = "" if nb == 1 else "an average of "
    aw = "" if na == 1 else "an average of "
    how = "higher" if ma > mb else "lower" if ma < mb else "different"
    return (
        f"{_where_of(rec)}: {bw}{fmt_v(mb)} before the change ({_span_of(before)}) and {aw}{fmt_v(ma)} after it "
        f"({_span_of(after)}), {abs(ma - mb):.1f} {unit_txt} {how}. No denominators are published, so no "
        "confidence interval or test can be given."
    )


def _before_after_caveat(nb: int, na: int, min_points: int) -> str:
    """Whether the points on each side could separate the change from a trend."""
    if nb < min_points or na < min_points:
        return (
            f"Only {_words(nb)} point{'s' if nb != 1 else ''} before and {_words(na)} after the change: "
            f"{_words(nb + na)} points cannot separate the change from an underlying trend, so the difference "
            "may reflect a trend already under way, seasonal variation or chance rather than the change itself. "
            f"Modelling the trend (an interrupted time series) needs at least {min_points} points on each side."
        )
    return ("A before/after comparison of averages assumes no underlying trend; fit an interrupted "
            "time-series model to separate the change from a trend.")
