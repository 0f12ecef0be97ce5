"""Disproportionality and inequality: who and where crime and policing fall on.

Functions
---------
relative_rate_index
    Rates by group (e.g. stop and search by ethnicity) with the ratio to a
    reference group, the excess count and sensitivity bounds for records
    with unknown group.
find_rate_by_group
    Share of searches whose outcome was linked to the object of search, by
    group, against a reference group.
location_quotients
    Concentration of one crime type in each area relative to a wider area.
deprivation_gradient
    Rates by deprivation decile, the rate ratio per decile step and the
    relative index of inequality.
share_of_burden
    Share of crime in the most affected places against their share of
    residents.
broad_ethnic_group, census_population_by_broad_group
    Map Census 2021 and data.police.uk ethnicity labels to the five broad
    groups White, Black, Asian, Mixed, Other (plus Unknown).
suppress_small_numbers
    Primary and secondary suppression of small counts before publication.

``funnel_limits``, ``assign_funnel_significance`` and ``funnel_outliers`` are
re-exported from :mod:`csp_analysis.funnels` for convenience.

References
----------
Home Office (2020). Police powers and procedures, England and Wales, year
    ending 31 March 2020 (stop and search rates per 1,000 by ethnicity,
    2011 Census denominators).
Mackenbach JP, Kunst AE (1997). Measuring the magnitude of socio-economic
    inequalities in health: an overview of available measures illustrated
    with two examples from Europe. Soc Sci Med 44:757-771.
Moineddin R, Beyene J, Boyle E (2003). On the location quotient confidence
    interval. Geographical Analysis 35:249-256.
Newcombe RG (1998). Interval estimation for the difference between
    independent proportions: comparison of eleven methods. Stat Med
    17:873-890.
Office for National Statistics (2021). Statistical disclosure control for
    Census 2021 outputs; Government Statistical Service (2021). Disclosure
    control guidance for tables produced from administrative sources.
"""
from __future__ import annotations

import math
import re
import warnings
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from .contract import default_sentence, standardise
from .funnels import assign_funnel_significance, funnel_limits, funnel_outliers
from .formatting import check_confidence
from .rates import check_positive_scalar, format_p_value, proportion_ci, quasi_score_test, rate_ci, rate_ratio

__all__ = [
    "relative_rate_index",
    "find_rate_by_group",
    "location_quotients",
    "deprivation_gradient",
    "DeprivationGradient",
    "share_of_burden",
    "broad_ethnic_group",
    "census_population_by_broad_group",
    "suppress_small_numbers",
    "funnel_limits",
    "funnel_outliers",
    "assign_funnel_significance",
    "BROAD_GROUPS",
    "UNKNOWN_LABELS",
]

BROAD_GROUPS = ("White", "Black", "Asian", "Mixed", "Other")

#: Labels treated as "group not known" (compared case-insensitively).
UNKNOWN_LABELS = (
    "Unknown",
    "Not stated",
    "Not known",
    "Not recorded",
    "Unreported",
    "Prefer not to say",
    "Other ethnic group - Not stated",
    "",
)


def _need_columns(data: pd.DataFrame, **cols) -> None:
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    for arg, col in cols.items():
        if col is None:
            continue
        if col not in data.columns:
            raise ValueError(f"{arg}={col!r} is not a column of data (columns: {list(data.columns)})")


def _numeric_column(data: pd.DataFrame, col: str, arg: str) -> pd.Series:
    try:
        return pd.to_numeric(data[col], errors="raise").astype(float)
    except (TypeError, ValueError):
        raise ValueError(f"{arg} column {col!r} must be numeric") from None


def _is_unknown(values: pd.Series, unknown) -> np.ndarray:
    keys = {str(u).strip().casefold() for u in unknown}
    return values.isna().to_numpy() | values.astype(str).str.strip().str.casefold().isin(keys).to_numpy()


def describe_group(group, people: str = "people", start: bool = False) -> str:
    """Name the people of an ethnic group in a sentence: 'Black people'; 'people of Mixed
    ethnicity'; 'people from Other ethnic groups' (capitalised with ``start``)."""
    key = str(group).casefold()
    if people == "people" and key in ("mixed", "other"):
        text = "people of Mixed ethnicity" if key == "mixed" else "people from Other ethnic groups"
    else:
        text = f"{group} {people}"
    return text[0].upper() + text[1:] if start else text


def format_ratio(r: float) -> str:
    """A rate ratio for a sentence: one decimal from 0.95, two below; 'infinite' or 'n/a'."""
    if not np.isfinite(r):
        return "infinite" if r > 0 else "n/a"
    return f"{r:.1f}" if r >= 0.95 else f"{r:.2f}"


# private names kept for importers written before the public ones
_who = describe_group
_fmt_ratio = format_ratio


# ----------------------------------------------------------------------------
# relative rate index
# ----------------------------------------------------------------------------
def relative_rate_index(
    data: pd.DataFrame,
    group: str,
    count: str,
    population: str,
    reference: str = "White",
    unknown=UNKNOWN_LABELS,
    confidence: float = 0.95,
    multiplier: float = 1000,
    small_number: int = 5,
    people: str = "people",
    action: str = "were recorded",
    period: str | None = None,
) -> pd.DataFrame:
    """Rates by group and their ratio to a reference group (disproportionality).

    Parameters
    ----------
    data : DataFrame
        One or more rows per group (rows for the same group are summed).
    group, count, population : str
        Column names: group label, number of events (e.g. searches) and
        resident population of the group. Population may be missing only for
        unknown groups.
    reference : str, default "White"
        Group every other group is compared with.
    unknown : iterable of str
        Group labels meaning "not known" (case-insensitive); missing labels
        are unknown too. Unknowns are reported but excluded from rates and
        ratios.
    confidence : float, default 0.95
        Two-sided confidence level.
    multiplier : float, default 1000
        Rates are per this many residents.
    small_number : int, default 5
        Groups with fewer events than this are flagged ``small_number``.
    people, action : str
        Words for the sentence, e.g. ``action="were searched"`` gives
        "Black people were searched at 8.9 times the rate of White people
        (95% CI 8.8 to 8.9)".
    period : str, optional
        Column naming the period (month, or area) of each row, with one row per group and
        period and ``population`` the person-time of that row. The ratios are still of the
        totals, but their intervals and p-values then allow for over-dispersion: counts that
        vary from period to period more than a Poisson process (clustered searches, operations
        in some months). See Notes. ``None`` (default): the counts are taken as Poisson.

    Returns
    -------
    DataFrame
        One row per group (known groups first, in order of appearance, then
        unknowns) with ``group``, ``count``, ``population``, ``rate``,
        ``rate_lower``, ``rate_upper`` (per ``multiplier``; exact Poisson
        below 10 events, Byar's from 10, see :func:`rates.rate_ci`),
        ``ratio``, ``lower``, ``upper``, ``p_value`` (rate ratio to the
        reference, :func:`rates.rate_ratio`: exact conditional method),
        ``excess`` (count minus the count expected at the reference rate),
        ``small_number``, ``unknown``, ``ratio_if_all_unknown``,
        ``ratio_if_no_unknown``, ``share_unknown``, ``method``,
        ``confidence``, ``multiplier``, ``dispersion``, ``dispersion_df`` and ``sentence``.

    Notes
    -----
    **Over-dispersion (``period`` given).** A Poisson log-linear model
    ``count ~ group + period`` with offset ``log(population)`` is fitted to the known groups'
    rows (statsmodels GLM); the quasi-Poisson dispersion is its Pearson chi2 over the
    residual degrees of freedom ``df`` (McCullagh & Nelder 1989, s. 4.5); when the periods are
    ordered (months), the correlation of neighbouring months is estimated too and ``phi`` is
    the dispersion of the total over all periods (see ``_period_dispersion``), floored at 1. With
    ``phi > 1`` each ratio's interval and p-value come from the quasi-Poisson conditional score
    test with Student's t on ``df`` (:func:`csp_analysis.rates.compare_periods`, which
    documents it); ``method`` says so, with ``phi``. The period effect removes shared
    month-to-month swings (e.g. an operation that raises searches of everyone), which do not
    bias a ratio; only group-specific extra variation widens the interval. With ``phi = 1``
    (or fewer than two periods) the exact conditional method is used. Calibration:
    ``benchmarks/calib_rates.py`` (monthly variance 1-3 x the mean, AR(1) 0-0.5 from month to
    month). The month-to-month correlation is poorly known from a year of months, so its
    uncertainty lowers ``df`` (Satterthwaite); ``method`` and the sentence say the interval allows
    for neighbouring months being alike.

    Sensitivity to unknown group: with U events of unknown group,
    ``ratio_if_all_unknown`` assumes every one belonged to this group and
    none to the reference (the largest ratio any allocation could give);
    ``ratio_if_no_unknown`` assumes none belonged to this group and all to
    the reference (the smallest). The true ratio, if the unknowns are
    spread in any way, lies between them. Populations are treated as
    known exactly; census denominators years out of date (e.g. 2011 Census
    for 2019/20 searches) can bias rates for fast-growing groups.

    References
    ----------
    Home Office (2020). Police powers and procedures, year ending March
    2020 (rates per 1,000 by ethnicity).
    Breslow NE, Day NE (1987). IARC Sci Publ 82 (rate ratios).
    """
    confidence = check_confidence(confidence)
    multiplier = check_positive_scalar(multiplier, "multiplier")
    df = _read_group_counts(data, group, count, population, unknown, period)
    phi, phi_df = (_period_dispersion(df.assign(period=data[period].to_numpy()))
                   if period is not None else (1.0, np.nan))
    agg, ref = _aggregate_groups(df, reference, group)
    out = _fit_group_ratios(agg, ref, phi, phi_df, multiplier, confidence)
    total_unknown = float(agg.loc[agg["unknown"], "count"].sum())
    total_count = float(agg["count"].sum())
    _add_unknown_bounds(out, ref, reference, total_unknown)
    out["small_number"] = out["count"] < small_number
    out["share_unknown"] = total_unknown / total_count if total_count > 0 else np.nan
    out["confidence"] = confidence
    out["multiplier"] = multiplier
    out["dispersion"] = phi
    out["dispersion_df"] = phi_df
    n_periods = int(data[period].nunique()) if period is not None else 0
    out["sentence"] = _ratio_sentences(out, reference, total_count, confidence, multiplier, small_number,
                                       people, action, phi, n_periods)
    cols = ["group", "count", "population", "rate", "rate_lower", "rate_upper", "ratio", "lower", "upper",
            "p_value", "excess", "small_number", "unknown", "ratio_if_all_unknown", "ratio_if_no_unknown",
            "share_unknown", "method", "confidence", "multiplier", "dispersion", "dispersion_df", "sentence"]
    return standardise(out[cols], value="ratio")


def _read_group_counts(data: pd.DataFrame, group: str, count: str, population: str, unknown,
                       period: str | None) -> pd.DataFrame:
    """Check the columns of :func:`relative_rate_index`'s input and return ``group``, ``count``,
    ``population`` and ``unknown`` (missing labels become "Unknown")."""
    _need_columns(data, group=group, count=count, population=population)
    if period is not None:
        _need_columns(data, period=period)
    df = pd.DataFrame(
        {
            "group": data[group],
            "count": _numeric_column(data, count, "count"),
            "population": _numeric_column(data, population, "population"),
        }
    )
    if (df["count"] < 0).any():
        raise ValueError("count values must be non-negative")
    df["unknown"] = _is_unknown(df["group"], unknown)
    df["group"] = df["group"].where(~df["group"].isna(), "Unknown")
    return df


def _aggregate_groups(df: pd.DataFrame, reference: str, group: str) -> tuple[pd.DataFrame, pd.Series]:
    """Totals per group (known groups first, then unknowns) and the reference group's row; raises
    when the reference is missing or a known group has no positive population."""
    agg = (
        df.groupby(["group", "unknown"], sort=False)
        .agg(count=("count", "sum"), population=("population", lambda s: s.sum(min_count=1)))
        .reset_index()
    )
    agg = pd.concat([agg[~agg["unknown"]], agg[agg["unknown"]]], ignore_index=True)
    known = agg[~agg["unknown"]]
    if reference not in set(known["group"]):
        raise ValueError(f"reference={reference!r} is not a known group in column {group!r}")
    bad_pop = known["population"].isna() | ~(known["population"] > 0)
    if bad_pop.any():
        raise ValueError(
            f"population must be greater than zero for every known group; check {known.loc[bad_pop, 'group'].tolist()}"
        )
    return agg, known[known["group"] == reference].iloc[0]


def _fit_group_ratios(agg: pd.DataFrame, ref: pd.Series, phi: float, phi_df: float, multiplier: float,
                      confidence: float) -> pd.DataFrame:
    """Rates of the known groups and their ratios to the reference: exact conditional, or the
    quasi-Poisson score test when ``phi > 1``; the excess over the reference rate."""
    k = ~agg["unknown"].to_numpy()
    out = agg.copy()
    for col in ("rate", "rate_lower", "rate_upper", "ratio", "lower", "upper", "p_value", "excess",
                "ratio_if_all_unknown", "ratio_if_no_unknown"):
        out[col] = np.nan
    out["method"] = None
    rc = rate_ci(out.loc[k, "count"], out.loc[k, "population"], multiplier=multiplier, confidence=confidence)
    out.loc[k, "rate"] = rc["value"].to_numpy()
    out.loc[k, "rate_lower"] = rc["lower"].to_numpy()
    out.loc[k, "rate_upper"] = rc["upper"].to_numpy()
    rr = rate_ratio(out.loc[k, "count"], out.loc[k, "population"], ref["count"], ref["population"],
                    confidence=confidence)
    if phi > 1:
        args = [out.loc[k, c].to_numpy(dtype=float) for c in ("count", "population")]
        nk = int(k.sum())
        q = quasi_score_test(args[0], args[1], np.full(nk, float(ref["count"])),
                             np.full(nk, float(ref["population"])), np.full(nk, phi), np.full(nk, phi_df),
                             confidence)
        rr = rr.assign(ratio=q[0], lower=q[1], upper=q[2], p_value=q[3],
                       method=f"quasi-Poisson score, t on {phi_df:.0f} df (phi = {phi:.2f}, across periods, "
                              "allowing for correlation between neighbouring periods)")
    out.loc[k, "ratio"] = rr["ratio"].to_numpy()
    out.loc[k, "lower"] = rr["lower"].to_numpy()
    out.loc[k, "upper"] = rr["upper"].to_numpy()
    out.loc[k, "p_value"] = rr["p_value"].to_numpy()
    out.loc[k, "method"] = rr["method"].to_numpy()
    out.loc[k, "excess"] = out.loc[k, "count"] - out.loc[k, "population"] * (ref["count"] / ref["population"])
    return out


def _add_unknown_bounds(out: pd.DataFrame, ref: pd.Series, reference: str, total_unknown: float) -> None:
    """Fill ``ratio_if_all_unknown`` / ``ratio_if_no_unknown`` (in place) and set the reference
    row's ratio to 1 with no interval or test."""
    k = ~out["unknown"].to_numpy()
    ref_rate = ref["count"] / ref["population"]
    with np.errstate(divide="ignore", invalid="ignore"):
        g_rate = out.loc[k, "count"] / out.loc[k, "population"]
        out.loc[k, "ratio_if_all_unknown"] = ((out.loc[k, "count"] + total_unknown) / out.loc[k, "population"]) / ref_rate
        out.loc[k, "ratio_if_no_unknown"] = g_rate / ((ref["count"] + total_unknown) / ref["population"])
    is_ref = (out["group"] == reference) & k
    out.loc[is_ref, ["ratio_if_all_unknown", "ratio_if_no_unknown", "ratio"]] = 1.0
    # the reference compared with itself has no meaningful interval or test
    out.loc[is_ref, ["lower", "upper", "p_value"]] = np.nan


def _ratio_sentences(out: pd.DataFrame, reference: str, total_count: float, confidence: float,
                     multiplier: float, small_number: int, people: str, action: str, phi: float,
                     n_periods: int) -> list[str]:
    """One plain sentence per row of :func:`relative_rate_index`."""
    conf_pct = f"{confidence * 100:g}%"
    per = f"{multiplier:,.0f}"

    def who(g, start=False):
        return describe_group(g, people, start)

    sentences = []
    for _, row in out.iterrows():
        if row["unknown"]:
            share = row["count"] / total_count if total_count else np.nan
            sentences.append(
                f"{row['group']}: {row['count']:,.0f} ({share:.1%} of all); excluded from rates and ratios."
            )
            continue
        if row["group"] == reference:
            sentences.append(f"{who(reference, True)}: reference group ({row['rate']:.2f} per {per}).")
            continue
        s = (
            f"{who(row['group'], True)} {action} at {format_ratio(row['ratio'])} times the rate of "
            f"{who(reference)} ({conf_pct} CI {format_ratio(row['lower'])} to {format_ratio(row['upper'])})."
        )
        if row["lower"] <= 1 <= row["upper"]:
            s += f" The difference could be chance ({format_p_value(row['p_value'])})."
        if row["small_number"]:
            s += f" Based on fewer than {small_number} events: treat with caution."
        if phi > 1:
            s += (f" The interval allows for counts that vary {phi:.1f} times as much from period to period "
                  "as chance alone would give, and for neighbouring months being alike.")
            if n_periods <= 24:
                s += (f" With only {n_periods} periods to learn how alike neighbouring months are, the interval is "
                      "cautious, so a real difference could be missed.")
        sentences.append(s)
    return sentences


def _period_dispersion(df: pd.DataFrame) -> tuple[float, float]:
    """Dispersion of a group's total over the periods (floored at 1) and its degrees of freedom.

    ``count ~ group + period`` with offset ``log(population)`` (Poisson GLM, known groups, rows
    with a positive population). Its Pearson residuals give the extra variation of a period's
    count, ``v`` (so a period's count has variance ``(1 + v)`` times its mean) and, when the
    periods can be put in order (months), the lag-1 correlation ``rho`` of that extra variation
    within a group, by the method of moments with the exact expectations under the fitted design
    (as in :mod:`csp_analysis.dispersion`: ``E sum r^2 = tr M + v tr(M R M)``,
    ``E sum r_t r_t+1 = tr(S M) + v tr(S M R M)``). The dispersion of the total over ``L``
    periods is ``1 + v A_L``, ``A_L = 1 + 2 sum_{k<L} (1 - k/L) rho^k``; ``df`` is the residual
    degrees of freedom, reduced for ordered periods by Satterthwaite's (1946) rule to carry the
    uncertainty of ``rho`` (see the comment in the code). (1, NaN) with fewer than two periods or
    no residual degrees of freedom.
    """
    from .dispersion import RHO_GRID, correlation_factor

    fitted = _fit_period_model(df)
    if fitted is None:
        return 1.0, np.nan
    d, r, m, dfr, ordered = fitted
    c0, b0 = float(r @ r), float(np.trace(m))
    v = max((c0 - b0) / b0, 0.0)
    periods = d["period"].nunique()
    a, rho = 1.0, 0.0
    if ordered and v > 0:
        rho, t0s = _period_correlation(d, r, m, c0, b0)
        if rho > 0:
            g = int(np.argmin(np.abs(RHO_GRID - rho)))
            v = max((c0 - b0) / t0s[g], v)
            a = correlation_factor(rho, periods)
    phi = 1.0 + v * a
    if phi <= 1:
        return 1.0, np.nan
    df_out = float(dfr)
    if ordered:
        df_out = _satterthwaite_df(phi, v, a, rho, dfr, periods, d["group"].nunique())
    return phi, df_out


def _fit_period_model(df: pd.DataFrame):
    """Fit ``count ~ group + period`` (Poisson GLM, log population offset) to the known groups'
    rows: ``(rows, Pearson residuals, residual maker, residual df, periods ordered)``, or None
    with fewer than two periods or groups, no residual degrees of freedom or no events."""
    import statsmodels.api as sm

    d = df[~df["unknown"] & (df["population"] > 0)]
    d = d.groupby(["group", "period"], sort=False, dropna=False).agg(
        count=("count", "sum"), population=("population", "sum")).reset_index()
    if d["period"].nunique() < 2 or d["group"].nunique() < 2:
        return None
    try:
        d = d.sort_values(["group", "period"], kind="stable").reset_index(drop=True)
        ordered = True
    except TypeError:
        ordered = False
    x = pd.get_dummies(d[["group", "period"]].astype(str), drop_first=True, dtype=float)
    x.insert(0, "const", 1.0)
    xm = x.to_numpy()
    dfr = len(d) - np.linalg.matrix_rank(xm)
    if dfr < 1 or d["count"].sum() <= 0:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.GLM(d["count"].to_numpy(dtype=float), xm, family=sm.families.Poisson(),
                     offset=np.log(d["population"].to_numpy(dtype=float))).fit()
    r = np.asarray(fit.resid_pearson, dtype=float)
    m = np.eye(len(r)) - xm @ np.linalg.pinv(xm)
    return d, r, m, dfr, ordered


def _period_correlation(d: pd.DataFrame, r: np.ndarray, m: np.ndarray, c0: float, b0: float):
    """Lag-1 correlation ``rho`` of the extra variation between neighbouring periods of a group
    (method of moments on :data:`~csp_analysis.dispersion.RHO_GRID`) and ``tr(M R M)`` on the grid."""
    from .dispersion import RHO_GRID

    n = len(r)
    rank = d.groupby("group", sort=False).cumcount().to_numpy()
    same = d["group"].to_numpy()
    adj = np.zeros((n, n))
    nxt = [(i, i + 1) for i in range(n - 1) if same[i] == same[i + 1]]
    for i, j in nxt:
        adj[j, i] = 1.0
    lag = np.where(same[:, None] == same[None, :], np.abs(rank[:, None] - rank[None, :]), -1)
    c1 = float(sum(r[i] * r[j] for i, j in nxt))
    b1 = float(np.sum(adj.T * m)) if nxt else 0.0
    a1 = (m @ adj @ m).T
    curve, t0s = [], []
    for rho in RHO_GRID:
        rr = np.where(lag >= 0, rho ** np.maximum(lag, 0), 0.0)
        rr[lag == 0] = 1.0
        t0s.append(float(np.sum(rr * m)))
        curve.append(float(np.sum(rr * a1)))
    curve, t0s = np.asarray(curve), np.asarray(t0s)
    # no shrinkage of rho towards 0 (it left intervals too narrow at AR 0.5); its noise goes into df below
    target = (c1 - b1) / (c0 - b0)
    ratio = curve / t0s
    rho = 0.0 if target <= ratio[0] else float(np.interp(min(target, ratio[-1]), ratio, RHO_GRID))
    return rho, t0s


def _satterthwaite_df(phi: float, v: float, a: float, rho: float, dfr: int, periods: int, groups: int) -> float:
    """Degrees of freedom of the dispersion of a total over ordered periods, carrying the
    uncertainty of ``rho`` (Satterthwaite 1946)."""
    from .dispersion import RHO_GRID, correlation_factor

    # A dozen months say little about rho, and a rho estimated too low makes the interval too
    # narrow (13% false positives at AR 0.5 before this step; benchmarks/calib_rates.py). Its
    # uncertainty is carried into the degrees of freedom (Satterthwaite 1946):
    # Var(phi_L) = A^2 Var(v) + v^2 Var(A), Var(v) = 2 (1 + v)^2 / df, and Var(A) by the delta
    # method with Bartlett's Var(r_1) = (1 - r_1^2) / n for the lag-1 autocorrelation r_1 = w rho of
    # the n = (groups - 1) x periods independent contrasts, divided by the share of extra variation
    # w = v / (1 + v) squared (rho = r_1 / w).
    n_contrast = max((groups - 1) * periods, 1)
    w = v / (1.0 + v)
    var_rho = (1.0 - (w * rho) ** 2) / (n_contrast * max(w, 1e-9) ** 2)
    lo_r, hi_r = max(rho - 0.05, 0.0), min(rho + 0.05, float(RHO_GRID[-1]))
    slope = (correlation_factor(hi_r, periods) - correlation_factor(lo_r, periods)) / (hi_r - lo_r)
    # A lies between 1 and A(0.9), so its variance is at most (A(0.9) - 1)^2 / 4 (Popoviciu); the
    # delta method overstates it when w is small (rho then wild, but phi_L = 1 + v A barely moves)
    var_a = min(slope * slope * var_rho, (correlation_factor(float(RHO_GRID[-1]), periods) - 1.0) ** 2 / 4.0)
    var_l = a * a * 2.0 * (1.0 + v) ** 2 / dfr + v * v * var_a
    return float(min(max(2.0 * phi * phi / var_l, 1.0), dfr))


# ----------------------------------------------------------------------------
# find rate by group
# ----------------------------------------------------------------------------
def _as_outcome(values: pd.Series) -> pd.Series:
    mapping = {"true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0, "yes": 1.0, "no": 0.0}
    if values.dtype == bool:
        return values.astype(float)
    out = values.map(lambda v: np.nan if pd.isna(v) else mapping.get(str(v).strip().casefold(), "bad"))
    if (out == "bad").any():
        bad = values[out == "bad"].unique()[:3].tolist()
        raise ValueError(f"outcome values must be True/False (or 1/0); found {bad}")
    return out.astype(float)


def find_rate_by_group(
    data: pd.DataFrame,
    group: str,
    outcome: str = "Outcome linked to object of search",
    searches: str | None = None,
    reference: str = "White",
    unknown=UNKNOWN_LABELS,
    confidence: float = 0.95,
    small_number: int = 5,
) -> pd.DataFrame:
    """Find rate (searches whose outcome was linked to the object) by group.

    A lower find rate for a group than for the reference group suggests the
    group is searched on weaker grounds (a lower threshold for searching).

    Parameters
    ----------
    data : DataFrame
        Either one row per search (data.police.uk stop-and-search file), with
        ``outcome`` a True/False column; or one row per group with
        ``outcome`` the number of finds and ``searches`` the number of
        searches.
    group : str
        Column with the group (e.g. ``"Officer-defined ethnicity"``).
    outcome : str, default "Outcome linked to object of search"
        True/False column (row data) or count of finds (aggregated data).
        Searches with a missing outcome are excluded and counted in
        ``missing_outcome``.
    searches : str, optional
        Column with number of searches (aggregated data only).
    reference : str, default "White"
        Comparison group.
    unknown : iterable of str
        Labels meaning group not known; reported, not compared.
    confidence : float, default 0.95
    small_number : int, default 5
        Groups with fewer searches than this are flagged.

    Returns
    -------
    DataFrame
        One row per group: ``group``, ``searches``, ``finds``,
        ``missing_outcome``, ``value`` (find rate, 0-1), ``lower``, ``upper``
        (Wilson), ``difference`` (value minus the reference's),
        ``difference_lower``, ``difference_upper`` (Newcombe hybrid score),
        ``ratio``, ``ratio_lower``, ``ratio_upper`` (score interval for the
        ratio of proportions), ``p_value`` (Fisher's exact test),
        ``small_number``, ``unknown``, ``confidence``, ``method``,
        ``sentence``.

    Notes
    -----
    Uses :func:`statsmodels.stats.proportion.confint_proportions_2indep`
    (``"newcomb"`` for the difference, ``"score"`` for the ratio) and
    :func:`scipy.stats.fisher_exact`. The find rate reflects recording
    practice as well as searching practice; compare forces with care.

    References
    ----------
    Newcombe RG (1998). Stat Med 17:873-890.
    Miettinen O, Nurminen M (1985). Comparative analysis of two rates.
    Stat Med 4:213-226.
    Wilson EB (1927). J Am Stat Assoc 22:209-212.
    """
    _need_columns(data, group=group, outcome=outcome, searches=searches)
    confidence = check_confidence(confidence)
    agg = _count_finds(data, group, outcome, searches, reference, unknown)
    ci = proportion_ci(agg["finds"], agg["searches"], confidence=confidence)
    agg["value"], agg["lower"], agg["upper"] = ci["value"], ci["lower"], ci["upper"]
    ref = agg[agg["group"] == reference].iloc[0]
    cols = ["difference", "difference_lower", "difference_upper", "ratio", "ratio_lower", "ratio_upper", "p_value"]
    _compare_find_rates(agg, ref, reference, cols, confidence)
    agg["small_number"] = agg["searches"] < small_number
    agg["confidence"] = confidence
    agg["method"] = "wilson; newcombe difference; score ratio; fisher exact"
    agg["sentence"] = _find_rate_sentences(agg, ref, reference, confidence, small_number)
    order = ["group", "searches", "finds", "missing_outcome", "value", "lower", "upper", *cols, "small_number",
             "unknown", "confidence", "method", "sentence"]
    return agg[order]


def _count_finds(data: pd.DataFrame, group: str, outcome: str, searches: str | None, reference: str,
                 unknown) -> pd.DataFrame:
    """Searches, finds and missing outcomes per group (one row per search, or per group with a
    ``searches`` column), known groups first; only groups with searches; checks the reference."""
    labels = data[group]
    if searches is None:
        y = _as_outcome(data[outcome])
        df = pd.DataFrame({"group": labels, "find": y, "one": 1.0, "missing": y.isna().astype(float)})
        df["group"] = df["group"].where(~df["group"].isna(), "Unknown")
        agg = df.groupby("group", sort=False).agg(
            searches=("find", "count"), finds=("find", "sum"), missing_outcome=("missing", "sum")
        )
    else:
        df = pd.DataFrame(
            {
                "group": labels.where(~labels.isna(), "Unknown"),
                "finds": _numeric_column(data, outcome, "outcome"),
                "searches": _numeric_column(data, searches, "searches"),
            }
        )
        agg = df.groupby("group", sort=False).agg(searches=("searches", "sum"), finds=("finds", "sum"))
        agg["missing_outcome"] = 0.0
    agg = agg.reset_index()
    if (agg["finds"] > agg["searches"]).any() or (agg["finds"] < 0).any():
        raise ValueError("finds must lie between 0 and the number of searches for every group")
    agg["unknown"] = _is_unknown(agg["group"], unknown)
    agg = pd.concat([agg[~agg["unknown"]], agg[agg["unknown"]]], ignore_index=True)
    if reference not in set(agg.loc[~agg["unknown"], "group"]):
        raise ValueError(f"reference={reference!r} is not a known group in column {group!r}")
    agg = agg[agg["searches"] > 0].reset_index(drop=True)
    if reference not in set(agg["group"]):
        raise ValueError(f"reference={reference!r} has no searches with a recorded outcome")
    return agg


def _compare_find_rates(agg: pd.DataFrame, ref: pd.Series, reference: str, cols: list[str],
                        confidence: float) -> None:
    """Fill (in place) each known group's difference (Newcombe) and ratio (score) of find rates
    with the reference's, and Fisher's exact p-value."""
    from statsmodels.stats.proportion import confint_proportions_2indep

    alpha = 1 - confidence
    for c in cols:
        agg[c] = np.nan
    for i, row in agg.iterrows():
        if row["unknown"] or row["group"] == reference:
            continue
        x1, n1, x2, n2 = row["finds"], row["searches"], ref["finds"], ref["searches"]
        d_lo, d_hi = confint_proportions_2indep(x1, n1, x2, n2, method="newcomb", compare="diff", alpha=alpha)
        agg.loc[i, ["difference", "difference_lower", "difference_upper"]] = [x1 / n1 - x2 / n2, d_lo, d_hi]
        if x2 > 0:
            r_lo, r_hi = confint_proportions_2indep(x1, n1, x2, n2, method="score", compare="ratio", alpha=alpha)
            agg.loc[i, ["ratio", "ratio_lower", "ratio_upper"]] = [(x1 / n1) / (x2 / n2), max(r_lo, 0.0), r_hi]
        table = [[int(x1), int(n1 - x1)], [int(x2), int(n2 - x2)]]
        agg.loc[i, "p_value"] = stats.fisher_exact(table).pvalue
    is_ref = agg["group"] == reference
    agg.loc[is_ref, ["difference", "ratio"]] = [0.0, 1.0]


def _find_rate_sentences(agg: pd.DataFrame, ref: pd.Series, reference: str, confidence: float,
                         small_number: int) -> list[str]:
    """One plain sentence per row of :func:`find_rate_by_group`."""
    conf_pct = f"{confidence * 100:g}%"
    sentences = []
    for _, row in agg.iterrows():
        if row["unknown"]:
            sentences.append(
                f"{row['group']}: {row['searches']:,.0f} searches with a recorded outcome; not compared."
            )
            continue
        s = (
            f"Searches of {describe_group(row['group'])} found what was searched for in {row['value']:.1%} of cases "
            f"({conf_pct} CI {row['lower']:.1%} to {row['upper']:.1%})"
        )
        if row["group"] == reference:
            s += "; reference group."
        else:
            diff = row["difference"] * 100
            word = "lower" if diff < 0 else "higher"
            s += (
                f", {abs(diff):.1f} percentage points {word} than for {describe_group(reference)} ({ref['value']:.1%}; "
                f"{conf_pct} CI of the difference {row['difference_lower'] * 100:.1f} to "
                f"{row['difference_upper'] * 100:.1f} points)."
            )
            if row["difference_upper"] < 0:
                s += " A lower find rate suggests a lower threshold for searching this group."
            elif row["difference_lower"] <= 0 <= row["difference_upper"]:
                s += f" The difference could be chance ({format_p_value(row['p_value'])})."
        if row["small_number"]:
            s += f" Fewer than {small_number} searches: treat with caution."
        sentences.append(s)
    return sentences


# ----------------------------------------------------------------------------
# location quotients
# ----------------------------------------------------------------------------
def location_quotients(
    data: pd.DataFrame,
    area: str,
    count: str,
    total: str,
    wider_count: float | None = None,
    wider_total: float | None = None,
    within: bool = True,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Location quotient of one crime type in each area, with a CI.

    ``LQ_i = (c_i / t_i) / (C / T)``: the share of area i's crime that is of
    this type, relative to the same share in the wider area. LQ > 1 means
    the type is over-represented in the area's crime mix.

    Parameters
    ----------
    data : DataFrame
        One row per area (rows for the same area are summed).
    area, count, total : str
        Columns: area label, count of the crime type (c_i) and count of all
        crime (t_i) in the area.
    wider_count, wider_total : float, optional
        C and T for the wider area (e.g. the force or England and Wales).
        Default: the sums over ``data``.
    within : bool, default True
        Whether each area is part of the wider area (so its counts are in C
        and T). Ignored (treated as True) when the wider totals are the sums
        over ``data``.
    confidence : float, default 0.95

    Returns
    -------
    DataFrame
        One row per area: ``area``, ``count``, ``total``, ``share`` (c/t),
        ``value`` (the LQ), ``lower``, ``upper``, ``confidence``, ``method``.

    Notes
    -----
    Delta-method interval on the log scale, treating c_i as binomial given
    t_i (Moineddin et al. 2003):
    ``var(log LQ) = (1 - p_i)/c_i + V_C - 2 (1 - p_i)/C`` where the last
    (covariance) term applies when the area is inside the wider area, and
    ``V_C = sum_j c_j (1 - p_j) / C^2`` when the areas make up the wider
    area, else the conservative ``(1 - P)/C`` with ``P = C/T``. Without the
    covariance term the interval is too wide for areas that make up a large
    part of the wider area. With ``c_i = 0`` the LQ is 0, the lower limit 0
    and the upper limit uses the exact Poisson upper limit for a zero count
    (3.69 at 95%) with C/T treated as fixed.

    References
    ----------
    Moineddin R, Beyene J, Boyle E (2003). On the location quotient
    confidence interval. Geographical Analysis 35:249-256.
    Brantingham PL, Brantingham PJ (1998). Mapping crime for analytic
    purposes: location quotients, counts and rates. Crime Mapping and Crime
    Prevention 8:263-288.
    """
    _need_columns(data, area=area, count=count, total=total)
    confidence = check_confidence(confidence)
    agg, big_c, big_t, from_data = _read_area_counts(data, area, count, total, wider_count, wider_total)
    c, t = agg["count"].to_numpy(), agg["total"].to_numpy()
    p, lq, lower, upper = _quotient_interval(c, t, big_c, big_t, from_data, within, confidence)
    out = pd.DataFrame(
        {
            "area": agg["area"],
            "count": c,
            "total": t,
            "share": p,
            "value": lq,
            "lower": lower,
            "upper": upper,
            "confidence": confidence,
            "method": "delta method (log scale)",
        }
    )
    return standardise(out, sentence=lambda r: default_sentence(r, f"Location quotient of {r['area']}"))


def _read_area_counts(data: pd.DataFrame, area: str, count: str, total: str, wider_count, wider_total):
    """Counts and totals per area, checked, and the wider area's count and total (the sums of the
    areas unless given): ``(per area, C, T, from_data)``."""
    df = pd.DataFrame(
        {"area": data[area], "count": _numeric_column(data, count, "count"),
         "total": _numeric_column(data, total, "total")}
    )
    agg = df.groupby("area", sort=False).sum().reset_index()
    c, t = agg["count"].to_numpy(), agg["total"].to_numpy()
    if (c < 0).any() or (t <= 0).any() or (c > t).any():
        raise ValueError("count must be between 0 and total, and total greater than zero, for every area")
    from_data = wider_count is None and wider_total is None
    if (wider_count is None) != (wider_total is None):
        raise ValueError("give both wider_count and wider_total, or neither")
    big_c = c.sum() if from_data else check_positive_scalar(wider_count, "wider_count")
    big_t = t.sum() if from_data else check_positive_scalar(wider_total, "wider_total")
    if big_c > big_t:
        raise ValueError("wider_count must not exceed wider_total")
    return agg, big_c, big_t, from_data


def _quotient_interval(c: np.ndarray, t: np.ndarray, big_c: float, big_t: float, from_data: bool, within: bool,
                       confidence: float):
    """Each area's share, location quotient and its delta-method interval on the log scale (an
    exact Poisson upper limit for a zero count): ``(share, lq, lower, upper)``."""
    big_p = big_c / big_t
    p = c / t
    with np.errstate(divide="ignore", invalid="ignore"):
        lq = p / big_p
        v_c = (c * (1 - p)).sum() / big_c**2 if from_data else (1 - big_p) / big_c
        var = (1 - p) / c + v_c
        if from_data or within:
            var = var - 2 * (1 - p) / big_c
        se = np.sqrt(np.maximum(var, 0))
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    zero_upper = stats.chi2.ppf(1 - (1 - confidence) / 2, 2) / 2 / t / big_p
    with np.errstate(invalid="ignore"):
        lower = np.where(c > 0, lq * np.exp(-z * se), 0.0)
        upper = np.where(c > 0, lq * np.exp(z * se), zero_upper)
    return p, lq, lower, upper


# ----------------------------------------------------------------------------
# deprivation gradient
# ----------------------------------------------------------------------------
class _SummaryTable(pd.DataFrame):
    """A summary table that also answers the contract's ``.summary()``: calling it gives the
    text (its sentences), while ``result.summary`` stays the DataFrame it always was."""

    @property
    def _constructor(self):
        return pd.DataFrame

    def __call__(self) -> str:
        return " ".join(str(s) for s in self["sentence"])


class DeprivationGradient(NamedTuple):
    """Result of :func:`deprivation_gradient`: ``by_decile`` and ``summary`` tables.

    Keeps the result contract (:mod:`csp_analysis.contract`): ``.table`` is the summary
    table, ``.summary()`` its sentences as text (``.summary`` without the call is still the
    table) and ``.plot(ax=None)`` draws the rate by decile with its intervals.
    """

    by_decile: pd.DataFrame
    summary: pd.DataFrame

    @property
    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.summary)

    def plot(self, ax=None):
        """Rate per decile (most deprived first) with its over-dispersion-adjusted interval."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        d = self.by_decile
        lo = d["rate_lower_adjusted"] if "rate_lower_adjusted" in d else d["lower"]
        hi = d["rate_upper_adjusted"] if "rate_upper_adjusted" in d else d["upper"]
        x = np.arange(len(d))
        ax.errorbar(x, d["value"], yerr=[d["value"] - lo, np.where(np.isfinite(hi), hi - d["value"], 0)],
                    fmt="o", capsize=3)
        ax.set_xticks(x, [str(v) for v in d["decile"]])
        ax.set_xlabel("IMD decile (1 = most deprived)")
        ax.set_ylabel("Rate")
        return ax


def _quasi_poisson(y, x, log_offset, confidence):
    """Poisson GLM with log offset; SEs inflated by Pearson dispersion when > 1."""
    import statsmodels.api as sm

    design = sm.add_constant(np.asarray(x, dtype=float), has_constant="add")
    fit = sm.GLM(y, design, family=sm.families.Poisson(), offset=log_offset).fit()
    dispersion = fit.pearson_chi2 / fit.df_resid if fit.df_resid > 0 else np.nan
    scale = max(1.0, dispersion) if np.isfinite(dispersion) else 1.0
    beta = fit.params[1]
    se = fit.bse[1] * math.sqrt(scale)
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    p = 2 * stats.norm.sf(abs(beta / se))
    return math.exp(beta), math.exp(beta - z * se), math.exp(beta + z * se), p, dispersion


def _decile_factor_quasi_poisson(y, levels, log_offset, reference, confidence):
    """Rate ratios of each level to ``reference`` from a quasi-Poisson GLM with a factor.

    A Poisson GLM of the small-area counts with one indicator per level (the reference
    left out) and a log population offset; standard errors are multiplied by the square
    root of the Pearson dispersion ``X^2 / df`` when it exceeds 1, as in
    :func:`_quasi_poisson`. With one row per level (no residual degrees of freedom) the
    dispersion cannot be estimated and the Poisson standard errors are used.

    Returns (ratios, lower, upper, p, log_rate_se, dispersion): dicts keyed by level (the
    reference has ratio 1 and NaN limits), and the quasi-Poisson standard error of each
    level's log rate (for the rate intervals).
    """
    import statsmodels.api as sm

    levels = np.asarray(levels)
    others = [lv for lv in np.unique(levels) if lv != reference]
    design = np.column_stack([np.ones(len(levels))] + [(levels == lv).astype(float) for lv in others])
    fit = sm.GLM(np.asarray(y, dtype=float), design, family=sm.families.Poisson(), offset=log_offset).fit()
    dispersion = fit.pearson_chi2 / fit.df_resid if fit.df_resid > 0 else np.nan
    scale = max(1.0, dispersion) if np.isfinite(dispersion) else 1.0
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    cov = np.asarray(fit.cov_params()) * scale
    ratios, lower, upper, pvals, se_rate = {reference: 1.0}, {reference: np.nan}, {reference: np.nan}, \
        {reference: np.nan}, {reference: math.sqrt(cov[0, 0])}
    for j, lv in enumerate(others, start=1):
        b, se = float(fit.params[j]), math.sqrt(cov[j, j])
        ratios[lv], lower[lv], upper[lv] = math.exp(b), math.exp(b - z * se), math.exp(b + z * se)
        pvals[lv] = float(2 * stats.norm.sf(abs(b / se)))
        se_rate[lv] = math.sqrt(cov[0, 0] + cov[j, j] + 2 * cov[0, j])
    return ratios, lower, upper, pvals, se_rate, dispersion


def deprivation_gradient(
    data: pd.DataFrame,
    decile: str,
    count: str,
    population: str,
    confidence: float = 0.95,
    multiplier: float = 1000,
    most_deprived: int = 1,
) -> DeprivationGradient:
    """Rates by deprivation decile, the gradient and the relative index of inequality.

    Parameters
    ----------
    data : DataFrame
        One row per small area (e.g. LSOA) or per decile.
    decile : str
        Column with the deprivation decile (1-10, or any ordered integer
        groups such as quintiles).
    count, population : str
        Columns with event counts and resident population.
    confidence : float, default 0.95
    multiplier : float, default 1000
        Rates per this many residents.
    most_deprived : int, default 1
        Value of ``decile`` for the most deprived group (1 in the English
        Indices of Deprivation).

    Returns
    -------
    DeprivationGradient
        ``by_decile``: one row per decile, most deprived first, with
        ``decile``, ``count``, ``population``, ``population_share``,
        ``ridit``, ``value`` (rate), ``lower``, ``upper`` (exact / Byar's:
        Poisson, so too narrow when small areas vary more than chance),
        ``confidence``, ``method``; and, allowing for that extra variation,
        ``rate_lower_adjusted``, ``rate_upper_adjusted`` (quasi-Poisson rate
        interval), ``ratio``, ``ratio_lower``, ``ratio_upper``, ``ratio_p_value``
        (rate ratio to the least deprived group, 1 for that group) and
        ``dispersion`` (Pearson dispersion of the decile-factor model).
        ``summary``: two rows, ``"rate ratio per decile"`` (the rate
        multiplies by this for each step towards more deprived) and
        ``"relative index of inequality"``, with ``measure``, ``value``,
        ``lower``, ``upper``, ``p_value``, ``dispersion``, ``confidence``,
        ``method`` and ``sentence``.

    Notes
    -----
    Both measures come from a Poisson GLM of the counts (at the rows
    given) with ``log(population)`` offset. The gradient uses the decile
    step (0 = least deprived) as the covariate. The RII uses each decile's
    ridit score, the midpoint of its cumulative population share when
    deciles are ordered from least to most deprived, so
    ``RII = exp(beta)`` is the modelled rate at the most deprived end of the
    population divided by that at the least deprived end (Mackenbach &
    Kunst 1997; the PHE Segment Tool and ``phe_sii`` use the same ridit
    construction). Standard errors are multiplied by the square root of the
    Pearson dispersion when it exceeds 1 (quasi-Poisson), because small-area
    crime counts are usually over-dispersed. The decile ratios and adjusted
    rate intervals come the same way from a quasi-Poisson GLM with a factor
    for the decile (least deprived = reference): with small areas in each
    decile, the Poisson intervals (``lower``, ``upper``) treat the areas'
    differences as if they were chance alone and can be many times too narrow. Intervals are Wald intervals
    on the log scale. The model assumes a log-linear gradient; check the
    decile rates for departures.

    References
    ----------
    Mackenbach JP, Kunst AE (1997). Soc Sci Med 44:757-771.
    Public Health England. Technical guide: calculating the slope index of
    inequality and relative index of inequality (Segment Tool).
    McCullagh P, Nelder JA (1989). Generalized Linear Models, 2nd ed.
    (quasi-likelihood dispersion).
    """
    _need_columns(data, decile=decile, count=count, population=population)
    confidence = check_confidence(confidence)
    multiplier = check_positive_scalar(multiplier, "multiplier")
    y, pop, dec, ordered, step = _read_deciles(data, count, population, decile, most_deprived)
    log_off = np.log(pop.to_numpy())
    table = _decile_rates(y, pop, dec, ordered, log_off, confidence, multiplier)
    by_decile = table.iloc[::-1].reset_index()
    by_decile["decile"] = by_decile["decile"].astype("int64")
    ridit = dec.map(table["ridit"]).to_numpy(dtype=float)
    summary = _gradient_summary(y, step, ridit, log_off, confidence)
    by_decile = standardise(by_decile, sentence=lambda r: default_sentence(r, f"Rate in decile {r['decile']}"))
    return DeprivationGradient(by_decile=by_decile, summary=_SummaryTable(summary))


def _read_deciles(data: pd.DataFrame, count: str, population: str, decile: str, most_deprived: int):
    """Counts, populations and deciles, checked; the deciles ordered least deprived first and
    each row's step (0 = least deprived)."""
    y = _numeric_column(data, count, "count")
    pop = _numeric_column(data, population, "population")
    dec = _numeric_column(data, decile, "decile")
    if y.isna().any() or pop.isna().any() or dec.isna().any():
        raise ValueError("count, population and decile must not contain missing values")
    if (y < 0).any() or (pop <= 0).any():
        raise ValueError("count must be non-negative and population greater than zero")
    if (np.mod(dec, 1) != 0).any():
        raise ValueError("decile must contain whole numbers")
    levels = np.sort(dec.unique())
    if len(levels) < 3:
        raise ValueError("decile needs at least three distinct groups to estimate a gradient")
    if most_deprived not in (levels.min(), levels.max()):
        raise ValueError(f"most_deprived={most_deprived!r} must be the lowest or highest value of {decile!r}")
    # step: 0 = least deprived ... k-1 = most deprived
    ordered = levels[::-1] if most_deprived == levels.min() else levels  # least deprived first
    step_of = {lvl: i for i, lvl in enumerate(ordered)}
    step = dec.map(step_of).to_numpy(dtype=float)
    return y, pop, dec, ordered, step


def _decile_rates(y: pd.Series, pop: pd.Series, dec: pd.Series, ordered: np.ndarray, log_off: np.ndarray,
                  confidence: float, multiplier: float) -> pd.DataFrame:
    """Per decile (least deprived first): population share, ridit, rate with Poisson and
    dispersion-adjusted limits, and the rate ratio to the least deprived decile."""
    table = (
        pd.DataFrame({"decile": dec, "count": y, "population": pop})
        .groupby("decile")
        .sum()
        .reindex(ordered)
    )
    share = table["population"] / table["population"].sum()
    table["population_share"] = share
    table["ridit"] = share.cumsum() - share / 2
    rc = rate_ci(table["count"], table["population"], multiplier=multiplier, confidence=confidence)
    table["value"], table["lower"], table["upper"] = rc["value"], rc["lower"], rc["upper"]
    table["confidence"] = confidence
    table["method"] = rc["method"]
    ratios, r_lo, r_hi, r_p, se_rate, disp_f = _decile_factor_quasi_poisson(
        y.to_numpy(), dec.to_numpy(), log_off, ordered[0], confidence)
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    with np.errstate(divide="ignore"):
        log_rate = np.log(table["count"] / table["population"])
    se = table.index.map(se_rate).to_numpy(dtype=float)
    zero = (table["count"] == 0).to_numpy()
    table["rate_lower_adjusted"] = np.where(zero, 0.0, np.exp(log_rate - z * se) * multiplier)
    table["rate_upper_adjusted"] = np.where(zero, np.nan, np.exp(log_rate + z * se) * multiplier)
    table["ratio"] = table.index.map(ratios).to_numpy(dtype=float)
    table["ratio_lower"] = table.index.map(r_lo).to_numpy(dtype=float)
    table["ratio_upper"] = table.index.map(r_hi).to_numpy(dtype=float)
    table["ratio_p_value"] = table.index.map(r_p).to_numpy(dtype=float)
    table["dispersion"] = disp_f
    return table


def _gradient_summary(y: pd.Series, step: np.ndarray, ridit: np.ndarray, log_off: np.ndarray,
                      confidence: float) -> pd.DataFrame:
    """The rate ratio per decile and the relative index of inequality (quasi-Poisson GLMs), with
    their sentences."""
    rows = []
    for measure, x in (("rate ratio per decile", step), ("relative index of inequality", ridit)):
        val, lo, hi, p, disp = _quasi_poisson(y.to_numpy(), x, log_off, confidence)
        rows.append(
            {"measure": measure, "value": val, "lower": lo, "upper": hi, "p_value": p, "dispersion": disp,
             "confidence": confidence, "method": "quasi-Poisson GLM, log population offset"}
        )
    summary = pd.DataFrame(rows)
    conf_pct = f"{confidence * 100:g}%"
    g, r = summary.iloc[0], summary.iloc[1]
    trend = "rise" if g["lower"] > 1 else "fall" if g["upper"] < 1 else "show no clear trend"
    summary["sentence"] = [
        (
            f"Rates {trend} with deprivation: each decile towards the most deprived multiplies the rate by "
            f"{g['value']:.2f} ({conf_pct} CI {g['lower']:.2f} to {g['upper']:.2f})."
        ),
        (
            f"Relative index of inequality {r['value']:.2f} ({conf_pct} CI {r['lower']:.2f} to {r['upper']:.2f}): "
            f"the modelled rate at the most deprived end is {r['value']:.2f} times that at the least deprived end."
        ),
    ]
    return summary


# ----------------------------------------------------------------------------
# share of burden
# ----------------------------------------------------------------------------
def share_of_burden(
    data: pd.DataFrame,
    place: str,
    count: str,
    population: str,
    top_fraction: float = 0.1,
    rank_by: str = "rate",
    place_word: str = "places",
) -> pd.DataFrame:
    """Share of crime in the most affected places against their share of residents.

    Parameters
    ----------
    data : DataFrame
        One row per place (rows for the same place are summed).
    place, count, population : str
        Columns: place label, count of crime, resident population.
    top_fraction : float, default 0.1
        Fraction of places counted as "most affected" (rounded up to a whole
        number of places, at least one).
    rank_by : {"rate", "count"}, default "rate"
        Rank places by crime per resident or by crime count.
    place_word : str, default "places"
        Word used in the sentence (e.g. "neighbourhoods").

    Returns
    -------
    DataFrame
        One row: ``top_fraction``, ``n_places``, ``n_top``, ``count_top``,
        ``count_total``, ``population_top``, ``population_total``,
        ``share_of_count``, ``share_of_population``, ``concentration``
        (share of count / share of population), ``rank_by``, ``top_places``
        (list of labels) and ``sentence``.

    Notes
    -----
    Descriptive only, with no interval. Places picked because their
    observed rate is highest are partly picked for chance highs, so in
    small places (few events) the concentration is overstated; prefer
    larger units or pooled years, or rank by an independent period.

    References
    ----------
    Weisburd D (2015). The law of crime concentration and the criminology
    of place. Criminology 53:133-157.
    """
    _need_columns(data, place=place, count=count, population=population)
    if not 0 < top_fraction <= 1:
        raise ValueError(f"top_fraction must be in (0, 1], got {top_fraction!r}")
    if rank_by not in ("rate", "count"):
        raise ValueError(f"rank_by must be 'rate' or 'count', got {rank_by!r}")
    agg = _read_place_populations(data, place, count, population)
    key = ["rate", "count"] if rank_by == "rate" else ["count", "rate"]
    agg = agg.sort_values(key, ascending=False, kind="mergesort")
    n = len(agg)
    n_top = max(1, math.ceil(top_fraction * n - 1e-9))
    top = agg.iloc[:n_top]
    count_total, pop_total = agg["count"].sum(), agg["population"].sum()
    share_c = top["count"].sum() / count_total if count_total > 0 else np.nan
    share_p = top["population"].sum() / pop_total
    ranked = "highest rates" if rank_by == "rate" else "most crime"
    sentence = (
        f"The {n_top / n:.0%} of {place_word} with the {ranked} ({n_top} of {n}) had {share_c:.1%} of the crime "
        f"but {share_p:.1%} of residents."
    )
    out = pd.DataFrame(
        [
            {
                "top_fraction": top_fraction,
                "n_places": n,
                "n_top": n_top,
                "count_top": top["count"].sum(),
                "count_total": count_total,
                "population_top": top["population"].sum(),
                "population_total": pop_total,
                "share_of_count": share_c,
                "share_of_population": share_p,
                "concentration": share_c / share_p,
                "rank_by": rank_by,
                "top_places": top["place"].tolist(),
                "sentence": sentence,
            }
        ]
    )
    # a descriptive share: no interval, no test (lower/upper/confidence missing)
    return standardise(out, value="share_of_count", lower=None, upper=None, confidence=None,
                       method=f"share of burden (places ranked by {ranked})")


def _read_place_populations(data: pd.DataFrame, place: str, count: str, population: str) -> pd.DataFrame:
    """Counts, populations and rates per place, checked."""
    df = pd.DataFrame(
        {"place": data[place], "count": _numeric_column(data, count, "count"),
         "population": _numeric_column(data, population, "population")}
    )
    if df[["count", "population"]].isna().any().any():
        raise ValueError("count and population must not contain missing values")
    agg = df.groupby("place", sort=False).sum().reset_index()
    if (agg["count"] < 0).any() or (agg["population"] <= 0).any():
        raise ValueError("count must be non-negative and population greater than zero")
    agg["rate"] = agg["count"] / agg["population"]
    return agg


# ----------------------------------------------------------------------------
# ethnicity mapping
# ----------------------------------------------------------------------------
_PREFIXES = (
    # Census 2021 (TS021) column names
    ("asian, asian british or asian welsh:", "Asian"),
    ("black, black british, black welsh, caribbean or african:", "Black"),
    ("mixed or multiple ethnic groups:", "Mixed"),
    ("white:", "White"),
    ("other ethnic group:", "Other"),
    # Census 2011 style and data.police.uk "Self-defined ethnicity" (2011 18+1 categories)
    ("asian/asian british", "Asian"),
    ("black/african/caribbean/black british", "Black"),
    ("mixed/multiple ethnic groups", "Mixed"),
    ("white -", "White"),
    ("other ethnic group -", "Other"),
)

_BARE = {
    # broad groups (officer-defined ethnicity has no Mixed)
    "white": "White", "black": "Black", "asian": "Asian", "mixed": "Mixed", "other": "Other",
    "black or black british": "Black", "asian or asian british": "Asian",
    "mixed or multiple ethnic groups": "Mixed", "other ethnic group": "Other",
    # GOV.UK Ethnicity facts and figures labels
    "white british": "White", "white irish": "White", "any other white background": "White",
    "gypsy or irish traveller": "White", "roma": "White", "white other": "White",
    "indian": "Asian", "pakistani": "Asian", "bangladeshi": "Asian", "chinese": "Asian",
    "any other asian background": "Asian",
    "black african": "Black", "black caribbean": "Black", "any other black background": "Black",
    "mixed white and asian": "Mixed", "mixed white and black african": "Mixed",
    "mixed white and black caribbean": "Mixed", "any other mixed/multiple ethnic background": "Mixed",
    "any other mixed background": "Mixed",
    "arab": "Other", "any other ethnic group": "Other", "other inc chinese": "Other",
}


def _broad_one(label, unknown_keys, errors):
    if label is None or (isinstance(label, float) and np.isnan(label)) or label is pd.NA:
        return "Unknown"
    text = re.sub(r"\s+", " ", str(label)).strip().casefold()
    if text in unknown_keys or text in ("nan", "none", "null", "n/a"):
        return "Unknown"
    if text.endswith("not stated") or text.endswith("not known"):
        return "Unknown"
    for prefix, broad in _PREFIXES:
        if text.startswith(prefix):
            return broad
    if text in _BARE:
        return _BARE[text]
    if errors == "raise":
        raise ValueError(f"label {label!r} is not a recognised ethnic group label")
    return "Unknown"


def broad_ethnic_group(label, errors: str = "raise"):
    """Map an ethnicity label to White, Black, Asian, Mixed, Other or Unknown.

    Parameters
    ----------
    label : str, list, array or Series
        Census 2021 19-category names (e.g. ``"Asian, Asian British or Asian
        Welsh: Bangladeshi"``, ``"White: Roma"``, ``"Other ethnic group:
        Arab"``), data.police.uk ``Self-defined ethnicity`` strings (e.g.
        ``"Asian/Asian British - Pakistani"``), ``Officer-defined ethnicity``
        values (``White``, ``Black``, ``Asian``, ``Other``) or GOV.UK
        Ethnicity facts and figures labels (``"Black Caribbean"``).
    errors : {"raise", "unknown"}, default "raise"
        What to do with an unrecognised label: raise ValueError, or map it
        to ``"Unknown"``.

    Returns
    -------
    str or Series
        A string for a scalar input, otherwise a Series (index kept).
        Missing values and "Not stated" style labels (including
        ``"Other ethnic group - Not stated"``) are ``"Unknown"``.

    Notes
    -----
    The mapping follows the Census 2021 high-level groups: Chinese is Asian
    and Arab is Other (the Home Office stop-and-search tables adopted this
    from 2019/20; before that they placed Chinese in "Other"). Police
    ``Officer-defined ethnicity`` has no Mixed group, so comparisons with
    census Mixed populations should use self-defined ethnicity, or combine
    Mixed with Other on both sides.

    References
    ----------
    Office for National Statistics (2022). Ethnic group classification,
    Census 2021 (TS021). GOV.UK (2021). List of ethnic groups.
    """
    if errors not in ("raise", "unknown"):
        raise ValueError(f"errors must be 'raise' or 'unknown', got {errors!r}")
    unknown_keys = {u.casefold() for u in UNKNOWN_LABELS}
    if isinstance(label, str) or label is None or (np.isscalar(label) and not isinstance(label, (list, tuple))):
        return _broad_one(label, unknown_keys, errors)
    series = label if isinstance(label, pd.Series) else pd.Series(list(label))
    mapping = {v: _broad_one(v, unknown_keys, errors) for v in series.dropna().unique()}
    return series.map(mapping).fillna("Unknown").rename("broad_group")


def census_population_by_broad_group(census_df: pd.DataFrame) -> pd.DataFrame:
    """Census 2021 population by area and broad ethnic group (long format).

    Parameters
    ----------
    census_df : DataFrame
        The wide Census 2021 ethnic-group table (as in
        ``census2021_ethnic_group_19cat_by_sex_lad_region.csv``): columns
        ``Geography Code``, ``Geography Name``, ``Sex`` and one column per
        ethnic category. Blank cells (zero or suppressed) count as 0.

    Returns
    -------
    DataFrame
        Columns ``geography_code``, ``geography_name``, ``broad_group``
        (White, Black, Asian, Mixed, Other) and ``population``, summed over
        sexes and categories; one row per area and group.

    Notes
    -----
    Columns named like totals ("Total: ...", "All usual residents") are
    ignored. If the table has a total row for persons (Sex such as "All persons" or
    "Total"), only those rows are used, so persons are not counted twice.
    """
    if not isinstance(census_df, pd.DataFrame):
        raise ValueError("census_df must be a pandas DataFrame")
    df = census_df.rename(columns=lambda c: str(c).lstrip("\ufeff").strip())
    id_cols = ["Geography Code", "Geography Name", "Sex"]
    missing = [c for c in id_cols if c not in df.columns]
    if missing:
        raise ValueError(f"census_df is missing columns {missing}")
    sex = df["Sex"].astype(str).str.strip().str.casefold()
    totals = sex.isin(["all persons", "all", "total", "persons", "all usual residents"])
    if totals.any():
        df = df[totals]
    categories = [
        c for c in df.columns
        if c not in id_cols and not c.casefold().startswith(("total", "all usual residents", "all persons"))
    ]
    if not categories:
        raise ValueError("census_df has no ethnic-group columns")
    groups = {c: broad_ethnic_group(c) for c in categories}
    bad = [c for c, g in groups.items() if g not in BROAD_GROUPS]
    if bad:
        raise ValueError(f"columns {bad} do not map to a broad ethnic group")
    values = df[categories].apply(pd.to_numeric, errors="coerce").fillna(0)
    long = pd.concat([df[["Geography Code", "Geography Name"]], values], axis=1).melt(
        id_vars=["Geography Code", "Geography Name"], var_name="category", value_name="population"
    )
    long["broad_group"] = long["category"].map(groups)
    out = (
        long.groupby(["Geography Code", "Geography Name", "broad_group"], sort=False)["population"]
        .sum()
        .reset_index()
        .rename(columns={"Geography Code": "geography_code", "Geography Name": "geography_name"})
    )
    out["broad_group"] = pd.Categorical(out["broad_group"], categories=BROAD_GROUPS, ordered=True)
    out = out.sort_values(["geography_code", "broad_group"], kind="mergesort").reset_index(drop=True)
    out["broad_group"] = out["broad_group"].astype(str)
    out["population"] = out["population"].round().astype("int64")
    return out


# ----------------------------------------------------------------------------
# small-number suppression
# ----------------------------------------------------------------------------
# one implementation for the package: csp_analysis.suppression (kept importable from here)
from .suppression import determined_cells as _determined_cells, suppress_small_numbers  # noqa: E402,F401
