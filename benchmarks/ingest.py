"""Benchmark: the store's ingest against a naive pandas read-and-concatenate baseline.

Usage: python benchmarks/ingest.py [PATH ...]   (default: ../shared/data/police_uk/street,
else the synthetic data in data/demo/police_uk/street)

Each method runs in its own subprocess so that its peak memory (max RSS) is its own.
Prints rows, seconds, rows/s and peak memory for both, in the same run.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

STORE = """
import json, resource, sys, time
from csp_analysis import ingest, store
paths, db = json.loads(sys.argv[1]), sys.argv[2]
con = store.connect(db)
t = time.perf_counter()
res = ingest.ingest_paths(con, paths, progress=False)
sec = time.perf_counter() - t
rows = sum(r.rows_loaded for r in res)
t2 = time.perf_counter()
res2 = ingest.ingest_paths(con, paths, progress=False)   # idempotent re-ingest
sec2 = time.perf_counter() - t2
print(json.dumps({"rows": rows, "seconds": sec, "reingest_seconds": sec2,
                  "files": len(res), "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

NAIVE_DB = """
import json, resource, sys, time
from pathlib import Path
import duckdb, pandas as pd
paths, db = json.loads(sys.argv[1]), sys.argv[2]
files = sorted(f for p in paths for f in Path(p).rglob("*") if f.name.endswith((".csv", ".csv.gz")))
t = time.perf_counter()
df = pd.concat([pd.read_csv(f, dtype=str) for f in files], ignore_index=True)
con = duckdb.connect(db)
con.execute("CREATE TABLE street AS SELECT * FROM df")   # persisted, but no checks, no reconciliation
con.close()
sec = time.perf_counter() - t
print(json.dumps({"rows": len(df), "seconds": sec, "files": len(files),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

NAIVE = """
import json, resource, sys, time
from pathlib import Path
import pandas as pd
paths = json.loads(sys.argv[1])
files = sorted(f for p in paths for f in Path(p).rglob("*") if f.name.endswith((".csv", ".csv.gz")))
t = time.perf_counter()
df = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)   # what an analyst would do
sec = time.perf_counter() - t
print(json.dumps({"rows": len(df), "seconds": sec, "files": len(files),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> None:
    paths = argv or [p for p in (ROOT.parent / "shared/data/police_uk/street", ROOT / "data/demo/police_uk/street")
                     if p.exists()][:1]
    if not paths:
        sys.exit("no input files: pass a folder, or run `csp demo-data` first")
    paths = [str(Path(p).resolve()) for p in paths]
    with tempfile.TemporaryDirectory() as tmp:
        s = run(STORE, json.dumps(paths), str(Path(tmp) / "bench.duckdb"))
        d = run(NAIVE_DB, json.dumps(paths), str(Path(tmp) / "naive.duckdb"))
    n = run(NAIVE, json.dumps(paths))
    print(f"input: {', '.join(paths)} ({s['files']} files, {s['rows']:,} rows)")
    print(f"{'method':<44}{'seconds':>9}{'rows/s':>12}{'peak MB':>9}")
    print(f"{'store ingest (validate, reconcile, DuckDB)':<44}{s['seconds']:>9.2f}{s['rows'] / s['seconds']:>12,.0f}"
          f"{s['peak_mb']:>9.0f}")
    print(f"{'naive pandas read_csv + concat (no checks)':<44}{n['seconds']:>9.2f}{n['rows'] / n['seconds']:>12,.0f}"
          f"{n['peak_mb']:>9.0f}")
    print(f"{'naive pandas + CREATE TABLE in DuckDB':<44}{d['seconds']:>9.2f}{d['rows'] / d['seconds']:>12,.0f}"
          f"{d['peak_mb']:>9.0f}")
    print(f"store re-ingest of the same files (all unchanged): {s['reingest_seconds']:.2f} s")
    print(f"speed ratio store/naive: {n['seconds'] / s['seconds']:.2f}x")


if __name__ == "__main__":
    main(sys.argv[1:])
