"""Calibration of the rate-comparison verdicts: false positives, coverage and power by simulation.

Usage::

    PYTHONPATH=. python benchmarks/calib_rates.py [--reps 1000] [--seed 1] [--quick] [--before]

:func:`run` returns one row per (test, dispersion, ar, mean, seasonal) cell with columns
``test, dispersion, ar, mean, seasonal, reps, false_positive, fp_mcse, coverage,
coverage_mcse, power, power_mcse, note`` (NaN where a metric does not apply). The data are
drawn by :mod:`csp_analysis.simulate` (Poisson-lognormal, latent AR(1), seasonal): the
``dispersion`` of a cell is the variance/mean of a *month's* count, ``ar`` the lag-1
autocorrelation of the latent monthly noise, ``mean`` the mean monthly count.

Tests (``after`` = the methods the reports use now; ``before=True`` gives today's methods on the
same seeds):

* ``year_on_year``: a partnership of 15 measures with 48 months; latest 12 months against the
  previous 12 by :func:`csp_analysis.rates.compare_periods` with the dispersion estimated by
  :func:`csp_analysis.dispersion.estimate_dispersion` (t on its df, also where the estimate is
  floored at 1, as the trends section does after issue 10). Before: exact Poisson test.
  Null: no change; power and coverage: a 15% fall in the latest 12 months.
* ``summary_family``: the same 15 null measures, shown together as the summary bullets: the
  share of reports with at least one "unlikely to be chance" (family-wise error) after Holm.
  Before: unadjusted exact tests.
* ``rri``: relative rate index of two groups from 12 monthly counts each (variance of a month's
  count ``dispersion`` x its mean): quasi-Poisson across months, allowing for correlated months
  (t on Satterthwaite df). Before: exact conditional. Null: ratio 1; power and coverage: ratio 1.3.
* ``mann_kendall`` and ``seasonal_kendall``: the long-run trend tests on 48 months (the plain test
  on series without a seasonal swing, as it assumes). Null: no trend; power: +10% a year (coverage
  of Sen's slope is not computed: NaN).

The full run (not ``quick``) also gives ``"<test> (before)"`` rows, today's methods on the same
seeds, at AR 0.5, mean 200 and dispersion 1.5 and 3, so the power lost can be read off.
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from csp_analysis import dispersion as dsp
from csp_analysis import rates, simulate
from csp_analysis.multiplicity import adjust_p_values

COLUMNS = ["test", "dispersion", "ar", "mean", "seasonal", "reps", "false_positive", "fp_mcse", "coverage",
           "coverage_mcse", "power", "power_mcse", "note"]
N_MEASURES = 15
N_MONTHS = 48
ALPHA = 0.05
YOY_EFFECT = 0.85
RRI_EFFECT = 1.3
MK_TREND = 0.10


def _rate(flags: np.ndarray) -> tuple[float, float]:
    flags = np.asarray(flags, dtype=float)
    flags = flags[np.isfinite(flags)]
    if not len(flags):
        return np.nan, np.nan
    p = float(flags.mean())
    return p, simulate.monte_carlo_se(p, len(flags))


def _draw(n, mean, phi, ar, seasonal, rng, size, effect=1.0, effect_start=None, trend=0.0):
    return simulate.simulate_series(n, mean, phi, ar, seasonal, trend_per_year=trend, effect=effect,
                                    effect_start=effect_start, rng=rng, size=size)


def _estimated_phi(y: np.ndarray, reps: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-series 12-month dispersion and df, pooling the correlation within each partnership."""
    x = dsp.seasonal_design(N_MONTHS, 1)
    x = np.column_stack([x, (np.arange(N_MONTHS) >= N_MONTHS - 12).astype(float)])
    mom = dsp._moments(y.astype(float), x, np.ones_like(y, dtype=float))
    phi_l, df_eff = np.empty(len(y)), np.empty(len(y))
    for r in range(reps):
        sl = slice(r * N_MEASURES, (r + 1) * N_MEASURES)
        phi_l[sl], df_eff[sl], *_ = dsp.combine(mom, 12, rows=sl)
    return phi_l, df_eff


def _yoy(y: np.ndarray, reps: int, before: bool) -> pd.DataFrame:
    cur, prev = y[:, -12:].sum(axis=1), y[:, -24:-12].sum(axis=1)
    if before:
        return rates.compare_periods(cur, prev)
    phi, df = _estimated_phi(y, reps)
    # the report: quasi-Poisson with t on df, also where the estimate is floored at 1 (falling back
    # to the exact test there put the summary family at 9-11% at dispersion 1.5, AR 0.5; issue 10)
    return rates.compare_periods(cur, prev, dispersion=phi, dispersion_df=df)


def _verdict(res: pd.DataFrame) -> np.ndarray:
    return ((res["p_value"] < ALPHA) & ((res["lower"] > 1) | (res["upper"] < 1))).to_numpy()


def cell_year_on_year(phi, ar, mean, seasonal, reps, rng, before=False):
    size = reps * N_MEASURES
    y0 = _draw(N_MONTHS, mean, phi, ar, seasonal, rng, size)
    y1 = _draw(N_MONTHS, mean, phi, ar, seasonal, rng, size, effect=YOY_EFFECT, effect_start=N_MONTHS - 12)
    r0, r1 = _yoy(y0, reps, before), _yoy(y1, reps, before)
    fp, fp_se = _rate(_verdict(r0))
    pw, pw_se = _rate(_verdict(r1))
    cov, cov_se = _rate(((r1["lower"] <= YOY_EFFECT) & (r1["upper"] >= YOY_EFFECT)).to_numpy())
    # family: the summary bullets of one report (15 null measures), "any false verdict"
    p = r0["p_value"].to_numpy().reshape(reps, N_MEASURES)
    if before:
        fam = (p < ALPHA).any(axis=1)
    else:
        fam = np.array([(adjust_p_values(row)["p_adjusted"].to_numpy() < ALPHA).any() for row in p])
    f, f_se = _rate(fam)
    return [
        dict(test="year_on_year", false_positive=fp, fp_mcse=fp_se, coverage=cov, coverage_mcse=cov_se,
             power=pw, power_mcse=pw_se, reps=size,
             note=f"15 measures x {reps} partnerships; power/coverage at a {1 - YOY_EFFECT:.0%} fall"),
        dict(test="summary_family", false_positive=f, fp_mcse=f_se, coverage=np.nan, coverage_mcse=np.nan,
             power=np.nan, power_mcse=np.nan, reps=reps,
             note="share of null reports with >= 1 'unlikely to be chance' among 15 bullets"
                  + ("" if before else " (Holm)")),
    ]


def cell_rri(phi, ar, mean, seasonal, reps, rng, before=False):
    from csp_analysis.disproportionality import relative_rate_index

    out = {}
    for key, ratio in (("null", 1.0), ("alt", RRI_EFFECT)):
        a = _draw(12, mean * ratio, phi, ar, seasonal, rng, reps)
        b = _draw(12, mean, phi, ar, seasonal, rng, reps)
        lo, hi, pv = np.empty(reps), np.empty(reps), np.empty(reps)
        for r in range(reps):
            d = pd.DataFrame({"group": np.repeat(["G", "White"], 12), "count": np.concatenate([a[r], b[r]]),
                              "population": 1000.0, "month": np.tile(np.arange(12), 2)})
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t = relative_rate_index(d, "group", "count", "population",
                                        period=None if before else "month")
            g = t[t["group"] == "G"].iloc[0]
            lo[r], hi[r], pv[r] = g["lower"], g["upper"], g["p_value"]
        out[key] = (lo, hi, pv)
    lo, hi, pv = out["null"]
    fp, fp_se = _rate((pv < ALPHA) & ((lo > 1) | (hi < 1)))
    lo, hi, pv = out["alt"]
    pw, pw_se = _rate((pv < ALPHA) & ((lo > 1) | (hi < 1)))
    cov, cov_se = _rate((lo <= RRI_EFFECT) & (hi >= RRI_EFFECT))
    return [dict(test="rri", false_positive=fp, fp_mcse=fp_se, coverage=cov, coverage_mcse=cov_se, power=pw,
                 power_mcse=pw_se, reps=reps, note=f"2 groups x 12 months; power/coverage at ratio {RRI_EFFECT}")]


def cell_kendall(phi, ar, mean, seasonal, reps, rng, before=False):
    from csp_analysis.trends import mann_kendall, seasonal_mann_kendall

    rows = []
    y0 = _draw(N_MONTHS, mean, phi, ar, seasonal, rng, reps)
    y1 = _draw(N_MONTHS, mean, phi, ar, seasonal, rng, reps, trend=MK_TREND)
    # the plain test assumes no seasonal swing (on a seasonal series it is very cautious): its own
    # series are drawn without one
    z0 = _draw(N_MONTHS, mean, phi, ar, False, rng, reps)
    z1 = _draw(N_MONTHS, mean, phi, ar, False, rng, reps, trend=MK_TREND)
    idx = pd.period_range("2020-01", periods=N_MONTHS, freq="M")
    for test, fn in (("mann_kendall", mann_kendall), ("seasonal_kendall", seasonal_mann_kendall)):
        kw = {"correction": "none"} if before else {}
        res = []
        for y in ((z0, z1) if test == "mann_kendall" else (y0, y1)):
            p = np.empty(reps)
            for r in range(reps):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    p[r] = fn(pd.Series(y[r], index=idx), **kw)["p_value"].iloc[0]
            res.append(p)
        fp, fp_se = _rate(res[0] < ALPHA)
        pw, pw_se = _rate(res[1] < ALPHA)
        note = f"48 months; power at +{MK_TREND:.0%} a year"
        if test == "mann_kendall":
            note += ("; series without a seasonal swing (the report uses the plain test only without 2 years of "
                     "each month)")
        rows.append(dict(test=test, false_positive=fp, fp_mcse=fp_se, coverage=np.nan, coverage_mcse=np.nan,
                         power=pw, power_mcse=pw_se, reps=reps, note=note,
                         **({"seasonal": False} if test == "mann_kendall" else {})))
    return rows


def run(reps: int = 1000, seed: int = 1, quick: bool = False, before: bool = False) -> pd.DataFrame:
    """The calibration table (see the module docstring).

    ``quick`` uses a fifth of the replicates for the year-on-year cells, 30 for the slower
    RRI and Kendall cells (a fifth of ``reps`` in the full run) and only AR 0 and 0.5;
    ``before`` runs today's methods (exact
    Poisson tests, no multiplicity adjustment, plain Kendall variance) on the same seeds.
    """
    rows = []
    ars = (0.0, 0.5) if quick else (0.0, 0.3, 0.5)
    slow_reps = 30 if quick else max(reps // 5, 50)
    # partnerships per year-on-year cell: the summary family is one replicate per partnership, so
    # the full run uses reps / 4 of them (3,750 comparisons at the default 1000)
    n_yoy = max(reps // 5 // N_MEASURES, 20) if quick else max(reps // 4, 20)
    for i_phi, phi in enumerate((1.0, 1.5, 3.0)):
        for i_ar, ar in enumerate(ars):
            for i_m, mean in enumerate((20.0, 200.0, 2000.0)):
                cell_seed = [seed, i_phi, i_ar, i_m]
                key = dict(dispersion=phi, ar=ar, mean=mean, seasonal=True)
                # the methods before issue 10 on the same seeds, where it is cheap (the full run only)
                befores = (False, True) if (not quick and not before and ar == 0.5 and mean == 200.0
                                            and phi > 1) else (before,)
                for b in befores:
                    for i_fn, (fn, n) in enumerate(((cell_year_on_year, n_yoy),
                                                    (cell_rri, slow_reps), (cell_kendall, slow_reps))):
                        rng = np.random.default_rng(cell_seed + [i_fn])
                        for row in fn(phi, ar, mean, True, n, rng, before=b):
                            if b and not before:
                                row = {**row, "test": row["test"] + " (before)"}
                            rows.append({**key, **row})
    return pd.DataFrame(rows)[COLUMNS]


def _markdown(df: pd.DataFrame) -> str:
    t = df.copy()
    for c in ("false_positive", "fp_mcse", "coverage", "coverage_mcse", "power", "power_mcse"):
        t[c] = t[c].map(lambda v: "" if pd.isna(v) else f"{v:.3f}")
    head = "| " + " | ".join(t.columns) + " |\n|" + "---|" * len(t.columns) + "\n"
    return head + "\n".join("| " + " | ".join(str(v) for v in r) + " |" for r in t.itertuples(index=False))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--before", action="store_true", help="today's methods on the same seeds")
    a = ap.parse_args()
    t0 = time.perf_counter()
    out = run(a.reps, a.seed, a.quick, a.before)
    print(_markdown(out))
    print(f"\n{len(out)} cells in {time.perf_counter() - t0:.0f} s")
