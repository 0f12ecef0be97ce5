"""Crime concentration at places.

:func:`concentration` summarises how concentrated records are across places
(LSOAs, streets, snap points): the share of records in the top 5% and 10% of
places and the Gini coefficient, with bootstrap confidence intervals.
:func:`top_places` lists the places with most records in two periods, their
change, and which places entered or left the top list.

Sparse counts (fewer records than places) make the ordinary Gini overstate
concentration, because even with equal risk most places must have no record.
Following Bernasco & Steenbeek (2017), the *generalised* Gini compares the
Lorenz curve with the line of maximal equality achievable with ``N`` records in
``n`` places, ``G' = 1 - (n / N)(1 - G)`` when ``N < n`` (and ``G' = G`` otherwise).

References
----------
Bernasco, W. & Steenbeek, W. (2017). More places than crimes: implications for
evaluating the law of crime concentration at place. *Journal of Quantitative
Criminology* 33:451-467.
Steenbeek, W. lorenzgini: R package for the (generalised) Lorenz curve and Gini
coefficient, https://github.com/wsteenbeek/lorenzgini (BCa bootstrap intervals
resampling places).
Efron, B. (1987). Better bootstrap confidence intervals. *JASA* 82:171-185 (BCa).
Weisburd, D. (2015). The law of crime concentration and the criminology of
place. *Criminology* 53:133-157.
"""
from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..contract import default_sentence
from ._utils import check_confidence, confidence_label, format_number, to_float_array

__all__ = ["concentration", "gini", "top_places"]


# ---------------------------------------------------------------------------
# statistics along an axis (vectorised for the bootstrap)
# ---------------------------------------------------------------------------
def _gini_axis(x: np.ndarray, axis: int = -1, generalised: bool = True) -> np.ndarray:
    """(Generalised) Gini of non-negative counts along ``axis``.

    ``G = 2 sum_i i x_(i) / (n sum x) - (n + 1) / n`` with ``x_(i)`` ascending (the
    trapezoid Lorenz-curve Gini, as DescTools::Gini without the small-sample
    factor); generalised: ``1 - max(1, n/N)(1 - G)`` (Bernasco & Steenbeek 2017).
    """
    x = np.moveaxis(np.asarray(x, dtype=float), axis, -1)
    n = x.shape[-1]
    xs = np.sort(x, axis=-1)
    total = xs.sum(axis=-1)
    ranks = np.arange(1, n + 1, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        g = 2.0 * (xs * ranks).sum(axis=-1) / (n * total) - (n + 1.0) / n
        if generalised:
            g = 1.0 - np.maximum(1.0, n / total) * (1.0 - g)
    return g


def _top_share_axis(x: np.ndarray, fraction: float, axis: int = -1) -> np.ndarray:
    """Share of the total held by the top ``fraction`` of places along ``axis``.

    The Lorenz curve read at ``fraction``: with ``k = fraction * n`` places, the
    ``floor(k)`` largest counts plus the fractional part of the next one.
    """
    x = np.moveaxis(np.asarray(x, dtype=float), axis, -1)
    n = x.shape[-1]
    xs = -np.sort(-x, axis=-1)  # descending
    k = fraction * n
    whole = int(math.floor(k + 1e-12))
    part = k - whole
    top = xs[..., :whole].sum(axis=-1)
    if part > 1e-12 and whole < n:
        top = top + part * xs[..., whole]
    with np.errstate(invalid="ignore", divide="ignore"):
        return top / xs.sum(axis=-1)


def _prepare_counts(counts: Any, places_total: Any) -> np.ndarray:
    x = to_float_array(counts, "counts_by_place", allow_nan=False)
    if np.any(x < 0):
        raise ValueError("`counts_by_place` must be non-negative")
    if places_total is not None:
        if isinstance(places_total, bool) or not isinstance(places_total, (int, np.integer)):
            raise ValueError(f"`places_total` must be a whole number, got {places_total!r}")
        if places_total < len(x):
            raise ValueError(
                f"`places_total` ({places_total}) is smaller than the number of places given ({len(x)})")
        x = np.concatenate([x, np.zeros(int(places_total) - len(x))])
    if len(x) < 2:
        raise ValueError("`counts_by_place` needs at least 2 places")
    if x.sum() <= 0:
        raise ValueError("`counts_by_place` has no records")
    return x


def _bootstrap_ci(x: np.ndarray, statistic, confidence: float, n_boot: int, seed: Any,
                  method: str) -> tuple[float, float]:
    """Bootstrap CI resampling places (scipy.stats.bootstrap)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = stats.bootstrap(
            (x,), statistic, n_resamples=n_boot, confidence_level=confidence,
            method=method, vectorized=True, random_state=np.random.default_rng(seed),
            batch=max(1, int(2e7 // max(len(x), 1))),
        )
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        # degenerate bootstrap distribution (e.g. all places equal)
        boot = res.bootstrap_distribution
        alpha = (1 - confidence) / 2
        lo, hi = (float(np.nanquantile(boot, alpha)), float(np.nanquantile(boot, 1 - alpha)))
    return lo, hi


def gini(counts_by_place: Any, places_total: int | None = None, generalised: bool = True) -> float:
    """Gini coefficient of records across places (generalised for sparse counts).

    Parameters
    ----------
    counts_by_place : array-like or pandas.Series
        Records per place (non-negative).
    places_total : int, optional
        Total number of places, when places with no records are not listed.
    generalised : bool, default True
        Use the generalised Gini of Bernasco & Steenbeek (2017), which equals the
        ordinary Gini when there are at least as many records as places.

    Returns
    -------
    float
        0 = records spread as evenly as possible, 1 = all in one place.

    Examples
    --------
    The examples of the lorenzgini R package (Steenbeek):

    >>> round(gini([10, 8, 2, 0, 0, 0, 0, 0, 0, 0]), 2)
    0.78
    >>> round(gini([5, 2, 1, 0, 0, 0, 0, 0, 0, 0], generalised=False), 2)
    0.8
    >>> round(gini([5, 2, 1, 0, 0, 0, 0, 0, 0, 0]), 2)
    0.75
    """
    x = _prepare_counts(counts_by_place, places_total)
    return float(_gini_axis(x, generalised=generalised))


def concentration(
    counts_by_place: Any,
    top_fractions: Any = (0.05, 0.10),
    places_total: int | None = None,
    confidence: float = 0.95,
    generalised: bool = True,
    n_boot: int = 2000,
    ci_method: str = "BCa",
    seed: Any = 12345,
    place_label: str = "places",
    whole_places: bool = False,
) -> pd.DataFrame:
    """Share of records in the top places and the (generalised) Gini coefficient.

    Parameters
    ----------
    counts_by_place : array-like or pandas.Series
        Records per place (non-negative), e.g. per LSOA for one year.
    top_fractions : float or sequence of float, default (0.05, 0.10)
        Fractions of places (the busiest first) whose share of records is reported.
    places_total : int, optional
        Total number of places including those with no records, when
        ``counts_by_place`` lists only places with records. Zero places matter:
        leaving them out understates concentration.
    confidence : float, default 0.95
        Confidence level of the intervals.
    generalised : bool, default True
        Report the generalised Gini (Bernasco & Steenbeek 2017).
    n_boot : int, default 2000
        Bootstrap resamples.
    ci_method : {"BCa", "percentile", "basic"}, default "BCa"
        Bootstrap interval (scipy.stats.bootstrap); BCa as in lorenzgini.
    seed : int or None, default 12345
        Random seed, so reports are reproducible.
    place_label : str, default "places"
        Name of the places for the sentences (e.g. "LSOAs").
    whole_places : bool, default False
        Count whole places: the top ``ceil(fraction * n_places)`` places (5% of 150
        LSOAs is the busiest 8), rather than reading the Lorenz curve at the exact
        fraction (7.5 places: the busiest 7 and half of the 8th). Better for reports,
        where a reader expects a whole number of places.

    Returns
    -------
    pandas.DataFrame
        One row per measure: ``measure`` ("share_top_5%", ..., "gini"),
        ``value``, ``lower``, ``upper`` (shares and Gini as proportions 0-1),
        ``confidence``, ``method``, ``n_places``, ``n_records``, ``n_top_places``
        (``fraction * n_places``, may be fractional; a whole number with
        ``whole_places``) and ``sentence``.

    Notes
    -----
    The share in the top fraction ``f`` is the Lorenz curve read at ``f``: the
    records in the ``floor(f n)`` busiest places plus the matching fraction of the
    next place (with ``whole_places``, the records in the ``ceil(f n)`` busiest
    places). Intervals come from a bootstrap that resamples places with
    replacement (as lorenzgini), so they describe uncertainty about the
    concentration among places like these: how much the figure would vary over
    other sets of ``n`` places drawn from the same kind of area. They are not
    intervals for these particular places' share (which is fixed once the records
    are counted), and they do not measure the chance variation of this period's
    records. With few records per place, chance
    alone makes some places look busy: the observed top shares then overstate the
    concentration of underlying risk, which no interval here corrects.

    References
    ----------
    Bernasco & Steenbeek (2017); Efron (1987); see the module docstring.
    """
    confidence = check_confidence(confidence)
    fractions = _validate_options(ci_method, n_boot, top_fractions)
    x = _prepare_counts(counts_by_place, places_total)
    boot = (confidence, n_boot, seed, ci_method)
    rows = [_top_share_row(x, f, whole_places, place_label, boot) for f in fractions]
    rows.append(_gini_row(x, generalised, place_label, boot))
    return pd.DataFrame(rows)


def _validate_options(ci_method: str, n_boot: int, top_fractions: Any) -> np.ndarray:
    """Check :func:`concentration`'s bootstrap options; return the top fractions as an array."""
    if ci_method not in ("BCa", "percentile", "basic"):
        raise ValueError(f"`ci_method` must be 'BCa', 'percentile' or 'basic', got {ci_method!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 100:
        raise ValueError(f"`n_boot` must be an integer >= 100, got {n_boot!r}")
    fractions = np.atleast_1d(np.asarray(top_fractions, dtype=float))
    if fractions.ndim != 1 or np.any((fractions <= 0) | (fractions >= 1)) or np.isnan(fractions).any():
        raise ValueError("`top_fractions` must be fractions strictly between 0 and 1, e.g. (0.05, 0.1)")
    return fractions


def _top_share_row(x: np.ndarray, f: float, whole_places: bool, place_label: str, boot: tuple) -> dict:
    """The share of records in the top fraction ``f`` of places, with its bootstrap interval."""
    confidence, n_boot, seed, ci_method = boot
    n, total = len(x), float(x.sum())
    pct = f"{f * 100:g}%"
    k = f * n
    if whole_places:
        k = float(max(1, math.ceil(k - 1e-9)))
    f_used = k / n if whole_places else f
    value = float(_top_share_axis(x, f_used))
    lo, hi = _bootstrap_ci(x, lambda s, axis=-1, f=f_used: _top_share_axis(s, f, axis=axis),
                           confidence, n_boot, seed, ci_method)
    if whole_places:
        rounded = "" if abs(f * n - k) < 1e-9 else ", rounded up to whole places"
        what = f"The busiest {k:,.0f} of {n:,} {place_label} (the top {pct}{rounded})"
        how = f"the {k:,.0f} busiest places"
    else:
        k_text = format_number(k, 0) if abs(k - round(k)) < 1e-9 else format_number(k, 1)
        what = f"The busiest {pct} of {place_label} ({k_text} of {n:,})"
        how = "Lorenz curve"
    return dict(
        measure=f"share_top_{pct}", value=value, lower=lo, upper=hi, confidence=confidence,
        method=f"share of records in the top {pct} of places ({how}); {ci_method} bootstrap over places "
               f"({n_boot} resamples)",
        n_places=n, n_records=total, n_top_places=k,
        sentence=(f"{what} account for {value * 100:.1f}% of records ({confidence_label(confidence)} CI "
                  f"{lo * 100:.1f}% to {hi * 100:.1f}%)."),
    )


def _gini_row(x: np.ndarray, generalised: bool, place_label: str, boot: tuple) -> dict:
    """The (generalised) Gini coefficient with its bootstrap interval."""
    confidence, n_boot, seed, ci_method = boot
    n, total = len(x), float(x.sum())
    g = float(_gini_axis(x, generalised=generalised))
    lo, hi = _bootstrap_ci(x, lambda s, axis=-1: _gini_axis(s, axis=axis, generalised=generalised),
                           confidence, n_boot, seed, ci_method)
    kind = "generalised Gini (Bernasco & Steenbeek 2017)" if generalised else "Gini coefficient"
    sparse = " Records are fewer than places, so the generalised Gini is used." if (generalised and total < n) else ""
    return dict(
        measure="gini", value=g, lower=lo, upper=hi, confidence=confidence,
        method=f"{kind}; {ci_method} bootstrap over places ({n_boot} resamples)", n_places=n, n_records=total,
        n_top_places=np.nan,
        sentence=(f"The Gini coefficient of records across {n:,} {place_label} is {g:.2f} "
                  f"({confidence_label(confidence)} CI {lo:.2f} to {hi:.2f}; 0 = spread as evenly as possible, "
                  f"1 = all in one place)."+ sparse),
    )


def top_places(
    current: Any,
    previous: Any,
    n: int = 10,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """The places with most records now and before, their change, and what entered or left.

    Parameters
    ----------
    current, previous : pandas.Series
        Records per place (indexed by place code or name) in two periods of equal
        length. A place missing from one Series has 0 records there.
    n : int, default 10
        Size of the top list. Places tied with the ``n``-th are included, so the
        list can be longer than ``n``.
    confidence : float, default 0.95
        Confidence level of the interval for the ratio current/previous.

    Returns
    -------
    pandas.DataFrame
        One row per place in either top list, busiest now first: ``place``,
        ``rank_current``, ``count_current``, ``rank_previous``,
        ``count_previous``, ``change`` (difference), ``value`` (ratio
        current/previous), ``lower``, ``upper``, ``confidence``, ``method``,
        ``entered`` (in the top list now but not before), ``left`` (in the top
        list before but not now).

    Notes
    -----
    The ratio's interval is the exact conditional one for two Poisson counts:
    given the total ``c1 + c0``, ``c1`` is binomial with ``p = R / (1 + R)``, so the
    Clopper-Pearson interval for ``p`` (``scipy.stats.binomtest``) converts to one
    for ``R`` (Ulm 1990). Places at the top of the earlier list tend to fall back
    (regression to the mean), so a fall there is weak evidence of an effect.

    References
    ----------
    Ulm, K. (1990). A simple method to calculate the confidence interval of a
    standardized mortality ratio. *American Journal of Epidemiology* 131:373-375.
    """
    confidence = check_confidence(confidence)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"`n` must be a positive integer, got {n!r}")
    places, cur, prev = _read_place_counts(current, previous)
    rank_cur = cur.rank(ascending=False, method="min")
    rank_prev = prev.rank(ascending=False, method="min")
    in_cur = (rank_cur <= n) & (cur > 0)
    in_prev = (rank_prev <= n) & (prev > 0)
    keep = in_cur | in_prev

    rows = []
    for place in places[keep.to_numpy()]:
        ratio, lo, hi = _count_ratio(int(round(cur[place])), int(round(prev[place])), confidence)
        rows.append(dict(
            place=place, rank_current=int(rank_cur[place]), count_current=cur[place],
            rank_previous=int(rank_prev[place]), count_previous=prev[place],
            change=cur[place] - prev[place], value=ratio, lower=lo, upper=hi,
            confidence=confidence,
            method="ratio of two Poisson counts, exact conditional (Clopper-Pearson) interval",
            entered=bool(in_cur[place] and not in_prev[place]),
            left=bool(in_prev[place] and not in_cur[place]),
        ))
    out = pd.DataFrame(rows)
    if len(out):
        out = out.sort_values(["rank_current", "rank_previous", "place"]).reset_index(drop=True)
        out["sentence"] = [
            f"{r['place']}: {format_number(r['count_current'], 0)} now against "
            f"{format_number(r['count_previous'], 0)} before (rank {r['rank_current']}, was {r['rank_previous']}); "
            + default_sentence(r, "ratio")[0].lower() + default_sentence(r, "ratio")[1:]
            for _, r in out.iterrows()]
    else:
        out = pd.DataFrame(columns=["place", "rank_current", "count_current", "rank_previous", "count_previous",
                                    "change", "value", "lower", "upper", "confidence", "method", "entered",
                                    "left", "sentence"])
    return out


def _read_place_counts(current: Any, previous: Any) -> tuple[pd.Index, pd.Series, pd.Series]:
    """Check the two Series of counts by place; return every place and both counts on them (0 where
    a place is missing)."""
    series = {}
    for name, s in (("current", current), ("previous", previous)):
        if not isinstance(s, pd.Series):
            raise ValueError(f"`{name}` must be a pandas Series of counts indexed by place")
        vals = to_float_array(s, name, allow_nan=False)
        if np.any(vals < 0):
            raise ValueError(f"`{name}` must be non-negative counts")
        if s.index.has_duplicates:
            raise ValueError(f"`{name}` has repeated places in its index")
        series[name] = pd.Series(vals, index=s.index)
    places = series["current"].index.union(series["previous"].index)
    cur = series["current"].reindex(places, fill_value=0.0)
    prev = series["previous"].reindex(places, fill_value=0.0)
    return places, cur, prev


def _count_ratio(c1: int, c0: int, confidence: float) -> tuple[float, float, float]:
    """Ratio of two Poisson counts with the exact conditional (Clopper-Pearson) interval."""
    if c1 + c0 == 0:
        return np.nan, np.nan, np.nan
    ci = stats.binomtest(c1, c1 + c0).proportion_ci(confidence_level=confidence, method="exact")
    to_ratio = lambda p: p / (1 - p) if p < 1 else np.inf  # noqa: E731
    ratio = c1 / c0 if c0 > 0 else np.inf
    return ratio, to_ratio(ci.low), to_ratio(ci.high)
