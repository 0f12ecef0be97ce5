"""Minimum detectable effect (MDE) for an interrupted time series of counts.

Given the pre-intervention series and the planned length of the post period,
how large a step change would an interrupted time series analysis detect with
the required power? Use it *before* a scheme is evaluated (or to explain a
non-significant result): if the MDE is a 30% fall, a real 10% fall will usually
go undetected.

Method (analytic, Wald-test approximation)
-----------------------------------------
1. Fit the baseline model to the pre-period counts: log-linear trend plus the
   chosen seasonal terms, Poisson / quasi-Poisson / negative binomial. The
   quasi-Poisson dispersion :math:`\\phi = X^2/(n-p)` is floored at 1 (so
   under-dispersion never makes the MDE optimistic).
2. Project the expected counts :math:`\\mu_t` over the post period (trend and
   seasonality continued): the counterfactual.
3. Build the ITS design matrix over pre + post periods (same terms as
   :func:`~csp_analysis.interventions.interrupted_time_series`: trend, level
   change, optional slope change, seasonality). The Fisher information is
   :math:`I = X^\\top W X` with :math:`W = \\mathrm{diag}(\\mu_t/\\phi)`
   (quasi-Poisson) or :math:`\\mathrm{diag}(\\mu_t/(1+\\alpha\\mu_t))` (NB2), and
   :math:`\\mathrm{Var}(\\hat\\delta) = [I^{-1}]_{\\delta\\delta}` for the level
   change :math:`\\delta` (log rate ratio).
4. The MDE solves :math:`|\\delta| = (z_{1-\\alpha/2} + z_{\\text{power}})
   \\sqrt{\\mathrm{Var}(\\hat\\delta; \\delta)}`, where the post-period means are
   multiplied by :math:`e^{\\delta}` (fixed-point iteration), separately for a
   fall and a rise. The negligible probability of rejecting in the wrong
   direction is ignored.

The approximation assumes the fitted baseline (trend, seasonality, dispersion)
is correct and that residuals are not autocorrelated; positive autocorrelation
increases the true MDE. The tests check it against simulated power of the
actual estimator.

References
----------
Zhang, F., Wagner, A. K. & Ross-Degnan, D. (2011). Simulation-based power
calculation for designing interrupted time series analyses of health policy
interventions. *Journal of Clinical Epidemiology* 64:1252-1261.
McCullagh, P. & Nelder, J. A. (1989). *Generalized Linear Models*, 2nd ed.,
sections 2.5 and 9.2 (quasi-likelihood). Chapman & Hall.
Bloom, H. S. (1995). Minimum detectable effects: a simple way to report the
statistical power of experimental designs. *Evaluation Review* 19:547-556.
"""
from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from ..count_engine import (
    fit_poisson_batch,
    negbin_alpha_ml,
    robust_df,
    serial_variance,
    serial_variance_batch,
)
from ..contract import significance_level
from ._results import InterventionResult, TimeAxis, check_confidence, make_table
from .its import AUTO_SEASONAL_MIN_PRE, its_design

_negbin_alpha = negbin_alpha_ml

__all__ = ["minimum_detectable_effect", "MDEResult"]

MDE_FAMILIES = ("poisson", "quasipoisson", "negbin")
DESIGNS = ("its",)


class MDEResult(InterventionResult):
    """Result of :func:`minimum_detectable_effect`.

    Attributes
    ----------
    table : pandas.DataFrame
        Rows ``mde_decrease`` and ``mde_increase``; ``estimate`` is the percentage
        change in the expected count (e.g. -14.2), with extra columns
        ``rate_ratio``, ``se_log`` (standard error of the log rate ratio at that
        effect), ``power`` and ``alpha``. ``lower``, ``upper`` and ``p_value`` are
        NaN (an MDE is a design quantity, not an estimate).
    baseline : pandas.DataFrame
        Expected counts without an intervention for every pre and post period
        (``expected``), and whether the period is ``post``.
    dispersion : float
        Quasi-Poisson dispersion used (1 for Poisson; for NB2 see ``negbin_alpha``).
    negbin_alpha : float or None
    """

    def __init__(self, **kw: Any):
        self.__dict__.update(kw)

    def se_log(self, log_rr: float) -> float:
        """Standard error of the estimated log rate ratio if the true one is ``log_rr``
        (by simulation: the mean standard error of the simulated fits)."""
        if self._sim is not None:
            return self._sim(log_rr)[1]
        mu = self._mu0 * np.where(self._post, math.exp(log_rr), 1.0)
        if self.family == "negbin":
            w = mu / (1.0 + self.negbin_alpha * mu)
        else:
            w = mu / self.dispersion
        info = self._X.T @ (w[:, None] * self._X)
        cov = np.linalg.inv(info)
        return float(math.sqrt(cov[self._k, self._k]))

    def power_at(self, percent_change: float) -> float:
        """Approximate power to detect a step change of ``percent_change`` % (two-sided)."""
        if percent_change <= -100:
            raise ValueError("`percent_change` must be greater than -100")
        d = math.log1p(percent_change / 100.0)
        if self._sim is not None:
            return float(self._sim(d)[0])
        if d == 0:
            return float(self.alpha)
        z = stats.norm.ppf(1 - self.alpha / 2)
        r = abs(d) / self.se_log(d)
        return float(stats.norm.cdf(r - z) + stats.norm.cdf(-r - z))

    def summary(self) -> str:
        dec, inc = self.table.loc["mde_decrease"], self.table.loc["mde_increase"]
        ax: TimeAxis = self.axis
        season = {None: "no seasonal terms", "fourier": f"{self.harmonics} Fourier pair(s)",
                  "month": "period-of-year dummies"}[self.seasonality]
        disp = (f"negative binomial alpha {self.negbin_alpha:.3g}" if self.family == "negbin"
                else f"dispersion {self.dispersion:.2f}")
        lines = [
            f"Minimum detectable effect for an interrupted time series ({self.family}, {season}"
            f"{', with slope change' if self.slope_change else ', step change only'}): "
            f"{self.n_pre} {ax.unit}s before (mean {self.mean_pre:.1f} per {ax.unit}, {disp}) and "
            f"{self.post_periods} {ax.unit}s after the start.",
            f"With {self.power:.0%} power and a two-sided {self.alpha:g} significance level, the "
            f"smallest detectable step change is a fall of {abs(dec.estimate):.1f}% or a rise of "
            f"{inc.estimate:.1f}% in the expected count.",
            "Smaller real effects may well exist but would probably not be distinguishable from "
            "normal variation; a longer post period or pooling similar areas lowers the MDE.",
            ("Method: the power was found by simulating the after period many times from the "
             "fitted before period (its trend, seasonal pattern, over-dispersion and month-to-month "
             f"autocorrelation, lag-1 correlation {self.serial_lag1:.2f}) and analysing each "
             "simulated series as the evaluation will (interrupted time series with "
             "autocorrelation-robust standard errors)."
             if self._sim is not None else
             "Assumptions: residuals are not autocorrelated (positive autocorrelation makes the "
             "true MDE larger)."),
            "The pre-period trend, seasonality and variability are estimated from the data, so the "
            "MDE is itself uncertain, and it assumes the evaluation will use the same model.",
        ]
        return "\n".join(lines)

    def plot(self, ax: Any = None) -> Any:
        """Power curve against the size of the step change."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4.5))
        lo = max(-90.0, 2 * self.table.loc["mde_decrease", "estimate"])
        hi = 2 * self.table.loc["mde_increase", "estimate"]
        grid = np.linspace(lo, hi, 121)
        pw = [self.power_at(g) if abs(g) > 1e-9 else self.alpha for g in grid]
        ax.plot(grid, pw, color="tab:blue")
        ax.axhline(self.power, color="grey", ls=":", lw=1)
        for k in ("mde_decrease", "mde_increase"):
            ax.axvline(self.table.loc[k, "estimate"], color="tab:red", ls="--", lw=1)
        ax.set_ylim(0, 1)
        ax.set_title(f"Power of the interrupted time series ({self.post_periods} {self.axis.unit}s "
                     "after the start)")
        ax.set_xlabel("Step change in the expected count (%)")
        ax.set_ylabel(f"Power (two-sided test at {self.alpha:g})")
        return ax


def minimum_detectable_effect(
    series: Any, post_periods: int, design: str = "its", power: float = 0.8,
    alpha: float | None = None, *, confidence: float | None = None, family: str = "quasipoisson",
    seasonality: str | None = "auto", harmonics: int = 2, period: int = 12,
    slope_change: bool = False, autocorrelation: str | None = "auto", n_sim: int = 400,
    seed: int = 20240601,
) -> MDEResult:
    """Smallest step change an interrupted time series would detect.

    Parameters
    ----------
    series : pandas.Series or array-like
        Pre-intervention counts in time order. A Series with a DatetimeIndex or
        PeriodIndex aligns the seasonal terms to calendar months; otherwise the
        periods are numbered 1, 2, ...
    post_periods : int
        Planned number of post-intervention periods.
    design : {"its"}
        Study design; only the single-series ITS step change is implemented.
    power : float
        Required power (default 0.8).
    alpha : float, optional
        Deprecated (a :class:`DeprecationWarning`): use ``confidence``.
    confidence : float, default 0.95
        The test is two-sided at level ``1 - confidence`` (0.05).
    family : {"quasipoisson", "poisson", "negbin"}
        Model for the counts (default quasi-Poisson).
    seasonality : {"auto", "fourier", "month", None}
        Seasonal terms in the model. ``"auto"`` (default, as the ITS): one indicator
        per calendar month for a monthly series of at least 24 months, else none.
    harmonics, period : int
        Fourier pairs and cycle length.
    slope_change : bool
        Whether the evaluation model will also include a slope change (this
        makes the level change less precise and the MDE larger).
    autocorrelation : {"auto", None}
        ``"auto"`` (default): MDE by simulation (module docstring), for the default
        (autocorrelation-robust) analysis of
        :func:`~csp_analysis.interventions.interrupted_time_series`. ``None``: the
        analytic Wald approximation assuming independent months (as before).
    n_sim : int
        Simulated series per power evaluation (default 400; power Monte Carlo SE about
        0.02, common random numbers across effect sizes).
    seed : int
        Seed of the simulation (the MDE is reproducible).

    Returns
    -------
    MDEResult

    Raises
    ------
    ValueError
        Unknown design or family, too short a series, negative or missing counts.

    References
    ----------
    Zhang, Wagner & Ross-Degnan (2011), *J Clin Epidemiol* 64:1252-1261; Bloom
    (1995), *Evaluation Review* 19:547-556.
    """
    # steps: validation, data, design (baseline fit and projection), fit (simulator), result
    power, alpha = _check_mde_arguments(design, family, seasonality, autocorrelation, n_sim, power,
                                        alpha, confidence, post_periods, period, harmonics)
    axis, ords, y = _prepare_counts(series)
    seasonality, X_all, X_pre, all_ords = _mde_design(
        y, axis, ords, post_periods, seasonality, harmonics, period, slope_change, autocorrelation)
    base, dispersion, alpha_nb = _fit_baseline(y, X_pre, family)
    X_full, mu0, post, k = _project_baseline(base, X_all, X_pre, len(y), post_periods)
    sim, serial_lag1, method = _power_model(autocorrelation, y, X_pre, base, X_full, mu0, post, k,
                                            family, alpha_nb, alpha, n_sim, seed)
    res = MDEResult(
        _X=X_full, _mu0=mu0, _post=post, _k=k, _sim=sim, serial_lag1=serial_lag1, family=family,
        dispersion=dispersion, negbin_alpha=alpha_nb, alpha=alpha, power=power, axis=axis,
        n_pre=len(y), post_periods=int(post_periods), seasonality=seasonality,
        harmonics=harmonics, slope_change=slope_change, mean_pre=float(y.mean()),
        baseline=pd.DataFrame({"time": axis.labels(all_ords), "expected": mu0, "post": post}),
    )
    res.table = make_table(_mde_rows(res, sim, method),
                           extra=["rate_ratio", "se_log", "power", "alpha"])
    return res


def _power_model(autocorrelation, y, X_pre, base, X_full, mu0, post, k, family, alpha_nb, alpha,
                 n_sim, seed):
    """Fit step: the power simulator (``autocorrelation="auto"``) or none (analytic):
    ``(simulator or None, lag-1 correlation, method text)``."""
    if autocorrelation != "auto":
        return None, float("nan"), f"analytic Wald approximation ({family} ITS, Fisher information)"
    sim, serial_lag1 = _simulator(y, X_pre.to_numpy(dtype=float), base, X_full, mu0, post, k,
                                  family, alpha_nb, alpha, int(n_sim), int(seed))
    return sim, serial_lag1, (f"simulation ({int(n_sim)} series per effect size; {family} noise "
                              "with the fitted over-dispersion and autocorrelation; ITS with "
                              "autocorrelation-robust errors)")


def _check_mde_arguments(design, family, seasonality, autocorrelation, n_sim, power, alpha,
                         confidence, post_periods, period, harmonics) -> tuple[float, float]:
    """Validation step: the options; returns ``(power, alpha)``."""
    if design not in DESIGNS:
        raise ValueError(f"`design` must be one of {DESIGNS}, got {design!r}")
    if family not in MDE_FAMILIES:
        raise ValueError(f"`family` must be one of {MDE_FAMILIES}, got {family!r}")
    if seasonality not in (None, "fourier", "month", "auto"):
        raise ValueError(f"`seasonality` must be 'auto', None, 'fourier' or 'month', got {seasonality!r}")
    if autocorrelation not in ("auto", None):
        raise ValueError(f"`autocorrelation` must be 'auto' or None, got {autocorrelation!r}")
    if not isinstance(n_sim, (int, np.integer)) or isinstance(n_sim, bool) or n_sim < 50:
        raise ValueError(f"`n_sim` must be an integer >= 50, got {n_sim!r}")
    power = check_confidence(power, "power")
    alpha = significance_level(alpha, 0.95 if confidence is None else confidence,
                               function="minimum_detectable_effect")
    if not isinstance(post_periods, (int, np.integer)) or isinstance(post_periods, bool) \
            or post_periods < 1:
        raise ValueError(f"`post_periods` must be a positive integer, got {post_periods!r}")
    if not isinstance(period, (int, np.integer)) or period < 2:
        raise ValueError(f"`period` must be an integer >= 2, got {period!r}")
    if seasonality == "fourier" and not (isinstance(harmonics, (int, np.integer))
                                         and 1 <= harmonics <= period // 2):
        raise ValueError(f"`harmonics` must be an integer from 1 to {period // 2}, got {harmonics!r}")
    return power, alpha


def _prepare_counts(series) -> tuple[TimeAxis, np.ndarray, np.ndarray]:
    """Validation of the values: ``(time axis, ordinals, counts)`` in time order."""
    if isinstance(series, pd.DataFrame):
        raise ValueError("`series` must be one-dimensional (a Series or array), not a DataFrame")
    if isinstance(series, pd.Series) and isinstance(series.index, (pd.DatetimeIndex, pd.PeriodIndex)):
        axis, ords, _ = TimeAxis.from_values(pd.Series(series.index), "series index")
        order = np.argsort(ords)
        y = series.to_numpy(dtype=float)[order]
        ords = ords[order]
        if (np.diff(ords) != 1).any():
            raise ValueError("`series`: the months must be consecutive with no gaps or duplicates")
    else:
        y = np.asarray(series, dtype=float).ravel()
        axis = TimeAxis("integer")
        ords = np.arange(1, len(y) + 1)
    if np.isnan(y).any() or np.isinf(y).any():
        raise ValueError("`series` contains missing or infinite values")
    if (y < 0).any():
        raise ValueError("`series` contains negative values; counts must be >= 0")
    return axis, ords, y


def _mde_design(y, axis, ords, post_periods, seasonality, harmonics, period, slope_change,
                autocorrelation):
    """Design step: ``(seasonality, ITS design over before + after, baseline design of the
    before period, ordinals of before + after)``, with the checks that the before period can
    identify it."""
    n_pre = len(y)
    if seasonality == "auto":
        seasonality = ("month" if axis.kind == "month" and period == 12
                       and n_pre >= AUTO_SEASONAL_MIN_PRE else None)
    all_ords = np.r_[ords, ords[-1] + np.arange(1, post_periods + 1)]
    start = int(ords[-1] + 1)
    X_all = its_design(all_ords, start, slope_change=slope_change, seasonality=seasonality,
                       harmonics=harmonics, period=period)
    base_cols = [c for c in X_all.columns if c not in ("level_change", "slope_change")]
    X_pre = X_all.loc[: n_pre - 1, base_cols]
    if seasonality == "month" and not (X_pre != 0).any(axis=0).all():
        raise ValueError("`series`: with seasonality='month' the pre-period must cover every "
                         "position in the seasonal cycle at least once")
    if n_pre - X_pre.shape[1] < 3 or np.linalg.matrix_rank(X_pre.to_numpy()) < X_pre.shape[1]:
        raise ValueError(f"`series`: {n_pre} pre-period values are too few for a model with "
                         f"{X_pre.shape[1]} baseline terms")
    if y.sum() == 0:
        raise ValueError("`series` is all zeros; no MDE can be computed")
    if autocorrelation == "auto" and n_pre < 12:
        raise ValueError(f"`series`: {n_pre} pre-period values are too few to estimate the "
                         "variability and autocorrelation (at least 12 are needed; or use "
                         "autocorrelation=None)")
    return seasonality, X_all, X_pre, all_ords


def _fit_baseline(y, X_pre, family):
    """Fit step: the before-period model, ``(statsmodels fit, dispersion, NB alpha or None)``.

    Poisson GLM; quasi-Poisson dispersion X2/df floored at 1; for ``negbin`` the NB2 model
    refitted with the maximum-likelihood alpha.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = sm.GLM(y, X_pre, family=sm.families.Poisson()).fit()
    dispersion = 1.0
    alpha_nb = None
    if family == "quasipoisson":
        dispersion = max(1.0, float(base.pearson_chi2 / base.df_resid))
    elif family == "negbin":
        alpha_nb = _negbin_alpha(y, X_pre, np.zeros(len(y)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            base = sm.GLM(y, X_pre, family=sm.families.NegativeBinomial(alpha=max(alpha_nb, 1e-10))
                          ).fit()
    return base, dispersion, alpha_nb


def _project_baseline(base, X_all, X_pre, n_pre, post_periods):
    """The counterfactual means over before + after: ``(X_full, mu0, post mask, index of
    level_change)``."""
    cols = list(X_pre.columns) + [c for c in ("level_change", "slope_change") if c in X_all]
    X_full = X_all[cols].to_numpy(dtype=float)
    beta = np.r_[base.params.to_numpy(), np.zeros(len(cols) - X_pre.shape[1])]
    mu0 = np.exp(X_full @ beta)
    post = np.r_[np.zeros(n_pre, bool), np.ones(post_periods, bool)]
    return X_full, mu0, post, cols.index("level_change")


def _mde_rows(res: MDEResult, sim, method) -> list[dict]:
    """Result assembly: the ``mde_decrease`` / ``mde_increase`` rows.

    The analytic MDE solves ``|d| = (z_{1-alpha/2} + z_power) se(d)`` by fixed-point
    iteration; the simulated one finds the effect whose simulated power is ``power``.
    """
    power, alpha = res.power, res.alpha
    mult = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    rows = []
    for name, sign in (("mde_decrease", -1.0), ("mde_increase", 1.0)):
        d = sign * mult * res.se_log(0.0)
        if sim is None:
            for _ in range(100):  # fixed point: |d| = mult * se(d)
                d_new = sign * mult * res.se_log(d)
                if abs(d_new - d) < 1e-10:
                    d = d_new
                    break
                d = d_new
        else:
            d = _solve_power(lambda x: sim(x)[0], d, power)
        rows.append({
            "effect": name, "estimate": (math.exp(d) - 1) * 100, "confidence": float("nan"),
            "method": method,
            "scale": "% change in expected count", "rate_ratio": math.exp(d),
            "se_log": res.se_log(d), "power": power, "alpha": alpha,
        })
    return rows


def _solve_power(power_fn, d0: float, target: float) -> float:
    """Effect ``d`` (same sign as ``d0``) at which the simulated power reaches ``target``.

    Bracketing then bisection on ``|d|`` (9 halvings: 0.2% of the bracket); with common
    random numbers the simulated power is monotone up to Monte Carlo noise.
    """
    sign = 1.0 if d0 > 0 else -1.0
    lo, hi = 0.0, max(abs(d0), 1e-3)
    for _ in range(30):
        if power_fn(sign * hi) >= target or hi > 5:
            break
        lo, hi = hi, hi * 1.6
    for _ in range(9):
        mid = 0.5 * (lo + hi)
        if power_fn(sign * mid) >= target:
            hi = mid
        else:
            lo = mid
    return sign * hi


def _simulator(y, X_pre, base, X_full, mu0, post, k, family, alpha_nb, alpha, n_sim, seed):
    """Power and mean SE of the default ITS for a planted log step ``d``, by simulation.

    Noise model fitted to the pre-period (the generating model of
    :mod:`csp_analysis.simulate`): log mu_t = log mu0_t + d post_t + u_t + w_t - var/2 with
    u an AR(1) process (SD s_l, coefficient a) and w white noise (SD s_w), then Poisson
    counts. From the pre-period Pearson residual covariance ``v_w I + v_l R(a)`` of the
    engine's moment estimator: s_l^2 = v_l / mean(mu), s_w^2 = max(v_w - 1, 0) / mean(mu)
    (a month with mean m has variance/mean 1 + m s^2 to first order). ``poisson``: no
    latent noise; ``negbin``: white part from the NB alpha (s_w^2 = log(1 + alpha)).
    Each simulated series is fitted by Poisson IRLS (vectorised) with the
    autocorrelation-robust variance, computed at the true means of the simulated design
    (shared hat matrix, a close and much faster approximation of per-series weights).

    Returns ``(simulator, lag-1 correlation of the before period)``; the simulator maps
    ``d`` to ``(power, mean SE)`` (:class:`_PowerSimulator`).
    """
    rng = np.random.default_rng(seed)
    a, s_l2, s_w2, lag1 = _noise_model(X_pre, base, family, alpha_nb, n_sim, rng)
    return _PowerSimulator(X_full, mu0, post, k, alpha, (a, s_l2, s_w2), n_sim, rng), lag1


def _draw_latent(rng, a, s_l2, s_w2, size, n):
    """Latent log-scale noise: AR(1) (coefficient ``a``, variance ``s_l2``) plus white
    (variance ``s_w2``), centred so that the mean count is unchanged."""
    z = rng.standard_normal((size, n))
    u = np.empty_like(z)
    u[:, 0] = z[:, 0]
    for t in range(1, n):
        u[:, t] = a * u[:, t - 1] + math.sqrt(1 - a * a) * z[:, t]
    return math.sqrt(s_l2) * u + math.sqrt(s_w2) * rng.standard_normal((size, n)) - (s_l2 + s_w2) / 2


def _noise_model(X_pre, base, family, alpha_nb, n_sim, rng):
    """The noise fitted to the before period: ``(a, s_l^2, s_w^2, lag-1 correlation)``."""
    mu_pre = np.asarray(base.mu, dtype=float)
    ser = serial_variance(np.asarray(base.resid_pearson), X_pre, mu_pre)
    if family == "poisson":
        return 0.0, 0.0, 0.0, float(ser["lag1"])
    mbar = float(mu_pre.mean())
    a = ser["ar"]
    vl, vw = ser["latent"], ser["white"]
    # One parametric-bootstrap bias correction of (v_l, v_w): from one short series the
    # moment estimates are biased (v_l >= 0 is imposed, so pure noise shows some
    # "persistence"); without it the MDE was conservative (power about 0.9-0.98).
    Yb = rng.poisson(mu_pre[None, :] * np.exp(_draw_latent(rng, a, vl / mbar, max(vw - 1, 0) / mbar,
                                                            n_sim, len(mu_pre))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, mub, _ = fit_poisson_batch(Yb, X_pre, start=np.asarray(base.params, dtype=float))
    Bp = X_pre * np.sqrt(mu_pre)[:, None]
    outb = serial_variance_batch((Yb - mub) / np.sqrt(mub), Bp, np.linalg.inv(Bp.T @ Bp), shared=True)
    vl = max(0.0, 2 * vl - float(np.mean(outb["latent"])))
    vw = max(1.0, 2 * vw - float(np.mean(outb["white"])))
    s_l2 = vl / mbar
    s_w2 = max(vw - 1.0, 0.0) / mbar
    if family == "negbin":
        s_w2 = math.log1p(alpha_nb or 0.0)
    return a, s_l2, s_w2, float(ser["lag1"])


class _PowerSimulator:
    """``sim(d) -> (power, mean SE)`` of the default ITS for a planted log step ``d``.

    The same latent noise and uniforms serve every ``d`` (common random numbers), so the
    counts of the before period, which do not depend on ``d``, are drawn once (the Poisson
    quantile function is most of the cost of an evaluation); results are cached by ``d``.
    """

    def __init__(self, X_full, mu0, post, k, alpha, noise, n_sim, rng):
        n, p = X_full.shape
        self.X_full, self.mu0, self.post, self.k = X_full, mu0, post, k
        self.lat = _draw_latent(rng, *noise, n_sim, n)
        self.unif = rng.random((n_sim, n))
        self.q = stats.t.ppf(1 - alpha / 2, robust_df(n, p))
        self.beta0 = np.linalg.lstsq(X_full, np.log(mu0), rcond=None)[0]
        self.y_before = stats.poisson.ppf(self.unif[:, ~post],
                                          mu0[None, ~post] * np.exp(self.lat[:, ~post]))
        self.cache: dict[float, tuple[float, float]] = {}

    def __call__(self, d: float) -> tuple[float, float]:
        key = round(float(d), 12)
        if key not in self.cache:
            self.cache[key] = self._evaluate(d)
        return self.cache[key]

    def counts(self, d: float) -> np.ndarray:
        """The simulated series (one per row) with a planted log step ``d``: Poisson
        quantiles of the shared uniforms at ``mu0 exp(d post + latent)``."""
        post = self.post
        mu_true = self.mu0 * np.exp(d * post)
        Y = np.empty_like(self.unif)
        Y[:, ~post] = self.y_before
        Y[:, post] = stats.poisson.ppf(self.unif[:, post],
                                       mu_true[None, post] * np.exp(self.lat[:, post]))
        return Y

    def _evaluate(self, d: float) -> tuple[float, float]:
        X_full, post, k = self.X_full, self.post, self.k
        mu_true = self.mu0 * np.exp(d * post)
        Y = self.counts(d)
        start = self.beta0.copy()
        start[k] += d
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            beta, mu, _ = fit_poisson_batch(Y, X_full, start=start)
        B = X_full * np.sqrt(mu_true)[:, None]
        Ainv = np.linalg.inv(B.T @ B)
        out = serial_variance_batch((Y - mu) / np.sqrt(mu), B, Ainv, shared=True)
        se = np.sqrt(out["cov"][:, k, k])
        zs = beta[:, k] / se
        if d == 0:
            pw = float(np.mean(np.abs(zs) > self.q))
        else:
            pw = float(np.mean((np.abs(zs) > self.q) & (np.sign(zs) == np.sign(d))))
        return pw, float(np.mean(se))
