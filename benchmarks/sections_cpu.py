"""CPU time of each section of the trends report (01_trends), in this process.

Usage::

    PYTHONPATH=CHECKOUT python benchmarks/sections_cpu.py [SLUG] [--store PATH] [--params DIR] [--label NAME]

Prints one JSON line: ``time.process_time`` seconds of ``trends.analyse``, each trends
section and ``maps.section`` (imports excluded), with the package imported from
PYTHONPATH, so two checkouts can be compared alternately on a busy machine, where CPU
time varies much less than wall time::

    for i in 1 2; do for c in /tmp/base $PWD; do
      PYTHONPATH=$c python benchmarks/sections_cpu.py riverton --store $PWD/data/store/csp.duckdb \\
        --params $PWD/params --label $c; done; done
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
import time

import matplotlib

matplotlib.use("Agg")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("slug", nargs="?", default="riverton")
    ap.add_argument("--store")
    ap.add_argument("--params")
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    import esda  # noqa: F401 - the mapping imports, outside the timing
    import libpysal  # noqa: F401

    from csp_analysis import report
    from csp_analysis.sections import maps, trends

    with tempfile.TemporaryDirectory() as tmp:
        ctx = report.start_report(a.slug, "01_trends", store=a.store, params_dir=a.params, output_dir=tmp)
        t: dict[str, float] = {}
        with contextlib.redirect_stdout(io.StringIO()):
            c = time.process_time()
            res = trends.analyse(ctx)
            t["analyse"] = time.process_time() - c
            for f in ["summary", "data_quality", "headline_table", "priority_sections", "long_run", "hot_spots"]:
                c = time.process_time()
                getattr(trends, f)(ctx, res)
                t[f] = time.process_time() - c
            c = time.process_time()
            maps.section(ctx, res)
            t["maps"] = time.process_time() - c
        t["total"] = sum(t.values())
        print(a.label, json.dumps({k: round(v, 2) for k, v in t.items()}))


if __name__ == "__main__":
    main()
