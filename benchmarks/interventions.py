"""Speed of the intervention estimators behind ``03_intervention_effects`` (issue 12), before and after.

Usage (from the repository root)::

    mkdir -p /tmp/base && git archive cfbd80a | tar -x -C /tmp/base    # the code before
    python benchmarks/interventions.py riverton --store COPY_OF_STORE --baseline /tmp/base \\
        [--repeat 3] [--notebook]

For this checkout and (with ``--baseline``) another one, alternately (``--repeat`` rounds,
so both see the same load on a busy machine), each in its own subprocess with one BLAS
thread (as ``csp run`` sets for its kernels):

* the report section's own analysis, ``sections.interventions.analyse`` of the partnership,
  with every call of :func:`difference_in_differences`, :func:`interrupted_time_series`
  (the main model and its sensitivity variants) and :func:`minimum_detectable_effect`
  timed (wall and CPU seconds, summed over the calls the section makes);
* with ``--notebook``, the whole notebook: ``csp run SLUG --notebooks 03_intervention_effects
  --force`` (wall seconds, kernel start and HTML included) into a temporary folder.

It prints one line per run and then, per checkout, the fastest of the rounds, and a
fingerprint of every result the section computed (all tables, the event study, the
baseline of the MDE and the ITS counterfactuals, floats to 12 significant digits), so the
table also shows whether the two checkouts gave the same numbers. Compare only figures
printed by the same run (the machine is shared). No timing is asserted anywhere.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

THREADS = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                            "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")}
TIMED = ("difference_in_differences", "interrupted_time_series", "minimum_detectable_effect",
         "placebo_in_time", "synthetic_control")


def _fingerprint(obj) -> str:
    """Hash of the numbers and text of a result (floats to 12 significant digits)."""
    import numpy as np
    import pandas as pd

    def canon(x):
        if isinstance(x, pd.DataFrame):
            return canon(x.reset_index().astype(object).to_dict(orient="split"))
        if isinstance(x, pd.Series):
            return canon(x.astype(object).to_dict())
        if isinstance(x, dict):
            return {str(k): canon(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [canon(v) for v in x]
        if isinstance(x, (float, np.floating)):
            return "nan" if x != x else f"{float(x):.12g}"
        if isinstance(x, (np.integer, np.bool_)):
            return x.item()
        return x if isinstance(x, (int, str, bool, type(None))) else str(x)

    parts = {}
    for name in ("table", "event_study", "pretrend", "cell_means", "counterfactual", "baseline",
                 "coefficients", "diagnostics", "warnings"):
        if hasattr(obj, name):
            parts[name] = canon(getattr(obj, name))
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def worker(args) -> None:
    """Run the section's analysis in this process, timing the estimators (one JSON line)."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import csp_analysis
    import csp_analysis.interventions as ivm
    from csp_analysis import report
    from csp_analysis.sections import interventions

    warnings.simplefilter("ignore")
    times = {n: [0.0, 0.0, 0] for n in TIMED}
    prints: list[str] = []

    def timed(name, fn):
        def wrapper(*a, **kw):
            w0, c0 = time.perf_counter(), time.process_time()
            try:
                out = fn(*a, **kw)
            finally:
                t = times[name]
                t[0] += time.perf_counter() - w0
                t[1] += time.process_time() - c0
                t[2] += 1
            prints.append(name + ":" + _fingerprint(out))
            return out
        return wrapper

    for name in TIMED:
        setattr(ivm, name, timed(name, getattr(ivm, name)))
    out_dir = tempfile.mkdtemp(prefix="bench_iv_")
    try:
        ctx = report.start_report(args.slug, "03_intervention_effects", params_dir=args.params,
                                  store=args.store, output_dir=out_dir)
        w0, c0 = time.perf_counter(), time.process_time()
        interventions.analyse(ctx)
        total = (time.perf_counter() - w0, time.process_time() - c0)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    print(json.dumps({
        "package": str(Path(csp_analysis.__file__).parent.parent),
        "analyse": total, **{n: times[n] for n in TIMED},
        "fingerprint": hashlib.sha256("|".join(prints).encode()).hexdigest()[:16],
    }))


def notebook(checkout: Path, args) -> float:
    """Wall seconds of ``csp run SLUG --notebooks 03_intervention_effects`` with ``checkout``."""
    out = tempfile.mkdtemp(prefix="bench_nb_")
    store = Path(out) / "store.duckdb"
    shutil.copy(args.store, store)  # the runner writes its run records to the store
    env = {**os.environ, **THREADS, "PYTHONPATH": str(checkout)}
    cmd = [sys.executable, "-m", "csp_analysis.cli", "run", args.slug, "--notebooks",
           "03_intervention_effects", "--force", "--quiet", "--jobs", "1", "--store", str(store),
           "--outputs", str(Path(out) / "outputs"), "--params-dir", str(args.params)]
    t0 = time.perf_counter()
    try:
        subprocess.run(cmd, env=env, check=True, cwd=checkout, capture_output=True)
        return time.perf_counter() - t0
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("slug", nargs="?", default="riverton")
    ap.add_argument("--store", required=True, help="DuckDB store (a copy: --notebook writes to a copy of it)")
    ap.add_argument("--params", default=None, help="params folder (default: this checkout's params/)")
    ap.add_argument("--baseline", default=None, help="another checkout (e.g. git archive of the code before)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--notebook", action="store_true", help="also time the whole notebook with `csp run`")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    here = Path(__file__).resolve().parents[1]
    args.params = str(Path(args.params).resolve()) if args.params else str(here / "params")
    args.store = str(Path(args.store).resolve())
    if args.worker:
        worker(args)
        return
    checkouts = {"this": here}
    if args.baseline:
        checkouts = {"baseline": Path(args.baseline).resolve(), **checkouts}
    runs: dict[str, list[dict]] = {k: [] for k in checkouts}
    for r in range(args.repeat):
        for label, path in checkouts.items():
            env = {**os.environ, **THREADS, "PYTHONPATH": str(path)}
            proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), args.slug, "--worker",
                                   "--store", args.store, "--params", args.params],
                                  env=env, cwd=path, capture_output=True, text=True)
            if proc.returncode:
                sys.exit(f"{label}: worker failed\n{proc.stderr[-3000:]}")
            rec = json.loads(proc.stdout.strip().splitlines()[-1])
            if args.notebook:
                rec["notebook"] = notebook(path, args)
            runs[label].append(rec)
            print(f"round {r + 1} {label:8s} analyse {rec['analyse'][0]:6.2f} s wall; "
                  + "; ".join(f"{n} {rec[n][0]:.2f}" for n in TIMED)
                  + (f"; notebook {rec['notebook']:.1f} s" if args.notebook else ""), flush=True)
    print("\nfastest of", args.repeat, "rounds (wall s / CPU s; calls):")
    cols = ["analyse", *TIMED] + (["notebook"] if args.notebook else [])
    print(f"{'':10s}" + "".join(f"{c[:26]:>28s}" for c in cols) + "  fingerprint")
    for label, recs in runs.items():
        cells = []
        for c in cols:
            if c == "notebook":
                cells.append(f"{min(r[c] for r in recs):.1f}")
            elif c == "analyse":
                cells.append(f"{min(r[c][0] for r in recs):.2f} / {min(r[c][1] for r in recs):.2f}")
            else:
                cells.append(f"{min(r[c][0] for r in recs):.2f} / {min(r[c][1] for r in recs):.2f}"
                             f" ({recs[0][c][2]})")
        prints = sorted({r["fingerprint"] for r in recs})
        print(f"{label:10s}" + "".join(f"{c:>28s}" for c in cells) + "  " + ",".join(prints))
    if len(runs) == 2:
        a, b = ({r["fingerprint"] for r in v} for v in runs.values())
        print("same numbers (12 significant digits):", "yes" if a == b else "NO")


if __name__ == "__main__":
    main()
