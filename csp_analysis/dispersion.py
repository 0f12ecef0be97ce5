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
   degrees of freedom (the quasi-Poisson estimator).
2. Month-to-month correlation. A month's count is Poisson noise (variance 1 on the Pearson
   scale, independent from month to month) plus extra variation (variance ``phi - 1``) that
   can persist. The lag-k autocovariance of the Pearson residuals therefore estimates
   ``(phi - 1) e_k``, with ``e_k`` the autocorrelation of the extra variation. ``e_k`` is
   **pooled across the partnership's measures** (sum of lag-k cross-products over the sum of
   excess variances), because 11 autocorrelations cannot be estimated from four years of one
   series; the level ``phi`` is **not** pooled (each measure keeps its own, as dispersion
   differs between crime types).
   The autocovariances are method-of-moments estimates that undo the bias of residuals from a
   fitted model (:func:`_moment_matrix`), and the extra variation is taken as AR(1):
   ``e_k = rho^k`` with ``rho`` the pooled lag-1 value (11 free lags are too noisy).
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

import numpy as np
import pandas as pd
from scipy import stats

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


def _moments(y: np.ndarray, x: np.ndarray, weights: np.ndarray, max_lag: int):
    """Per series: phi_hat, df, and lag-k sums of Pearson cross-products (k = 1..max_lag)."""
    _, mu = fit_poisson_batch(y, x, weights)
    ok = (weights > 0) & np.isfinite(y)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(ok, (np.where(ok, y, 0.0) - mu) / np.sqrt(mu), 0.0)
    n_used = ok.sum(axis=1)
    # rank of the design on the usable months (a left-out month can drop a dummy)
    p_used = np.array([np.linalg.matrix_rank(x[o]) if o.any() else 0 for o in ok])
    df = n_used - p_used
    with np.errstate(invalid="ignore", divide="ignore"):
        phi = np.where(df > 0, (r ** 2).sum(axis=1) / np.maximum(df, 1), np.nan)
    n = y.shape[1]
    lags = min(max_lag, n - 2)
    cross = np.zeros((y.shape[0], lags + 1))
    cross[:, 0] = (r ** 2).sum(axis=1)
    for k in range(1, lags + 1):
        cross[:, k] = (r[:, k:] * r[:, :-k]).sum(axis=1)
    gamma = np.zeros((y.shape[0], max_lag + 1))
    # method of moments: E[C_k] = sum_j tr(S_k M T_j M) g_j for residuals r = M u (see _moment_matrix);
    # series with the same usable months share the matrix
    patterns: dict[bytes, list[int]] = {}
    for i, o in enumerate(ok):
        patterns.setdefault(o.tobytes(), []).append(i)
    for key, rows in patterns.items():
        o = ok[rows[0]]
        if o.sum() <= x.shape[1] + lags:
            gamma[rows] = np.nan
            continue
        b = _moment_matrix(x, o, lags)
        gamma[rows, : lags + 1] = np.linalg.lstsq(b, cross[rows].T, rcond=None)[0].T
    return phi, df, gamma[:, 1:], n_used, gamma[:, 0]


def _moment_matrix(x: np.ndarray, used: np.ndarray, lags: int) -> np.ndarray:
    """``B[k, j] = tr(S_k M T_j M)``: the expected lag-k cross-product of residuals per unit lag-j
    autocovariance of the errors.

    ``M = D - D X (X' D X)^+ X' D`` (D = diagonal of the usable months) is the residual-maker of
    the least-squares fit; ``S_k`` shifts by k months and ``T_j = S_j + S_j'`` (``T_0 = I``).
    Solving ``B g = C`` for the autocovariances ``g`` removes the downward bias that fitting 14
    parameters to 48 months puts into raw residual autocorrelations (a method-of-moments
    correction in the spirit of REML). The Pearson residuals of the Poisson fit are treated as
    the least-squares residuals of the unweighted fit, which is close when the fitted means
    vary little within a series (seasonal swings of +-10%).
    """
    n = x.shape[0]
    d = np.diag(used.astype(float))
    xd = d @ x
    m = d - xd @ np.linalg.pinv(x.T @ d @ x) @ xd.T
    shifts = [np.eye(n, k=k) for k in range(lags + 1)]
    b = np.zeros((lags + 1, lags + 1))
    for j in range(lags + 1):
        t = shifts[0] if j == 0 else shifts[j] + shifts[j].T
        mtm = m @ t @ m
        for k in range(lags + 1):
            b[k, j] = np.trace(shifts[k] @ mtm)
    return b


def _a_factor(rho: float, months: int) -> float:
    k = np.arange(1, max(int(months), 1))
    return float(np.clip(1.0 + 2.0 * np.sum((1.0 - k / months) * rho ** k), 1.0, max(int(months), 1)))


def combine(phi, df, gamma0, gamma, months: int = DEFAULT_PERIOD):
    """Period dispersion and its effective degrees of freedom for the measures of one partnership.

    ``phi`` (monthly chi2/df), ``df``, ``gamma0`` and ``gamma`` (method-of-moments
    autocovariances, lags 1..) per measure, as from the fits. The monthly level used is the
    larger of the chi2/df estimate and the moment estimate ``gamma0`` (the chi2/df estimate is
    biased down when months are correlated). The pooled lag-1 autocorrelation ``rho`` of the
    extra variation gives ``A_L``; its uncertainty is a jackknife over measures (leave one out)
    and is carried into the effective degrees of freedom by Satterthwaite's (1946) rule:
    ``df_eff = 2 phi_L^2 / Var(phi_L)`` with
    ``Var(phi_L) = A_L^2 2 phi^2 / df + (phi - 1)^2 Var(A_L)``, capped at ``df``.

    Returns ``(phi_L, df_eff, A_L, rho)``; ``phi_L`` is floored at 1.
    """
    phi = np.asarray(phi, dtype=float)
    df = np.asarray(df, dtype=float)
    g0 = np.asarray(gamma0, dtype=float)
    g1 = np.asarray(gamma, dtype=float).reshape(len(phi), -1)[:, 0]
    ok = np.isfinite(phi) & np.isfinite(g0) & np.isfinite(g1) & (df > 0)
    level = np.where(np.isfinite(g0), np.fmax(phi, g0), phi)

    def pooled(mask):
        excess = np.clip(g0[mask] - 1.0, 0.0, None).sum()
        if excess <= 0.05 * max(mask.sum(), 1):
            return 0.0
        return float(np.clip(g1[mask].sum() / excess, 0.0, 0.9))

    rho = pooled(ok)
    a = _a_factor(rho, months)
    idx = np.flatnonzero(ok)
    var_a = 0.0
    if len(idx) >= 3:
        jack = []
        for i in idx:
            m = ok.copy()
            m[i] = False
            jack.append(_a_factor(pooled(m), months))
        jack = np.asarray(jack)
        var_a = float((len(jack) - 1) / len(jack) * np.sum((jack - jack.mean()) ** 2))
    phi_l = np.maximum(1.0 + (level - 1.0) * a, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        var_l = a * a * 2.0 * level ** 2 / df + (level - 1.0) ** 2 * var_a
        df_eff = np.fmin(2.0 * phi_l ** 2 / var_l, df)
    df_eff = np.where(ok, np.maximum(df_eff, 1.0), np.nan)
    return phi_l, df_eff, a, rho


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
        freedom: use a t reference with these; ``residual_df`` is the fit's), ``monthly_dispersion`` (``phi_hat``, not
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
    from .rates import _check_confidence

    confidence = _check_confidence(confidence)
    frame = counts.to_frame() if isinstance(counts, pd.Series) else pd.DataFrame(counts).copy()
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        raise ValueError("counts must have at least one measure (column) and one month (row)")
    idx = frame.index
    if not isinstance(idx, pd.PeriodIndex):
        try:
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
    x = seasonal_design(len(full), first_month=int(full[0].month), seasonal=seasonal, trend_degree=trend_degree)
    if current_start is not None:
        step = (full >= pd.Period(current_start, freq="M")).astype(float)
        if 0 < step.sum() < len(full):
            x = np.column_stack([x, step])
    has_events = np.nansum(np.where(weights > 0, values, 0.0), axis=1) > 0
    max_lag = max(int(months) - 1, 1)
    phi = np.full(values.shape[0], np.nan)
    df = np.zeros(values.shape[0])
    gamma = np.full((values.shape[0], max_lag), np.nan)
    gamma0 = np.full(values.shape[0], np.nan)
    n_used = (weights > 0).sum(axis=1)
    if has_events.any():
        ph, d, g, _, g0 = _moments(values[has_events], x, weights[has_events], max_lag)
        phi[has_events], df[has_events], gamma[has_events], gamma0[has_events] = ph, d, g, g0
    value, df_eff, a, rho = combine(phi, df, gamma0, gamma, months)
    alpha = 1 - confidence
    good = np.isfinite(phi) & (df >= 3)
    with np.errstate(invalid="ignore", divide="ignore"):
        lower = np.maximum(value * df_eff / stats.chi2.ppf(1 - alpha / 2, np.maximum(df_eff, 1)), 1.0)
        upper = np.maximum(value * df_eff / stats.chi2.ppf(alpha / 2, np.maximum(df_eff, 1)), 1.0)
    terms = "calendar-month effects and a quadratic trend" if x.shape[1] >= 12 else "a trend"
    method = (f"quasi-Poisson (Pearson chi2/df) from a Poisson model with {terms}; month-to-month correlation "
              f"pooled across {int(good.sum())} measure{'s' if good.sum() != 1 else ''} "
              f"(Bartlett window, {months} months); floored at 1")
    rows = []
    for j, measure in enumerate(frame.columns):
        if not good[j]:
            why = ("no events in the usable months" if not has_events[j]
                   else f"too few usable months ({int(n_used[j])}) to estimate it")
            rows.append(dict(measure=measure, value=np.nan, lower=np.nan, upper=np.nan, confidence=confidence,
                             df=np.nan, residual_df=np.nan, monthly_dispersion=np.nan, correlation_factor=a,
                             months_used=int(n_used[j]), method=method,
                             sentence=f"The extra variation of {measure} cannot be estimated: {why}."))
            continue
        conf = f"{confidence * 100:g}%"
        sent = (f"{measure}: a {months}-month total varies about {value[j]:.1f} times as much as a Poisson count "
                f"({conf} CI {lower[j]:.1f} to {upper[j]:.1f}; monthly variance/mean {phi[j]:.2f} from "
                f"{int(n_used[j])} months, {df_eff[j]:.0f} effective degrees of freedom; month-to-month correlation adds a "
                f"factor {a:.2f} to the extra variation).")
        if value[j] <= 1.0:
            sent = (f"{measure}: no variation beyond a Poisson count was found in {int(n_used[j])} months "
                    f"(monthly variance/mean {phi[j]:.2f}); the Poisson (exact) test applies.")
        rows.append(dict(measure=measure, value=float(value[j]), lower=float(lower[j]), upper=float(upper[j]),
                         confidence=confidence, df=float(df_eff[j]), residual_df=float(df[j]),
                         monthly_dispersion=float(phi[j]),
                         correlation_factor=a, months_used=int(n_used[j]), method=method, sentence=sent))
    return pd.DataFrame(rows)
