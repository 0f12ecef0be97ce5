"""Calibration of the count-model verdicts: ITS level change, long-run trend, MDE, DiD.

Series are drawn by :mod:`csp_analysis.simulate` (Poisson-lognormal with AR(1) latent
noise: over-dispersed, autocorrelated, seasonal monthly counts) and analysed with the
public functions at their default (report) settings:

* ``its_level``: :func:`interrupted_time_series` (36 months before, 24 after, step
  change only, default autocorrelation-robust inference and calendar-month terms).
  False positives from null series; coverage and power from series with a planted 20%
  drop (rate ratio 0.8).
* ``trend``: :func:`fit_count_trend` on 60 months (default negative binomial with
  autocorrelation-robust errors): false positives with no trend; coverage of the
  planted -5% a year and power against it.
* ``mde``: :func:`minimum_detectable_effect` on the 36 before months, then a series
  with a planted drop of exactly the stated MDE analysed by the default ITS: achieved
  power (should be 0.80).
* ``did``: :func:`difference_in_differences` on ``simulate_panel`` (5 treated of 20
  areas, 60 months, start at month 36; dispersion 1.5/3, AR 0.3/0.5, mean 50/200): the
  report's call (Poisson, unit and period effects, clustered by area) with its default
  interval, the wild cluster restricted score bootstrap; false positives, coverage
  (effect 0.8) and power. ``did (before)`` (CR1, t with Welch-Satterthwaite df) and
  ``did_report (before)`` (the report's former cautious interval: the larger of the CR1
  and model-based SE) come from the same fits.

``before=True`` rows (``test`` ending in ``(before)``) repeat a cell with today's
(pre-issue-10) settings and the same seeds: ITS quasi-Poisson with Fourier terms and
model-based errors, trend with model-based errors, the analytic MDE.

Run ``python benchmarks/calib_models.py`` (full grid: ITS + trend 8 min, MDE 4.5 min, DiD about
10 min of CPU on one core; ``calibration.py --parts`` splits it over processes) or
``--quick`` (under a minute); each model fit is a full public-function call, so fits
use ``min(reps, 400)`` replicates (MDE 100, DiD 200; see column ``reps``) and the
Monte Carlo standard errors are shown.
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    # one BLAS thread: small matrices, and multi-threaded BLAS on a shared machine is
    # many times slower in wall time
    os.environ.setdefault(_v, "1")

import sys
import time
import warnings

import numpy as np
import pandas as pd

from csp_analysis.interventions import (
    difference_in_differences,
    interrupted_time_series,
    minimum_detectable_effect,
)
from csp_analysis.simulate import monte_carlo_se, simulate_panel, simulate_series
from csp_analysis.trends import fit_count_trend

COLUMNS = ["test", "dispersion", "ar", "mean", "seasonal", "reps", "false_positive", "fp_mcse",
           "coverage", "coverage_mcse", "power", "power_mcse", "note"]
N_PRE, N_POST, EFFECT = 36, 24, 0.8
TREND = -0.05


def _row(test, disp, ar, mean, reps, fp=np.nan, cov=np.nan, pw=np.nan, note=""):
    se = lambda v: monte_carlo_se(v, reps) if np.isfinite(v) else np.nan  # noqa: E731
    return {"test": test, "dispersion": disp, "ar": ar, "mean": mean, "seasonal": True, "reps": reps,
            "false_positive": fp, "fp_mcse": se(fp), "coverage": cov, "coverage_mcse": se(cov),
            "power": pw, "power_mcse": se(pw), "note": note}


def _its(y: pd.Series, before: bool):
    df = pd.DataFrame({"m": y.index, "y": y.to_numpy()})
    kw = dict(family="quasipoisson", seasonality="fourier", autocorrelation=None) if before else {}
    return interrupted_time_series(df, "y", "m", y.index[N_PRE], slope_change=False, **kw).table.loc["level_change"]


def its_cell(disp, ar, mean, reps, seed, before=False):
    rng = np.random.default_rng(seed)
    fp = cov = pw = 0
    for _ in range(reps):
        r0 = _its(simulate_series(N_PRE + N_POST, mean, disp, ar, True, rng=rng), before)
        fp += r0.p_value < 0.05
        r1 = _its(simulate_series(N_PRE + N_POST, mean, disp, ar, True, effect=EFFECT, effect_start=N_PRE,
                                  rng=rng), before)
        cov += r1.lower <= EFFECT <= r1.upper
        pw += (r1.p_value < 0.05) and r1.estimate < 1
    return _row("its_level" + (" (before)" if before else ""), disp, ar, mean, reps, fp / reps, cov / reps,
                pw / reps, "planted rate ratio 0.8 for coverage/power")


def trend_cell(disp, ar, mean, reps, seed, before=False):
    rng = np.random.default_rng(seed)
    kw = {"autocorrelation": None} if before else {}
    fp = cov = pw = 0
    for _ in range(reps):
        r0 = fit_count_trend(simulate_series(60, mean, disp, ar, True, rng=rng), **kw).table.iloc[0]
        fp += r0.p_value < 0.05
        r1 = fit_count_trend(simulate_series(60, mean, disp, ar, True, trend_per_year=TREND, rng=rng),
                             **kw).table.iloc[0]
        cov += r1.lower <= 100 * TREND <= r1.upper  # the table's value is the annual % change
        pw += (r1.p_value < 0.05) and r1.value < 0
    return _row("trend" + (" (before)" if before else ""), disp, ar, mean, reps, fp / reps, cov / reps,
                pw / reps, "60 months; coverage and power at a planted -5%/year")


def mde_cell(disp, ar, mean, reps, seed, before=False):
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(reps):
        pre = simulate_series(N_PRE + N_POST, mean, disp, ar, True, rng=rng).iloc[:N_PRE]
        m = minimum_detectable_effect(pre, N_POST, n_sim=200, **({"autocorrelation": None,
                                                                  "seasonality": "fourier"} if before else {}))
        rr = float(m.table.loc["mde_decrease", "rate_ratio"])
        r = _its(simulate_series(N_PRE + N_POST, mean, disp, ar, True, effect=rr, effect_start=N_PRE, rng=rng),
                 before)
        hits += (r.p_value < 0.05) and r.estimate < 1
    return _row("mde" + (" (before)" if before else ""), disp, ar, mean, reps, pw=hits / reps,
                note="achieved power at the stated 80% MDE (fall)")


def _did(p):
    p = p.assign(treated=p["treated"].astype(int), post=p["post"].astype(int),
                 month=p["month"].dt.to_timestamp())
    # the report's call (Poisson, unit and period effects, clustered by area); the event
    # study and pre-trend checks do not change the ``did`` row and are skipped for speed
    return difference_in_differences(p, "count", "treated", "post", unit="unit", time="month",
                                     family="poisson", unit_effects=True, event_study=False)


def _did_before(r):
    """(lower, upper, p, estimate) of the pre-issue-10 intervals from the same fit: the
    function's CR1 t interval and the report's cautious one (the larger of the CR1 and
    quasi-Poisson model-based SE, same t df)."""
    from scipy import stats

    row = r.table.loc["did"]
    b = float(np.log(row.estimate))
    ref = stats.t(r.df) if r.df is not None else stats.norm()
    out = {}
    for name, se in (("did (before)", float(row.se)),
                     ("did_report (before)", max(float(row.se), float(r.se_model)))):
        c = float(ref.ppf(0.975))
        out[name] = (np.exp(b - c * se), np.exp(b + c * se), float(2 * ref.sf(abs(b / se))), row.estimate)
    return out


def did_cells(disp, ar, mean, reps, seed, n_units=20, n_treated=5):
    """DiD rows from the same fits: ``did`` (the function's default and the report's
    interval: wild cluster restricted score bootstrap) and, as ``(before)`` rows, the CR1
    interval with a Welch-Satterthwaite t df and the report's former cautious interval."""
    rng = np.random.default_rng(seed)
    names = ("did", "did (before)", "did_report (before)")
    counts = {w: [0, 0, 0] for w in names}
    for _ in range(reps):
        fits = (_did(simulate_panel(n_units, n_treated, 60, mean, disp, ar, rng=rng)),
                _did(simulate_panel(n_units, n_treated, 60, mean, disp, ar, effect=EFFECT, rng=rng)))
        vals = {w: [] for w in names}
        for r in fits:
            row = r.table.loc["did"]
            vals["did"].append((row.lower, row.upper, row.p_value, row.estimate))
            for k, v in _did_before(r).items():
                vals[k].append(v)
        for w in names:
            c, v = counts[w], vals[w]
            c[0] += v[0][2] < 0.05
            c[1] += v[1][0] <= EFFECT <= v[1][1]
            c[2] += (v[1][2] < 0.05) and v[1][3] < 1
    note = f"{n_treated} treated of {n_units} areas, 60 months; effect 0.8"
    return [_row(w, disp, ar, mean, reps, *(v / reps for v in counts[w]), note) for w in names]


def to_markdown(table: pd.DataFrame) -> str:
    """Markdown table (hand-written: pandas needs the optional ``tabulate`` package)."""
    def cell(v):
        if isinstance(v, float):
            return "" if np.isnan(v) else (f"{v:g}" if v >= 10 else f"{v:.3f}")
        return str(v)
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


PARTS = ("its", "trend", "mde", "did")


def run(reps: int = 1000, seed: int = 1, quick: bool = False, parts=PARTS) -> pd.DataFrame:
    """Calibration table, one row per (test, dispersion, ar, mean, seasonal) cell.

    ``parts`` selects the tests (``its``, ``trend``, ``mde``, ``did``), so that the grid
    can run in separate processes and be assembled with ``calibration.py --load``.
    """
    warnings.simplefilter("ignore")
    if quick:
        grid = [(3.0, 0.5, 200.0)]
        n_fit, n_mde, n_did = min(reps, 20), min(reps, 4), min(reps, 3)
        mde_grid, did_grid, before_grid = grid, [(3.0, 0.5, 50.0)], grid
    else:
        grid = [(d, a, m) for d in (1.0, 1.5, 3.0) for a in (0.0, 0.3, 0.5) for m in (20.0, 200.0, 2000.0)]
        n_fit, n_mde, n_did = min(reps, 400), min(reps, 100), min(reps, 200)
        mde_grid = [(1.5, 0.0, 200.0), (1.5, 0.3, 200.0), (3.0, 0.5, 200.0)]
        did_grid = [(d, a, m) for d in (1.5, 3.0) for a in (0.3, 0.5) for m in (50.0, 200.0)]
        before_grid = [(1.5, 0.3, 200.0), (3.0, 0.5, 200.0), (3.0, 0.5, 20.0)]
    rows = []
    for i, (d, a, m) in enumerate(grid):
        if "its" in parts:
            rows.append(its_cell(d, a, m, n_fit, seed + i))
        if "trend" in parts:
            rows.append(trend_cell(d, a, m, n_fit, seed + 100 + i))
    for i, (d, a, m) in enumerate(before_grid):
        j = grid.index((d, a, m)) if (d, a, m) in grid else i
        if "its" in parts:
            rows.append(its_cell(d, a, m, n_fit, seed + j, before=True))
        if "trend" in parts:
            rows.append(trend_cell(d, a, m, n_fit, seed + 100 + j, before=True))
    if "mde" in parts:
        for i, (d, a, m) in enumerate(mde_grid):
            rows.append(mde_cell(d, a, m, n_mde, seed + 200 + i))
            rows.append(mde_cell(d, a, m, n_mde, seed + 200 + i, before=True))
    if "did" in parts:
        for i, (d, a, m) in enumerate(did_grid):
            rows.extend(did_cells(d, a, m, n_did, seed + 300 + i))
    return pd.DataFrame(rows, columns=COLUMNS)


if __name__ == "__main__":
    t0 = time.time()
    table = run(quick="--quick" in sys.argv)
    print(to_markdown(table))
    print(f"\n({time.time() - t0:.0f} s; command: python benchmarks/calib_models.py"
          + (" --quick" if "--quick" in sys.argv else "") + ")")
