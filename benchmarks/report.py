"""Benchmark: seconds per partnership for rendering the reports.

Usage: python benchmarks/report.py [SLUG ...] [--store PATH]
(default: the synthetic partnerships, in the default store; run `make report` first)

Runs every partnership sequentially (the naive baseline: one after another) and then
with --jobs 2 (parallel partnerships), in the same run, and prints seconds per
partnership and per notebook.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from csp_analysis import params, runner


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("slugs", nargs="*")
    ap.add_argument("--store")
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    slugs = a.slugs or [s for s, f in params.find_params().items() if params.load_params(f, check_files=False).group == "demo"]
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        seq = runner.run_all(slugs, outputs_dir=Path(tmp) / "seq", store=a.store, jobs=1, log=lambda *_: None)
        t_seq = time.perf_counter() - t
        t = time.perf_counter()
        runner.run_all(slugs, outputs_dir=Path(tmp) / "par", store=a.store, jobs=a.jobs, log=lambda *_: None)
        t_par = time.perf_counter() - t
    print(f"{'partnership':<28}{'status':<8}{'total s':>8}  per notebook (s)")
    for r in seq:
        per = ", ".join(f"{n.notebook} {n.seconds:.1f}" for n in r.notebooks)
        print(f"{r.slug:<28}{r.status:<8}{r.seconds:>8.1f}  {per}")
    print(f"sequential (baseline): {t_seq:.1f} s for {len(slugs)} partnerships = {t_seq / len(slugs):.1f} s each")
    print(f"--jobs {a.jobs}: {t_par:.1f} s = {t_par / len(slugs):.1f} s per partnership (speed-up {t_seq / t_par:.2f}x)")


if __name__ == "__main__":
    main()
