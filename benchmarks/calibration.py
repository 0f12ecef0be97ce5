"""Calibration of every test behind a verdict, by simulation on crime-like series.

Runs the grids of ``benchmarks/calib_rates.py`` (year-on-year with estimated dispersion,
multiplicity, relative rate index, Mann-Kendall, seasonal Kendall) and
``benchmarks/calib_models.py`` (interrupted time series, long-run count trend, MDE, DiD) and
prints one table: false-positive rate, coverage and power, each with its Monte Carlo SE,
per cell of the grid (dispersion 1, 1.5, 3; AR(1) 0, 0.3, 0.5; monthly means 20, 200, 2000;
seasonal). Targets: false positives 3-7%, coverage 93-97%.

Usage::

    python benchmarks/calibration.py                 # full grid (tens of minutes on 2 cores)
    python benchmarks/calibration.py --quick         # a smoke run in about a minute
    python benchmarks/calibration.py --write docs/calibration.md
    # the two grids in separate processes (or machines), then one table:
    python benchmarks/calibration.py --only calib_rates --save rates.csv
    python benchmarks/calibration.py --only calib_models --save models.csv
    python benchmarks/calibration.py --load rates.csv models.csv --write docs/calibration.md

``--write`` saves the table with the command that made it (``docs/calibration.md``).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")  # one BLAS thread: much faster on a shared machine
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
MODULES = ("calib_rates", "calib_models")
FP_RANGE = (0.03, 0.07)
COVERAGE_RANGE = (0.93, 0.97)


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _flag(row) -> str:
    """'ok' when every metric that applies is within (2 Monte Carlo SEs of) its target range."""
    bad = []
    fp, cov = row.get("false_positive"), row.get("coverage")
    if pd.notna(fp):
        se = row.get("fp_mcse") if pd.notna(row.get("fp_mcse")) else 0.0
        # A family-wise rate (any false verdict among Holm-adjusted tests) is held at or below
        # its level by design: its target is an upper bound only.
        family = str(row.get("test", "")).startswith("summary_family")
        if (not family and fp + 2 * se < FP_RANGE[0]) or fp - 2 * se > FP_RANGE[1]:
            bad.append("false positives")
    if pd.notna(cov):
        se = row.get("coverage_mcse") if pd.notna(row.get("coverage_mcse")) else 0.0
        if cov + 2 * se < COVERAGE_RANGE[0] or cov - 2 * se > COVERAGE_RANGE[1]:
            bad.append("coverage")
    return "ok" if not bad else "outside target: " + ", ".join(bad)


def _pct(v, se=None) -> str:
    if v is None or pd.isna(v):
        return "–"
    s = f"{100 * v:.1f}%"
    if se is not None and pd.notna(se):
        s += f" ± {100 * se:.1f}"
    return s


def to_markdown(df: pd.DataFrame) -> str:
    cols = ["test", "dispersion", "ar", "mean", "seasonal", "reps", "false positives", "coverage", "power",
            "target", "note"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        cells = [str(r["test"]), f"{r['dispersion']:g}" if pd.notna(r["dispersion"]) else "–",
                 f"{r['ar']:g}" if pd.notna(r["ar"]) else "–", f"{r['mean']:g}" if pd.notna(r["mean"]) else "–",
                 "yes" if r.get("seasonal") else "no", str(int(r["reps"])) if pd.notna(r["reps"]) else "–",
                 _pct(r["false_positive"], r.get("fp_mcse")), _pct(r["coverage"], r.get("coverage_mcse")),
                 _pct(r["power"], r.get("power_mcse")), r["target"],
                 str(r["note"]) if pd.notna(r.get("note")) and r.get("note") else ""]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=1000, help="replicates per cell where cheap (default 1000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="small grid, few replicates (smoke run)")
    ap.add_argument("--only", choices=MODULES, help="run one of the two grids")
    ap.add_argument("--parts", help="calib_models only: comma-separated subset of its,trend,mde,did "
                                    "(to run the models grid in several processes)")
    ap.add_argument("--write", metavar="PATH", help="also write the table (markdown) to PATH")
    ap.add_argument("--save", metavar="CSV", help="also save the cells (with the command and timing) to CSV")
    ap.add_argument("--load", metavar="CSV", nargs="+", help="assemble saved cells instead of simulating")
    a = ap.parse_args(argv)
    this_cmd = ("python benchmarks/calibration.py "
                + " ".join(argv if argv is not None else sys.argv[1:])).strip()

    frames, timings, commands = [], {}, []
    if a.load:
        for path in a.load:
            part = pd.read_csv(path)
            frames.append(part.drop(columns=["command", "grid", "grid_seconds"], errors="ignore"))
            for (grid, cmd), g in part.groupby(["grid", "command"], sort=False):
                timings[grid] = float(g["grid_seconds"].iloc[0])
                commands.append(cmd)
        commands.append(this_cmd)
    else:
        commands.append(this_cmd)
        for name in MODULES:
            if a.only and name != a.only:
                continue
            t0 = time.perf_counter()
            mod = _load(name)
            kw = {"parts": tuple(a.parts.split(","))} if a.parts and name == "calib_models" else {}
            part = mod.run(reps=a.reps, seed=a.seed, quick=a.quick, **kw)
            timings[name] = time.perf_counter() - t0
            frames.append(part)
            print(f"{name}: {len(part)} cells in {timings[name]:.0f} s", file=sys.stderr)
            if a.save:
                part = part.assign(grid=name, grid_seconds=timings[name], command=this_cmd)
                saved = pd.read_csv(a.save) if Path(a.save).exists() and len(frames) > 1 else None
                pd.concat([saved, part] if saved is not None else [part]).to_csv(a.save, index=False)
    df = pd.concat(frames, ignore_index=True)
    df["target"] = [_flag(r) for _, r in df.iterrows()]
    table = to_markdown(df)
    print(table)
    n_bad = int((df["target"] != "ok").sum())
    bad = df[(df["target"] != "ok") & ~df["test"].astype(str).str.contains(r"\(before\)")]
    liberal = bad[(bad["false_positive"] > FP_RANGE[1]) | (bad["coverage"] < COVERAGE_RANGE[0])]
    n_before = n_bad - len(bad)
    verdict = (f"Of the {n_bad} cells outside target, {n_before} are the methods before issue 10 ('(before)'), "
               f"{len(bad) - len(liberal)} are cautious (false positives below 3% or coverage above 97%: a real "
               f"change may be missed, a verdict is not wrong more often than stated) and {len(liberal)} are "
               "liberal" + (": " + ", ".join(f"{r.test} {r.dispersion:g}/{r.ar:g}/{r.mean:g}"
                                              for r in liberal.itertuples()) if len(liberal) else "") + ".")
    print(f"\n{len(df)} cells; {len(df) - n_bad} within target (2 Monte Carlo SEs); {n_bad} outside.\n{verdict}")
    if a.write:
        made = " then ".join(f"`{c}`" for c in dict.fromkeys(commands))
        text = (f"# Calibration of the verdict tests\n\nMade by {made} on {dt.date.today():%Y-%m-%d} "
                f"({', '.join(f'{k} {v:.0f} s' for k, v in timings.items())}).\n\n"
                "Each cell simulates monthly counts with `csp_analysis.simulate` (Poisson-lognormal, AR(1) latent "
                "noise, seasonal) at the stated dispersion (variance/mean), lag-1 autocorrelation and monthly mean. "
                "False positives: share of null replicates called 'unlikely to be chance' (target 3-7%). "
                "Coverage: share of 95% intervals containing the truth (target 93-97%). Power: share of "
                "replicates with a planted effect that are detected. ± is one Monte Carlo SE. 'target' is ok when "
                "each metric is within 2 Monte Carlo SEs of its range; for summary_family, a family-wise rate "
                "(a null report with any false verdict among its 15 Holm-adjusted bullets), the target is at most "
                "7%: Holm holds it at or below 5% by design. Rows marked (before) are the methods before issue 10 "
                "on the same seeds.\n\n"
                f"{table}\n\n{len(df)} cells; {len(df) - n_bad} within target; {n_bad} outside. {verdict}\n")
        Path(a.write).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())
