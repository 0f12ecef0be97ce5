"""Known-truth monthly count series like real crime data, for calibration and tests.

Real monthly counts for a district are over-dispersed (variance 1.3-3x the mean after the
seasonal profile is removed, larger for larger counts) and serially correlated. This module
draws such series from a Poisson-lognormal model with an AR(1) latent process:

    log mu_t = log(mean) + seasonal_t + trend_t + effect_t + e_t - s^2 / 2
    e_t      = ar * e_{t-1} + sqrt(1 - ar^2) * s * z_t,   z_t ~ N(0, 1)
    y_t      ~ Poisson(mu_t)

so that, for a month with expected count ``m``, ``Var(y_t) / E(y_t) = 1 + m (exp(s^2) - 1)``.
``s^2`` is chosen so that this ratio equals ``dispersion`` at the series' mean level
(``s^2 = log(1 + (dispersion - 1) / mean)``); ``dispersion=1`` gives Poisson counts
(no latent noise) and ``ar`` then has no effect.

Why by hand: no maintained package draws over-dispersed, autocorrelated count series with a
planted step change; statsmodels' ``arma_generate_sample`` gives the Gaussian AR part, which
is what :func:`latent_ar1` uses.

The functions take a :class:`numpy.random.Generator` so that every benchmark and test is
reproducible from its seed.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

#: A typical crime seasonal profile (log scale, mean zero): summer peak, February trough.
SEASONAL_PROFILE = np.log(np.array([0.93, 0.86, 0.97, 0.98, 1.05, 1.06, 1.10, 1.08, 1.02, 1.01, 0.98, 0.96]))
SEASONAL_PROFILE = SEASONAL_PROFILE - SEASONAL_PROFILE.mean()


def latent_sd(mean: float, dispersion: float) -> float:
    """The latent log-scale SD ``s`` that gives variance/mean = ``dispersion`` at ``mean``."""
    if dispersion < 1:
        raise ValueError("dispersion must be >= 1 (variance at least the mean)")
    if mean <= 0:
        raise ValueError("mean must be positive")
    return float(np.sqrt(np.log1p((dispersion - 1.0) / mean)))


def latent_ar1(n: int, ar: float, sd: float, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
    """Stationary Gaussian AR(1) noise with marginal SD ``sd`` (shape ``(n,)`` or ``(size, n)``)."""
    if not -1 < ar < 1:
        raise ValueError("ar must be in (-1, 1)")
    shape = (n,) if size is None else (size, n)
    z = rng.standard_normal(shape)
    e = np.empty(shape)
    e[..., 0] = z[..., 0]
    inno = np.sqrt(1.0 - ar * ar)
    for t in range(1, n):
        e[..., t] = ar * e[..., t - 1] + inno * z[..., t]
    return e * sd


def simulate_series(
    n_months: int = 60,
    mean: float = 200.0,
    dispersion: float = 1.0,
    ar: float = 0.0,
    seasonal: bool = True,
    trend_per_year: float = 0.0,
    effect: float = 1.0,
    effect_start: int | None = None,
    rng: np.random.Generator | None = None,
    size: int | None = None,
    start: str = "2020-01",
    log_offset: np.ndarray | None = None,
) -> pd.Series | np.ndarray:
    """Draw monthly counts with over-dispersion, AR(1) correlation, seasonality, trend and a step.

    Parameters
    ----------
    n_months : int
        Length of the series.
    mean : float
        Mean monthly count at the start, before seasonality and trend.
    dispersion : float, default 1
        Variance over mean of a month's count at ``mean`` (1 = Poisson).
    ar : float, default 0
        Lag-1 autocorrelation of the latent log-scale noise.
    seasonal : bool, default True
        Multiply by :data:`SEASONAL_PROFILE` (months counted from ``start``).
    trend_per_year : float, default 0
        Proportional change per year (0.05 = +5% a year), smooth on the log scale.
    effect : float, default 1
        Rate ratio applied from ``effect_start`` on (0.8 = a 20% drop).
    effect_start : int, optional
        Index of the first month with the effect; ``None`` means no effect.
    rng : numpy.random.Generator, optional
        Source of randomness (default ``np.random.default_rng()``).
    size : int, optional
        Draw ``size`` independent series at once (returns an array ``(size, n_months)``).
    start : str, default "2020-01"
        First month, for the index of a single series.
    log_offset : array, optional
        Added to log mu month by month (e.g. a shock common to several areas).

    Returns
    -------
    Series indexed by monthly ``PeriodIndex`` (``size=None``) or an integer array.
    """
    rng = rng or np.random.default_rng()
    months = pd.period_range(start, periods=n_months, freq="M")
    t = np.arange(n_months)
    log_mu = np.full(n_months, np.log(mean))
    if seasonal:
        log_mu = log_mu + SEASONAL_PROFILE[(months.month.to_numpy() - 1)]
    if trend_per_year:
        log_mu = log_mu + np.log1p(trend_per_year) * t / 12.0
    if effect_start is not None and effect != 1.0:
        log_mu = log_mu + np.where(t >= effect_start, np.log(effect), 0.0)
    if log_offset is not None:
        log_mu = log_mu + np.asarray(log_offset, dtype=float)
    s = latent_sd(mean, dispersion)
    if s > 0:
        e = latent_ar1(n_months, ar, s, rng, size=size)
        log_mu = log_mu + e - s * s / 2.0
    if size is not None:
        log_mu = np.broadcast_to(log_mu, (size, n_months))
    y = rng.poisson(np.exp(log_mu))
    if size is None:
        return pd.Series(y, index=months, name="count")
    return y


def simulate_panel(
    n_units: int = 20,
    n_treated: int = 5,
    n_months: int = 60,
    mean: float = 50.0,
    dispersion: float = 1.0,
    ar: float = 0.0,
    seasonal: bool = True,
    effect: float = 1.0,
    effect_start: int = 36,
    unit_sd: float = 0.3,
    common_shock_sd: float = 0.05,
    rng: np.random.Generator | None = None,
    start: str = "2020-01",
) -> pd.DataFrame:
    """A long panel of areas x months for DiD / synthetic control, the first ``n_treated`` treated.

    Units differ in level (log-normal with SD ``unit_sd``), share a month-to-month common
    shock (SD ``common_shock_sd``, the reason comparison areas help) and each carries its own
    over-dispersed AR(1) noise. Columns: ``unit``, ``month`` (Period), ``t``, ``count``,
    ``treated`` (bool), ``post`` (bool), ``level`` (the unit's expected monthly count).
    """
    rng = rng or np.random.default_rng()
    months = pd.period_range(start, periods=n_months, freq="M")
    levels = mean * np.exp(rng.normal(0.0, unit_sd, n_units) - unit_sd ** 2 / 2)
    shock = rng.normal(0.0, common_shock_sd, n_months)
    rows = []
    for u in range(n_units):
        treated = u < n_treated
        y = simulate_series(n_months, levels[u], dispersion, ar, seasonal,
                            effect=effect if treated else 1.0, effect_start=effect_start if treated else None,
                            rng=rng, start=start, log_offset=shock - common_shock_sd ** 2 / 2).to_numpy()
        rows.append(pd.DataFrame({"unit": f"U{u:03d}", "month": months, "t": np.arange(n_months), "count": y,
                                  "treated": treated, "post": np.arange(n_months) >= effect_start,
                                  "level": levels[u]}))
    return pd.concat(rows, ignore_index=True)


def monte_carlo_se(p: float, reps: int) -> float:
    """Monte Carlo standard error of a rate ``p`` estimated from ``reps`` replicates."""
    return float(np.sqrt(max(p * (1 - p), 1e-12) / max(reps, 1)))
