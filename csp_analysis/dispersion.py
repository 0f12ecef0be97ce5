"""Over-dispersion of monthly crime counts, estimated from a partnership's own history.

Real monthly counts vary more than a Poisson process (variance 1.3-3x the mean once the
seasonal profile is removed) and neighbouring months are correlated. A comparison of two
12-month totals (:func:`csp_analysis.rates.compare_periods`) needs the **dispersion of a
period's total**: ``phi_L = Var(sum of L months) / E(sum of L months)``. This module
estimates it from the monthly history of each measure.

Method (quasi-Poisson, McCullagh & Nelder 1989, section 4.5; Wedderburn 1974)
--------------------------------------------------------------------------------
1. For each measure, a Poisson log-linear model with a calendar-month effect (11 dummies)
   and a smooth (quadratic) trend is fitted to the usable months (excluded or missing months
   have weight 0). Its Pearson residuals ``r_t = (y_t - mu_t) / sqrt(mu_t)`` have variance
   ``phi`` (the monthly dispersion); ``phi_hat = sum r_t^2 / df`` with ``df`` the residual
   degrees of freedom (the quasi-Poisson estimator); when months are correlated this is biased
   down, so the moment estimate of step 2 (``1 + v``, see :func:`combine`) is used where larger.
2. Month-to-month correlation. A month's count is Poisson noise (variance 1 on the Pearson
   scale, independent from month to month) plus extra variation (variance ``phi - 1``) that
   can persist. The lag-k autocovariance of the Pearson residuals therefore estimates
   ``(phi - 1) e_k``, with ``e_k`` the autocorrelation of the extra variation. The extra
   variation is taken as AR(1), ``e_k = rho^k`` (11 free lags cannot be estimated from a few
   years of data), and ``rho`` is **pooled across the partnership's measures**: the method of
   moments on the summed lag-0 and lag-1 residual products, using their exact expectations
   under the fitted model (:func:`_moments`, :func:`combine`). The level ``phi`` is **not**
   pooled (each measure keeps its own, as dispersion differs between crime types).
3. The dispersion of an L-month total is then
   ``phi_L = 1 + (phi - 1) * A_L``, ``A_L = 1 + 2 sum_{k<L} (1 - k/L) rho^k``
   (the variance of a sum of L correlated terms), clipped to ``1 <= A_L <= L``, and ``phi_L``
   is floored at 1 (a count cannot be less variable than Poisson; the floor keeps the exact
   Poisson test the minimum). The uncertainty of ``phi`` (chi-squared on ``df``) and of
   ``A_L`` (jackknife over measures) give effective degrees of freedom (Satterthwaite 1946),
   see :func:`combine`.

``df`` (the effective degrees of freedom of step 3) goes with the estimate: a test that
uses ``phi_hat`` in place of the truth should use a t reference distribution with ``df``
degrees of freedom (as quasi-likelihood F/t tests do), which
:func:`csp_analysis.rates.compare_periods` does with ``dispersion_df``.

**Keep ``df`` when the estimate is floored at 1** (issue 10, summary family). An estimate of 1
does not show that the counts are Poisson: with modest extra variation (monthly variance/mean
1.5) and correlated months, a few of a partnership's 15 measures land on the floor by chance
although their 12-month totals vary 2-3 times as much as a Poisson count. Falling back to the
exact Poisson test for those measures (as the reports did) made the summary's 15 year-on-year
bullets, after Holm, show at least one false "unlikely to be chance" in 9-11% of null reports
(dispersion 1.5, AR 0.5; single tests were at 4-5%, as the floor is rare, but Holm's smallest
threshold, 0.05/15, sits where the too-narrow exact test's error is largest). Testing with the
floored value 1 and a t reference on ``df`` brings that to 0.4-2.4% at about 1-2 points of
power on Poisson data (``benchmarks/calib_rates.py``).

Why the fit is by hand: statsmodels' GLM fits one series at a time; the reports and the
calibration benchmark fit thousands of series that share one design matrix, so a batched
iteratively reweighted least squares (IRLS) fit is used here. It is tested against
``statsmodels.api.GLM(..., family=Poisson())`` to 1e-6.

References
----------
Wedderburn RWM (1974). Quasi-likelihood functions, generalized linear models, and the
    Gauss-Newton method. Biometrika 61:439-447.
McCullagh P, Nelder JA (1989). Generalized Linear Models, 2nd ed., sections 4.5 and 6.2.
Satterthwaite FE (1946). An approximate distribution of estimates of variance components.
    Biometrics Bulletin 2:110-114.
Newey WK, West KD (1987). A simple, positive semi-definite, heteroskedasticity and
    autocorrelation consistent covariance matrix. Econometrica 55:703-708 (Bartlett window).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from .formatting import check_confidence

__all__ = ["estimate_dispersion", "combine", "seasonal_design", "fit_poisson_batch"]

#: Lags of the pooled autocorrelation used for a 12-month total.
DEFAULT_PERIOD = 12


def seasonal_design(n_months: int, first_month: int = 1, seasonal: bool = True, trend_degree: int = 2) -> np.ndarray:
    """Design matrix: intercept, calendar-month dummies (January the reference) and a polynomial trend.

    Seasonal dummies are dropped when fewer than 24 months are available and the trend degree
    is reduced so that at least 6 residual degrees of freedom remain.
    """
    t = np.arange(n_months, dtype=float)
    cols = [np.ones(n_months)]
    if seasonal and n_months >= 24:
        month = (first_month - 1 + np.arange(n_months)) % 12
        for m in range(1, 12):
            cols.append((month == m).astype(float))
    p_season = len(cols)
    degree = int(trend_degree)
    while degree > 0 and n_months - p_season - degree < 6:
        degree -= 1
    if degree:
        z = (t - t.mean()) / max(t.std(), 1.0)
        for d in range(1, degree + 1):
            cols.append(z ** d)
    return np.column_stack(cols)


def fit_poisson_batch(y: np.ndarray, x: np.ndarray, weights: np.ndarray | None = None,
                      max_iter: int = 50, tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """Poisson log-linear fits of many series sharing one design (batched IRLS).

    Parameters
    ----------
    y : array (B, n)
        Counts; NaN where a month is missing.
    x : array (n, p)
        Shared design matrix.
    weights : array (B, n), optional
        0/1 weights (0 = leave the month out); NaN counts get weight 0.

    Returns
    -------
    beta : array (B, p)
    mu : array (B, n) fitted means (for every month, including those left out).
    """
    y = np.atleast_2d(np.asarray(y, dtype=float))
    w0 = np.isfinite(y).astype(float) if weights is None else np.asarray(weights, dtype=float) * np.isfinite(y)
    yy = np.where(w0 > 0, y, 0.0)
    b_count, n = yy.shape
    p = x.shape[1]
    beta = np.zeros((b_count, p))
    mean = (yy * w0).sum(axis=1) / np.maximum(w0.sum(axis=1), 1)
    beta[:, 0] = np.log(np.maximum(mean, 0.5))
    ridge = 1e-10 * np.eye(p)
    for _ in range(max_iter):
        eta = np.clip(beta @ x.T, -30, 30)
        mu = np.exp(eta)
        z = eta + (yy - mu) / mu
        w = w0 * mu
        xtwx = np.einsum("np,bn,nq->bpq", x, w, x) + ridge
        xtwz = np.einsum("np,bn->bp", x, w * z)
        new = np.linalg.solve(xtwx, xtwz[..., None])[..., 0]
        step = np.max(np.abs(new - beta))
        beta = new
        if step < tol:
            break
    mu = np.exp(np.clip(beta @ x.T, -30, 30))
    return beta, mu


#: Grid of lag-1 autocorrelations of the extra variation searched by :func:`combine`.
RHO_GRID = np.round(np.arange(0.0, 0.901, 0.01), 2)


def _moments(y: np.ndarray, x: np.ndarray, weights: np.ndarray) -> dict:
    """Per series: Pearson chi2/df and the moments :func:`combine` needs.

    ``c0 = sum r_t^2`` and ``c1 = sum r_t r_{t+1}`` of the Pearson residuals, and their
    expectations when the errors are Poisson noise (variance 1) plus extra variation with
    variance ``v`` and AR(1) correlation ``rho``: ``E c0 = b0 + v t0(rho)``,
    ``E c1 = b1 + v t1(rho)`` with ``b0 = tr(M)``, ``b1 = tr(S M)``, ``t0 = tr(M R M)``,
    ``t1 = tr(S M R M)`` (``M`` the residual-maker of the fit on the usable months, ``S`` the
    one-month shift, ``R_ij = rho^|i-j|``). Using these exact expectations removes the
    downward bias that fitting 15 parameters to 48 months puts into raw residual variances
    and autocorrelations (a method-of-moments correction). The Pearson residuals of the
    Poisson fit are treated as least-squares residuals of the unweighted fit, which is close
    when the fitted means vary little within a series (seasonal swings of +-10%).
    """
    _, mu = fit_poisson_batch(y, x, weights)
    ok = (weights > 0) & np.isfinite(y)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(ok, (np.where(ok, y, 0.0) - mu) / np.sqrt(mu), 0.0)
    n_used = ok.sum(axis=1)
    c0 = (r ** 2).sum(axis=1)
    c1 = (r[:, 1:] * r[:, :-1]).sum(axis=1)
    b_count = y.shape[0]
    out = {"c0": c0, "c1": c1, "n_used": n_used, "df": np.zeros(b_count), "b0": np.zeros(b_count),
           "b1": np.zeros(b_count), "t0": np.full((b_count, len(RHO_GRID)), np.nan),
           "t1": np.full((b_count, len(RHO_GRID)), np.nan)}
    patterns: dict[bytes, list[int]] = {}
    for i, o in enumerate(ok):
        patterns.setdefault(o.tobytes(), []).append(i)
    for rows in patterns.values():
        m = residual_maker(x, ok[rows[0]])
        out["df"][rows] = np.trace(m)
        out["b0"][rows] = np.trace(m)
        out["b1"][rows] = np.trace(m, offset=1)
        t0, t1 = rho_traces(m)
        out["t0"][rows] = t0
        out["t1"][rows] = t1
    out["df"] = np.round(out["df"])
    with np.errstate(invalid="ignore", divide="ignore"):
        out["phi"] = np.where(out["df"] > 0, c0 / np.maximum(out["df"], 1), np.nan)
    return out


def residual_maker(x: np.ndarray, used: np.ndarray) -> np.ndarray:
    """Residual-maker matrix ``M = D - D X (X' D X)^+ X' D`` of the design ``x`` on the usable
    months (``D`` the diagonal of the boolean mask ``used``); also used by
    :mod:`csp_analysis.trends.mann_kendall` for its moment corrections."""
    d = np.diag(used.astype(float))
    xd = d @ x
    return d - xd @ np.linalg.pinv(x.T @ d @ x) @ xd.T


def rho_traces(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``tr(M R M)`` and ``tr(S M R M)`` on :data:`RHO_GRID`, as elementwise sums
    ``sum(R * M)`` and ``sum(R * (M Q M)')`` (``M`` symmetric idempotent, ``Q`` the sub-diagonal
    shift), so each grid point costs O(n^2) rather than a matrix product."""
    n = m.shape[0]
    lag = np.abs(np.subtract.outer(np.arange(n), np.arange(n))).astype(float)
    a1 = (m @ np.eye(n, k=-1) @ m).T
    powers = RHO_GRID[:, None, None] ** lag[None]
    powers[0] = (lag == 0)
    t0 = np.einsum("gij,ij->g", powers, m)
    t1 = np.einsum("gij,ij->g", powers, a1)
    return t0, t1


def correlation_factor(rho: float, months: int) -> float:
    """Bartlett-window factor ``A_L = 1 + 2 sum_{k<L} (1 - k/L) rho^k`` by which AR(1) correlation
    ``rho`` of the extra variation inflates it in an ``L = months``-month total, clipped to
    ``[1, L]`` (the ``correlation_factor`` column of :func:`estimate_dispersion`)."""
    k = np.arange(1, max(int(months), 1))
    return float(np.clip(1.0 + 2.0 * np.sum((1.0 - k / months) * rho ** k), 1.0, max(int(months), 1)))


# private names kept for importers written before the public ones
_residual_maker = residual_maker
_rho_traces = rho_traces
_a_factor = correlation_factor


def combine(mom: dict, months: int = DEFAULT_PERIOD, rows=None):
    """Period dispersion and its effective degrees of freedom for the measures of one partnership.

    ``mom`` is :func:`_moments`'s output (``rows`` selects one partnership's series). The lag-1
    autocorrelation ``rho`` of the extra variation is **pooled** over the measures: the value on
    :data:`RHO_GRID` whose expected ratio ``sum t1(rho) v / sum t0(rho) v`` matches the observed
    ``sum (c1 - b1) / sum (c0 - b0)`` (the denominator taken as at least twice its own standard
    error, which shrinks ``rho`` towards 0 when there is little extra variation to be
    correlated). Each measure's monthly dispersion is then ``1 + v``,
    ``v = (c0 - b0) / t0(rho)`` (at least the chi2/df estimate), and the dispersion of an
    ``months``-month total ``phi_L = 1 + v A_L``, ``A_L = 1 + 2 sum_{k<L} (1 - k/L) rho^k``.
    The uncertainty of ``rho`` is a jackknife over measures (leave one out) and is carried,
    with that of ``v`` (chi-squared on ``df``), into effective degrees of freedom by
    Satterthwaite's (1946) rule: ``df_eff = 2 phi_L^2 / Var(phi_L)``,
    ``Var(phi_L) = A_L^2 2 phi^2 / df + (phi - 1)^2 Var(A_L)``, capped at ``df``.

    Returns ``(phi_L, df_eff, A_L, rho, monthly)``; ``phi_L`` is floored at 1.
    """
    sel = (lambda v: v) if rows is None else (lambda v: v[rows])
    c0, c1, b0, b1 = (np.asarray(sel(mom[k]), dtype=float) for k in ("c0", "c1", "b0", "b1"))
    t0, t1 = np.asarray(sel(mom["t0"]), dtype=float), np.asarray(sel(mom["t1"]), dtype=float)
    df, phi = np.asarray(sel(mom["df"]), dtype=float), np.asarray(sel(mom["phi"]), dtype=float)
    ok = np.isfinite(phi) & (df > 0) & np.all(np.isfinite(t0), axis=1)

    def pooled(mask):
        if not mask.any():
            return 0.0
        excess = np.sum(c0[mask] - b0[mask])
        if excess <= 0:
            return 0.0
        noise = 2.0 * np.sqrt(np.sum(2.0 * np.maximum(phi[mask], 1.0) ** 2 * df[mask]))
        target = np.sum(c1[mask] - b1[mask]) / max(excess, noise)
        curve = t1[mask].mean(axis=0) / t0[mask].mean(axis=0)
        if target <= curve[0]:
            return 0.0
        if target >= curve[-1]:
            return float(RHO_GRID[-1])
        return float(np.interp(target, curve, RHO_GRID))

    rho = pooled(ok)
    a = correlation_factor(rho, months)
    g = int(np.argmin(np.abs(RHO_GRID - rho)))
    with np.errstate(invalid="ignore", divide="ignore"):
        v = (c0 - b0) / t0[:, g]
    monthly = np.where(ok, np.fmax(phi, 1.0 + v), np.nan)
    idx = np.flatnonzero(ok)
    var_a = 0.0
    if len(idx) >= 3:
        jack = []
        for i in idx:
            mask = ok.copy()
            mask[i] = False
            jack.append(correlation_factor(pooled(mask), months))
        jack = np.asarray(jack)
        var_a = float((len(jack) - 1) / len(jack) * np.sum((jack - jack.mean()) ** 2))
    phi_l = np.maximum(1.0 + (monthly - 1.0) * a, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        var_l = a * a * 2.0 * monthly ** 2 / df + (monthly - 1.0) ** 2 * var_a
        df_eff = np.fmin(2.0 * phi_l ** 2 / var_l, df)
    df_eff = np.where(ok, np.maximum(df_eff, 1.0), np.nan)
    return phi_l, df_eff, a, rho, monthly


def estimate_dispersion(
    counts,
    exclude: dict | None = None,
    months: int = DEFAULT_PERIOD,
    confidence: float = 0.95,
    seasonal: bool = True,
    trend_degree: int = 2,
    current_start=None,
) -> pd.DataFrame:
    """Estimate each measure's dispersion (variance / mean) of an ``months``-month total.

    Parameters
    ----------
    counts : pandas.DataFrame or Series
        Monthly counts, one column per measure (a Series is one measure), indexed by a monthly
        ``PeriodIndex`` (or timestamps). Months absent from the index are treated as missing;
        NaN counts are missing.
    exclude : dict, optional
        measure -> months (Periods or strings) to leave out (e.g. flagged extract errors).
    months : int, default 12
        Length of the totals that will be compared (the lag window of step 3).
    confidence : float, default 0.95
        Level of the interval for the dispersion (chi-squared on ``df``, the uncertainty of
        the monthly dispersion only).
    seasonal : bool, default True
        Include calendar-month effects (only with 24 months or more).
    trend_degree : int, default 2
        Degree of the polynomial trend on the log scale.
    current_start : Period or str, optional
        First month of the period that will be compared with an earlier one: the model gets a
        step from this month on, so that a real change between the periods is not counted as
        extra variation (which would make the comparison too cautious).

    Returns
    -------
    DataFrame
        One row per measure: ``measure``, ``value`` (dispersion of an ``months``-month total,
        ``phi_L`` >= 1), ``lower``, ``upper``, ``confidence``, ``df`` (effective degrees of
        freedom: use a t reference with these, also where ``value`` is 1 (see the module
        docstring); ``residual_df`` is the fit's), ``monthly_dispersion`` (``phi_hat``, not
        floored), ``correlation_factor`` (``A_L``, pooled across measures), ``months_used``,
        ``method`` and ``sentence``. A measure with no events or too few months has NaN
        ``value`` and ``df`` and says why.

    Notes
    -----
    See the module docstring for the model and the pooling: the monthly dispersion is per
    measure; the month-to-month correlation of the extra variation is pooled across the
    measures passed together. The calibration is in ``benchmarks/calib_rates.py``
    (false-positive rate of :func:`~csp_analysis.rates.compare_periods` with the estimate).

    Examples
    --------
    >>> from csp_analysis.simulate import simulate_series
    >>> import numpy as np
    >>> y = simulate_series(48, 200, dispersion=2.0, rng=np.random.default_rng(1))
    >>> round(float(estimate_dispersion(y)["monthly_dispersion"].iloc[0]), 1) > 1
    True
    """
    confidence = check_confidence(confidence)
    frame, full, values, weights = _read_counts(counts, exclude)
    x = _design(full, seasonal, trend_degree, current_start)
    mom, has_events, n_used = _fit_moments(values, x, weights)
    df = mom["df"]
    value, df_eff, a, rho, phi = combine(mom, months)
    alpha = 1 - confidence
    good = np.isfinite(phi) & (df >= 3)
    with np.errstate(invalid="ignore", divide="ignore"):
        lower = np.maximum(value * df_eff / stats.chi2.ppf(1 - alpha / 2, np.maximum(df_eff, 1)), 1.0)
        upper = np.maximum(value * df_eff / stats.chi2.ppf(alpha / 2, np.maximum(df_eff, 1)), 1.0)
    terms = "calendar-month effects and a quadratic trend" if x.shape[1] >= 12 else "a trend"
    method = (f"quasi-Poisson (Pearson chi2/df, or its moment estimate allowing for correlated months if "
              f"larger) from a Poisson model with {terms}; month-to-month correlation "
              f"pooled across {int(good.sum())} measure{'s' if good.sum() != 1 else ''} "
              f"(Bartlett window, {months} months); floored at 1, keeping its degrees of freedom "
              f"(compare with a t reference on df even at the floor)")
    rows = []
    for j, measure in enumerate(frame.columns):
        rows.append(_measure_row(measure, good[j], has_events[j], int(n_used[j]), value[j], lower[j], upper[j],
                                 df_eff[j], df[j], phi[j], a, months, confidence, method))
    return pd.DataFrame(rows)


def _read_counts(counts, exclude: dict | None):
    """Counts as a (measures x months) array over the full monthly range, with weights 0 for
    missing and excluded months: ``(frame, months, values, weights)``."""
    frame = counts.to_frame() if isinstance(counts, pd.Series) else pd.DataFrame(counts).copy()
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        raise ValueError("counts must have at least one measure (column) and one month (row)")
    idx = frame.index
    if not isinstance(idx, pd.PeriodIndex):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                idx = pd.PeriodIndex(pd.to_datetime(idx), freq="M")
        except (TypeError, ValueError):
            raise ValueError("counts must be indexed by month (PeriodIndex or dates)") from None
    frame.index = idx
    frame = frame[~frame.index.duplicated()].sort_index()
    full = pd.period_range(frame.index.min(), frame.index.max(), freq="M")
    frame = frame.reindex(full)
    values = frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float).T
    if np.any(values[np.isfinite(values)] < 0):
        raise ValueError("counts must be non-negative")
    weights = np.isfinite(values).astype(float)
    for j, measure in enumerate(frame.columns):
        for m in (exclude or {}).get(measure, []):
            m = pd.Period(m, freq="M")
            if m in full:
                weights[j, full.get_loc(m)] = 0.0
    return frame, full, values, weights


def _design(full: pd.PeriodIndex, seasonal: bool, trend_degree: int, current_start) -> np.ndarray:
    """:func:`seasonal_design` for the months, plus a step from ``current_start`` when it splits them."""
    x = seasonal_design(len(full), first_month=int(full[0].month), seasonal=seasonal, trend_degree=trend_degree)
    if current_start is not None:
        step = (full >= pd.Period(current_start, freq="M")).astype(float)
        if 0 < step.sum() < len(full):
            x = np.column_stack([x, step])
    return x


def _fit_moments(values: np.ndarray, x: np.ndarray, weights: np.ndarray):
    """:func:`_moments` of the measures with events (NaN / 0 for the others), which measures have
    events and the number of usable months of each."""
    has_events = np.nansum(np.where(weights > 0, values, 0.0), axis=1) > 0
    n_used = (weights > 0).sum(axis=1)
    k = values.shape[0]
    mom = {"c0": np.full(k, np.nan), "c1": np.full(k, np.nan), "b0": np.zeros(k), "b1": np.zeros(k),
           "df": np.zeros(k), "phi": np.full(k, np.nan), "t0": np.full((k, len(RHO_GRID)), np.nan),
           "t1": np.full((k, len(RHO_GRID)), np.nan)}
    if has_events.any():
        got = _moments(values[has_events], x, weights[has_events])
        for key in mom:
            mom[key][has_events] = got[key]
    return mom, has_events, n_used


def _measure_row(measure, good: bool, has_events: bool, n_used: int, value: float, lower: float, upper: float,
                 df_eff: float, df: float, phi: float, a: float, months: int, confidence: float,
                 method: str) -> dict:
    """One measure's row of :func:`estimate_dispersion`, with its sentence (or why it is missing)."""
    if not good:
        why = ("no events in the usable months" if not has_events
               else f"too few usable months ({n_used}) to estimate it")
        return dict(measure=measure, value=np.nan, lower=np.nan, upper=np.nan, confidence=confidence,
                    df=np.nan, residual_df=np.nan, monthly_dispersion=np.nan, correlation_factor=a,
                    months_used=n_used, method=method,
                    sentence=f"The extra variation of {measure} cannot be estimated: {why}.")
    conf = f"{confidence * 100:g}%"
    sent = (f"{measure}: a {months}-month total varies about {value:.1f} times as much as a Poisson count "
            f"({conf} CI {lower:.1f} to {upper:.1f}; monthly variance/mean {phi:.2f} from "
            f"{n_used} months, {df_eff:.0f} effective degrees of freedom; month-to-month "
            f"correlation adds a "
            f"factor {a:.2f} to the extra variation).")
    if value <= 1.0:
        sent = (f"{measure}: no variation beyond a Poisson count was found in {n_used} months "
                f"(monthly variance/mean {phi:.2f}), but that estimate is uncertain, so comparisons "
                f"still allow for it (t reference on {df_eff:.0f} degrees of freedom).")
    return dict(measure=measure, value=float(value), lower=float(lower), upper=float(upper),
                confidence=confidence, df=float(df_eff), residual_df=float(df),
                monthly_dispersion=float(phi),
                correlation_factor=a, months_used=n_used, method=method, sentence=sent)
