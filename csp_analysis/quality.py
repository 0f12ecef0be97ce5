"""Data-quality checks on monthly counts before any statistics are run.

:func:`flag_anomalous_months` finds months that should not be taken at face
value:

* ``extract_artefact`` - a count that is an exact multiple of ``round_to`` (100)
  and far below the series' usual level. This is the signature of a capped or
  truncated extract, e.g. Nottinghamshire ASB in 2022-01/06/07/09/10 with
  exactly 200, 400, 400, 300 and 300 records against 2,100-3,200 in other months
  (see ``../shared/data/README.md``).
* ``sudden_drop`` - a count below ``drop_ratio`` (half) of the usual level that
  chance cannot explain (lower-tail p below ``p_threshold`` for a Poisson or,
  when the series varies more than Poisson, negative binomial count);
  often a partial extract or a recording change. Below ``severe_ratio`` (a
  quarter: most records missing) the month is marked for exclusion; milder drops
  are reported for checking (a seasonal low can halve a small series).
* ``missing_month`` - a month between a series' first and last month for which
  the area has no data at all (a gap in the source, not a zero).

The "usual level" of a month is, for artefacts, the median of all the series'
other months and, for drops, the median of its other months within ``window``
months either side (all other months when fewer than 4 are that close), leaving
out months flagged as artefacts or severe drops. Drops are screened first
against the upper quartile of the nearby months, so a cluster of bad months
cannot drag the level down, then re-checked against the median of the nearby
months that are left until the flags settle. A lasting change of level (e.g.
between two years) is not a drop, because months are compared with their
neighbours.

:func:`common_months` keeps only months present in both of two periods being
compared (e.g. this year against the same months last year), saying which months
were dropped, so a missing or excluded month does not bias a comparison.

References
----------
Wheeler, D. J. (1995). *Advanced Topics in Statistical Process Control*. SPC
Press, Knoxville (median moving range: sigma = median mR / 0.954).
Office for Statistics Regulation (2021). *Quality Assurance of Administrative
Data* (QAAD) toolkit. UK Statistics Authority, London.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["MonthMatch", "common_months", "flag_anomalous_months"]

_FLAG_COLUMNS = ["month", "series", "n", "reference", "ratio", "flag", "exclude", "reason"]


def _months(values: Any, name: str) -> pd.PeriodIndex:
    """Parse month labels (timestamps, periods, 'YYYY-MM' strings) to a monthly PeriodIndex."""
    if isinstance(values, pd.PeriodIndex):
        return values.asfreq("M")
    if isinstance(values, (str, pd.Period, pd.Timestamp)):
        values = [values]
    values = list(values)
    if values and all(isinstance(v, pd.Period) for v in values):
        return pd.PeriodIndex(values).asfreq("M")
    try:
        stamps = pd.to_datetime(pd.Index(values, dtype=object), format="mixed")
    except (TypeError, ValueError) as err:
        raise ValueError(f"`{name}` must hold months ('YYYY-MM', timestamps or periods): {err}") from None
    if stamps.isna().any():
        raise ValueError(f"`{name}` contains missing or unreadable months")
    return stamps.to_period("M")


def _fmt(n: float) -> str:
    return f"{n:,.0f}"


def _reference_levels(months: np.ndarray, n: np.ndarray, usable: np.ndarray, window: int,
                      quantile: float = 0.5) -> np.ndarray:
    """Usual level of each month: a quantile (median by default) of the other usable
    months within +/- window months (of all other usable months if < 4 are near)."""
    ref = np.full(len(n), np.nan)
    for i in range(len(n)):
        others = usable.copy()
        others[i] = False
        near = others & (np.abs(months - months[i]) <= window)
        pool = n[near] if near.sum() >= 4 else n[others]
        if len(pool):
            ref[i] = float(np.quantile(pool, quantile))
    return ref


def _dispersion(months: np.ndarray, n: np.ndarray, usable: np.ndarray) -> float:
    """Robust variance-to-mean ratio of a series from its month-to-month changes.

    Uses consecutive usable months only: ``r = (n_t - n_{t-1}) / sqrt(mean of the
    pair)`` and ``phi = (median |r| / 0.954)^2``, at least 1 (Poisson). The median
    moving range divided by 0.954 estimates sigma (Wheeler 1995), is unaffected
    by level shifts between periods and tolerates bad months among the pairs.
    """
    pair = (np.diff(months) == 1) & usable[1:] & usable[:-1]
    level = (n[1:] + n[:-1]) / 2.0
    pair &= level > 0
    if pair.sum() < 3:
        return 1.0
    r = np.diff(n)[pair] / np.sqrt(level[pair])
    return max(1.0, (float(np.median(np.abs(r))) / 0.954) ** 2)


def _lower_tail(n: np.ndarray, mean: np.ndarray, phi: float) -> np.ndarray:
    """P(X <= n) for a count with the given mean and variance ``phi * mean``.

    Poisson when ``phi == 1``, otherwise negative binomial (gamma-Poisson) with
    that variance, so naturally variable series are not flagged by chance.
    """
    mean = np.where(np.isnan(mean), 0.0, mean)
    if phi <= 1.0:
        return stats.poisson.cdf(n, mean)
    tail = stats.poisson.cdf(n, mean)
    pos = mean > 0
    tail[pos] = stats.nbinom.cdf(n[pos], mean[pos] / (phi - 1.0), 1.0 / phi)
    return tail


def flag_anomalous_months(
    counts: pd.DataFrame,
    month_col: str = "month",
    series_col: str = "crime_type",
    count_col: str = "n",
    group_cols: Any = None,
    round_to: int = 100,
    artefact_ratio: float = 0.4,
    drop_ratio: float = 0.5,
    severe_ratio: float = 0.25,
    p_threshold: float | None = None,
    window: int = 12,
    *,
    confidence: float | None = None,
) -> pd.DataFrame:
    """Flag suspected extract artefacts, sudden drops and missing months in monthly counts.

    Parameters
    ----------
    counts : pandas.DataFrame
        Long table with one row per month and series (and group), e.g. columns
        ``month``, ``crime_type``, ``n`` and optionally ``area``. Rows sharing the
        same group, series and month are summed (so a LAD-level table can be
        checked at force level with ``group_cols="force"``).
    month_col, series_col, count_col : str
        Names of the month, series (e.g. crime type) and count columns.
    group_cols : str or list of str, optional
        Columns identifying separate areas (e.g. ``"force"``, ``["force",
        "lad_nm"]``); each area's series are checked separately. Defaults to
        ``"area"`` when that column exists, otherwise the whole table is one area.
    round_to : int, default 100
        Counts that are exact multiples of this (and far too low) are treated
        as capped extracts.
    artefact_ratio : float, default 0.4
        A round count below this fraction of the usual level is an artefact.
    drop_ratio : float, default 0.5
        A count below this fraction of the usual level is a sudden drop ...
    severe_ratio : float, default 0.25
        A drop below this fraction of the usual level (most records missing) is
        marked for exclusion; milder drops are reported for checking only.
    p_threshold : float, optional
        Deprecated (a :class:`DeprecationWarning`): use ``confidence`` (``p_threshold =
        1 - confidence``; default 0.001). A drop is flagged only if a count with the usual level as mean, and the
        series' own month-to-month variability (a variance-to-mean ratio from
        the median change between consecutive months; Poisson if less
        variable), would be this low with probability below ``p_threshold``, so
        small or naturally variable series are not flagged by chance.
    window : int, default 12
        Months either side used for the usual level.
    confidence : float, default 0.999
        The drop test's level: a drop is flagged when its lower-tail probability is below
        ``1 - confidence``.

    Returns
    -------
    pandas.DataFrame
        One row per flagged month and series: the group columns, ``month``
        ('YYYY-MM'), ``series``, ``n`` (NaN for missing months), ``reference``
        (usual level), ``ratio`` (n / reference), ``flag`` ("extract_artefact",
        "sudden_drop" or "missing_month"), ``exclude`` (True when the month
        should be left out of models: artefacts, missing months and drops below
        ``severe_ratio``) and ``reason`` (a plain-English sentence). Empty (with
        these columns) when nothing is flagged.

    Notes
    -----
    A month with no row for a series is a zero if the area has data for that
    month (the source omits zero counts), and a missing month if the area has no
    data at all. Missing months are never interpolated; leave flagged months out
    of models (``fit_count_trend(..., exclude=...)``) and comparisons
    (:func:`common_months`).
    """
    group_cols, p_threshold = _validate_options(counts, month_col, series_col, count_col, group_cols, round_to,
                                                artefact_ratio, drop_ratio, severe_ratio, p_threshold,
                                                window, confidence)
    data = _monthly_totals(counts, month_col, series_col, count_col, group_cols)
    rows: list[dict] = []
    groups = data.groupby(group_cols, sort=True, dropna=False) if group_cols else [((), data)]
    for gkey, gdata in groups:
        gkey = gkey if isinstance(gkey, tuple) else (gkey,)
        gvals = dict(zip(group_cols, gkey))
        covered = set(gdata["_month"].tolist())
        for series, sdata in gdata.groupby(series_col, sort=True):
            rows += _flag_series(sdata, series, gvals, covered, count_col, round_to, artefact_ratio, drop_ratio,
                                 severe_ratio, p_threshold, window)
    out = pd.DataFrame(rows, columns=group_cols + _FLAG_COLUMNS)
    if len(out):
        out = out.sort_values(group_cols + ["series", "month"], kind="stable").reset_index(drop=True)
    return out


def _validate_options(counts, month_col, series_col, count_col, group_cols, round_to, artefact_ratio,
                      drop_ratio, severe_ratio, p_threshold, window, confidence) -> tuple[list, float]:
    """Check :func:`flag_anomalous_months`'s input and options; return the grouping columns and
    the p-value threshold (0.001 unless ``p_threshold`` or ``confidence`` is given)."""
    if not isinstance(counts, pd.DataFrame):
        raise ValueError("`counts` must be a pandas DataFrame of monthly counts")
    if group_cols is None:
        group_cols = ["area"] if "area" in counts.columns else []
    elif isinstance(group_cols, str):
        group_cols = [group_cols]
    else:
        group_cols = list(group_cols)
    for name, col in [("month_col", month_col), ("series_col", series_col), ("count_col", count_col)] + [
            ("group_cols", g) for g in group_cols]:
        if col not in counts.columns:
            raise ValueError(f"`{name}`: column {col!r} is not in `counts` (columns: {list(counts.columns)})")
    if isinstance(round_to, bool) or not isinstance(round_to, (int, np.integer)) or round_to < 2:
        raise ValueError(f"`round_to` must be an integer >= 2, got {round_to!r}")
    if p_threshold is not None or confidence is not None:
        from .contract import significance_level

        p_threshold = significance_level(p_threshold, 0.999 if confidence is None else confidence,
                                         function="flag_anomalous_months", name="p_threshold")
    else:
        p_threshold = 0.001
    for name, value in (("artefact_ratio", artefact_ratio), ("drop_ratio", drop_ratio),
                        ("severe_ratio", severe_ratio), ("p_threshold", p_threshold)):
        if not (isinstance(value, (int, float, np.floating)) and 0 < value < 1):
            raise ValueError(f"`{name}` must be between 0 and 1, got {value!r}")
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"`window` must be a positive integer, got {window!r}")
    return group_cols, p_threshold


def _monthly_totals(counts: pd.DataFrame, month_col: str, series_col: str, count_col: str,
                    group_cols: list) -> pd.DataFrame:
    """Counts summed per group, series and month (``_month``: the month's ordinal), checked."""
    data = counts[group_cols + [month_col, series_col, count_col]].copy()
    n_values = pd.to_numeric(data[count_col], errors="coerce")
    if n_values.isna().any() or (n_values < 0).any():
        raise ValueError(f"`counts`: column {count_col!r} must hold non-negative numbers with no gaps")
    data[count_col] = n_values.astype(float)
    data["_month"] = _months(data[month_col], "month_col").asi8 if len(data) else np.array([], dtype=np.int64)
    keys = group_cols + [series_col, "_month"]
    return data.groupby(keys, sort=True, dropna=False)[count_col].sum().reset_index()


def _flag_series(sdata: pd.DataFrame, series, gvals: dict, covered: set, count_col: str, round_to: int,
                 artefact_ratio: float, drop_ratio: float, severe_ratio: float, p_threshold: float,
                 window: int) -> list[dict]:
    """Flag rows for one series: months missing from the source, extract artefacts and drops."""
    rows: list[dict] = []
    first, last = int(sdata["_month"].min()), int(sdata["_month"].max())
    span = np.arange(first, last + 1)
    observed = dict(zip(sdata["_month"].astype(int), sdata[count_col]))
    present = np.array([m in covered for m in span])
    months = span[present]
    n = np.array([observed.get(m, 0.0) for m in months], dtype=float)
    label = str(series)

    for m in span[~present]:
        rows.append(dict(**gvals, month=str(pd.Period(ordinal=int(m), freq="M")), series=series,
                         n=np.nan, reference=np.nan, ratio=np.nan, flag="missing_month",
                         exclude=True,
                         reason=(f"{label}: no data at all for "
                                 f"{pd.Period(ordinal=int(m), freq='M')} (a gap in the source, "
                                 "not a zero); left out of models, not interpolated.")))
    if len(n) < 3:
        return rows
    artefact, drop, severe, ref, ratio, ref_all, ratio_all = _detect_anomalies(
        months, n, round_to, artefact_ratio, drop_ratio, severe_ratio, p_threshold, window)
    for i in np.flatnonzero(artefact | drop):
        month = str(pd.Period(ordinal=int(months[i]), freq="M"))
        if artefact[i]:
            flag, exclude, reference, r = "extract_artefact", True, ref_all[i], ratio_all[i]
            what = f"{label} exactly {_fmt(n[i])} records"
            why = "probably a capped extract; excluded from models."
        elif severe[i]:
            flag, exclude, reference, r = "sudden_drop", True, ref[i], ratio[i]
            what = f"{label} only {_fmt(n[i])} records"
            why = "most records appear to be missing; excluded from models."
        else:
            flag, exclude, reference, r = "sudden_drop", False, ref[i], ratio[i]
            what = f"{label} {_fmt(n[i])} records"
            why = ("an unusually low month (seasonal lows can do this); check it is complete "
                   "before relying on it.")
        rows.append(dict(**gvals, month=month, series=series, n=n[i], reference=reference, ratio=r,
                         flag=flag, exclude=exclude,
                         reason=(f"{what} in {month}, {r * 100:.0f}% of the usual monthly level "
                                 f"({_fmt(reference)}): {why}")))
    return rows


def _detect_anomalies(months: np.ndarray, n: np.ndarray, round_to: int, artefact_ratio: float,
                      drop_ratio: float, severe_ratio: float, p_threshold: float, window: int):
    """The two passes over one series' months: ``(artefact, drop, severe, ref, ratio, ref_all,
    ratio_all)``, the reference levels and ratios of the drop and artefact passes."""
    # pass 1: round-number extract artefacts, against all other months
    ref_all = _reference_levels(months, n, np.ones(len(n), dtype=bool), window=10**6)
    artefact = (n > 0) & (n % round_to == 0) & (n < artefact_ratio * ref_all)
    # pass 2: sudden drops, against nearby months that are neither artefacts
    # nor severe drops (iterated, so a cluster of bad months does not drag
    # the usual level down)
    usable = ~artefact
    for step in range(6):
        # first screen against the upper quartile of nearby months (so up to
        # three quarters of them can be bad), then against their median,
        # leaving out the severe drops found so far
        ref = _reference_levels(months, n, usable, window, quantile=0.5 if step else 0.75)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = n / ref
        tail = _lower_tail(n, ref, _dispersion(months, n, usable))
        drop = ~artefact & (n < drop_ratio * ref) & (tail < p_threshold)
        severe = drop & (ratio < severe_ratio)
        new_usable = ~artefact & ~severe
        if step and np.array_equal(new_usable, usable):
            break
        usable = new_usable
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio_all = n / ref_all
    return artefact, drop, severe, ref, ratio, ref_all, ratio_all


@dataclass
class MonthMatch:
    """Result of :func:`common_months`.

    Attributes
    ----------
    a, b : list of str
        Months ('YYYY-MM') kept in each period, in matching order (``a[i]`` is
        compared with ``b[i]``).
    dropped_a, dropped_b : list of str
        Months left out of each period because the matching month is absent from
        the other period.
    sentence : str
        Plain-English note for the report.
    """

    a: list = field(default_factory=list)
    b: list = field(default_factory=list)
    dropped_a: list = field(default_factory=list)
    dropped_b: list = field(default_factory=list)
    sentence: str = ""

    @property
    def pairs(self) -> pd.DataFrame:
        """The matched months as a two-column table."""
        return pd.DataFrame({"a_month": self.a, "b_month": self.b})


def common_months(a_months: Any, b_months: Any, lag: int | None = None) -> MonthMatch:
    """Match the months of two periods, keeping only months present in both.

    Parameters
    ----------
    a_months, b_months : iterable of months
        The months with usable data in each period (e.g. 2025-01 ... 2025-12 and
        the same months of 2024, minus missing or flagged months).
    lag : int, optional
        Months between matching months (``b = a - lag``), e.g. 3 to compare a
        quarter with the previous one. By default months are matched by calendar
        month (January with January), as in a comparison with the same period
        last year; each period must then hold each calendar month at most once.

    Returns
    -------
    MonthMatch
        ``a``, ``b`` (kept months, matched in order), ``dropped_a``,
        ``dropped_b`` and a ``sentence``.

    Examples
    --------
    >>> m = common_months(["2025-01", "2025-02", "2025-03"], ["2024-01", "2024-03"])
    >>> m.a, m.b, m.dropped_a
    (['2025-01', '2025-03'], ['2024-01', '2024-03'], ['2025-02'])
    """
    a = _months(a_months, "a_months")
    b = _months(b_months, "b_months")
    if a.has_duplicates or b.has_duplicates:
        raise ValueError("`a_months` and `b_months` must not repeat a month")
    if lag is None:
        for name, idx in (("a_months", a), ("b_months", b)):
            if pd.Index(idx.month).has_duplicates:
                raise ValueError(
                    f"`{name}` spans more than 12 months, so months cannot be matched by calendar "
                    "month; give `lag` (months between matching months)")
        b_by_moy = {p.month: p for p in b}
        pairs = [(p, b_by_moy[p.month]) for p in sorted(a) if p.month in b_by_moy]
    else:
        if isinstance(lag, bool) or not isinstance(lag, (int, np.integer)):
            raise ValueError(f"`lag` must be a whole number of months, got {lag!r}")
        b_set = set(b)
        pairs = [(p, p - int(lag)) for p in sorted(a) if (p - int(lag)) in b_set]
    kept_a = [p for p, _ in pairs]
    kept_b = [q for _, q in pairs]
    dropped_a = [str(p) for p in sorted(a) if p not in set(kept_a)]
    dropped_b = [str(q) for q in sorted(b) if q not in set(kept_b)]
    if not pairs:
        sentence = "The two periods have no months in common, so they cannot be compared month for month."
    elif dropped_a or dropped_b:
        dropped = dropped_a + dropped_b
        listed = ", ".join(dropped[:-1]) + (" and " if len(dropped) > 1 else "") + dropped[-1]
        sentence = (f"The comparison uses the {len(pairs)} months present in both periods; "
                    f"{listed} {'was' if len(dropped) == 1 else 'were'} left out because the matching "
                    "month is missing or excluded in the other period.")
    else:
        sentence = f"The comparison uses all {len(pairs)} months of both periods."
    return MonthMatch(a=[str(p) for p in kept_a], b=[str(q) for q in kept_b],
                      dropped_a=dropped_a, dropped_b=dropped_b, sentence=sentence)
