"""Benchmark: ``csp ingest`` against the pyarrow parse floor, measured in the same run.

Usage::

    python benchmarks/ingest.py [PATH ...] [--baseline SRC] [--repeat N]

PATH defaults to ``../shared/data/police_uk/street`` (the 114 real street files), else
the synthetic ``data/demo/police_uk/street``. ``--baseline SRC`` also measures the ingest
of another checkout of the package (e.g. ``git archive <commit> | tar -x -C /tmp/base``)
so that before and after come from one run.

Printed, each method in its own subprocess (so peak memory is its own):

* the floor: plain :func:`pyarrow.csv.read_csv` of every file (gzip included), rows/s;
* the store's own floor: the same parse (all strings) plus one DuckDB ``CREATE TABLE AS``
  from Arrow, with no validation, reconciliation, rejects or log;
* ``csp ingest`` (:func:`csp_analysis.ingest.ingest_paths`, what the command runs) into a
  fresh store, from opening the store to closing it: rows/s and the ratio to the floor
  (wall clock and CPU time: the machine is shared, and CPU time is less disturbed by
  other processes; CPU time counts every thread of the process);
* re-ingest of the same, unchanged files (seconds, open to close);
* peak RSS of the ingest at 1/2, all and twice the files (the second copy: every file
  linked again under another force's name, ``<force>x``, in a temporary folder): it must
  not grow with the number of files; with the peak of pyarrow's memory pool (the parsed
  batches in flight), the size of the store written and DuckDB's memory limit during
  the ingest (:data:`csp_analysis.ingest.STORE_MEMORY_LIMIT`).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FLOOR = """
import json, resource, sys, time
import pyarrow.csv as pacsv
files = json.loads(sys.argv[1])
w, c = time.perf_counter(), time.process_time()
rows = sum(pacsv.read_csv(f).num_rows for f in files)
print(json.dumps({"rows": rows, "seconds": time.perf_counter() - w, "cpu": time.process_time() - c,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

# What the store's write alone costs: parse (all strings) + DuckDB CREATE TABLE AS from
# Arrow, with no validation, reconciliation or log. The ingest cannot be faster than this.
WRITE_FLOOR = """
import json, resource, sys, time
import duckdb, pyarrow as pa, pyarrow.csv as pacsv
from csp_analysis.ingest import STOP_SEARCH_HEADER, STREET_HEADER
files, db = json.loads(sys.argv[1]), sys.argv[2]
w, c = time.perf_counter(), time.process_time()
types = {n: pa.string() for n in STREET_HEADER + STOP_SEARCH_HEADER}  # names not in a file are ignored
tables = [pacsv.read_csv(f, convert_options=pacsv.ConvertOptions(strings_can_be_null=False, column_types=types))
          for f in files]
con = duckdb.connect(db)
t = pa.concat_tables(tables, promote_options="permissive")
con.execute("CREATE TABLE street AS SELECT * FROM t")
con.close()
print(json.dumps({"rows": t.num_rows, "seconds": time.perf_counter() - w, "cpu": time.process_time() - c,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

INGEST = """
import json, os, resource, sys, time
import pyarrow as pa
from csp_analysis import ingest, store
files, db = json.loads(sys.argv[1]), sys.argv[2]
w, c = time.perf_counter(), time.process_time()
con = store.connect(db)
res = ingest.ingest_paths(con, files, progress=False)
con.close()  # as `csp ingest` does; the write floor's time includes its close too
sec, cpu = time.perf_counter() - w, time.process_time() - c
bad = [r.source for r in res if r.status not in ("loaded", "replaced")]
lost = sum(r.rows_read - r.rows_loaded - r.rows_rejected for r in res)
w = time.perf_counter()
con = store.connect(db)
res2 = ingest.ingest_paths(con, files, progress=False)   # unchanged files: idempotent re-ingest
con.close()
re_sec = time.perf_counter() - w
print(json.dumps({"rows": sum(r.rows_loaded for r in res), "rejected": sum(r.rows_rejected for r in res),
                  "lost": lost, "not_loaded": bad, "seconds": sec, "cpu": cpu, "reingest_seconds": re_sec,
                  "reingest_unchanged": all(r.status == "unchanged" for r in res2),
                  "files": len(res), "module": ingest.__file__, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "arrow_peak_mb": pa.default_memory_pool().max_memory() / 1e6, "store_mb": os.path.getsize(db) / 1e6,
                  "memory_limit": getattr(ingest, "STORE_MEMORY_LIMIT", "DuckDB's default")}))
"""


def run(code: str, *args: str, pythonpath: str | None = None) -> dict:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    # run from the code's own folder: `python -c` puts the working folder first on sys.path
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         cwd=pythonpath or ROOT, env=env)
    if out.returncode:
        sys.exit(f"benchmark step failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*")
    ap.add_argument("--baseline", help="another checkout of the package to measure too (before)")
    ap.add_argument("--repeat", type=int, default=1, help="repeat floor and ingest, report the fastest")
    a = ap.parse_args(argv)
    paths = a.paths or [p for p in (ROOT.parent / "shared/data/police_uk/street",
                                    Path("/work/shared/data/police_uk/street"),
                                    ROOT / "data/demo/police_uk/street") if p.exists()][:1]
    if not paths:
        sys.exit("no input files: pass a folder, or run `csp demo-data` first")
    files = sorted(str(f.resolve()) for p in paths for f in (Path(p).rglob("*") if Path(p).is_dir() else [Path(p)])
                   if f.name.endswith((".csv", ".csv.gz")))
    src = str(ROOT)
    with tempfile.TemporaryDirectory() as tmp:
        def ingest(fs, code_root=src, tag="x"):
            return run(INGEST, json.dumps(fs), str(Path(tmp) / f"{tag}-{len(fs)}-{os.urandom(4).hex()}.duckdb"),
                       pythonpath=code_root)

        floors, ingests, bases = [], [], []
        for _ in range(a.repeat):
            floors.append(run(FLOOR, json.dumps(files), pythonpath=src))
            ingests.append(ingest(files))
            if a.baseline:
                bases.append(ingest(files, a.baseline, "base"))
        write_floor = run(WRITE_FLOOR, json.dumps(files), str(Path(tmp) / "write-floor.duckdb"), pythonpath=src)
        floors.append(run(FLOOR, json.dumps(files), pythonpath=src))  # floor before and after: the machine's drift
        floor = min(floors, key=lambda r: r["seconds"])
        new = min(ingests, key=lambda r: r["seconds"])
        half = ingest(files[: max(1, len(files) // 2)])
        double = ingest(files + twin_files(files, Path(tmp) / "twins"))
    rows = floor["rows"]
    print(f"input: {', '.join(map(str, paths))} ({len(files)} files, {rows:,} rows)")
    print(f"{'method':<46}{'seconds':>9}{'rows/s':>12}{'CPU s':>8}{'peak MB':>9}")

    def line(name, r):
        print(f"{name:<46}{r['seconds']:>9.2f}{r['rows'] / r['seconds']:>12,.0f}{r['cpu']:>8.2f}{r['peak_mb']:>9.0f}")

    line("pyarrow.csv.read_csv (parse floor)", floor)
    line("parse as strings + DuckDB write, no checks", write_floor)
    line("csp ingest into a fresh store", new)
    if bases:
        line("csp ingest, baseline checkout (before)", min(bases, key=lambda r: r["seconds"]))
        print(f"  baseline check: imported from {bases[0]['module']}")
    print(f"ratio csp ingest / floor: {new['seconds'] / floor['seconds']:.2f}x wall, "
          f"{new['cpu'] / floor['cpu']:.2f}x CPU (goal <= 2x, aim 1.5x)")
    print(f"ratio csp ingest / (parse + DuckDB write, no checks): {new['seconds'] / write_floor['seconds']:.2f}x wall, "
          f"{new['cpu'] / write_floor['cpu']:.2f}x CPU")
    if bases:
        b = min(bases, key=lambda r: r["seconds"])
        print(f"ratio baseline / floor: {b['seconds'] / floor['seconds']:.2f}x wall, {b['cpu'] / floor['cpu']:.2f}x CPU")
        print(f"baseline re-ingest (unchanged): {b['reingest_seconds']:.2f} s")
    fl = ", ".join(f"{r['seconds']:.2f}" for r in floors)
    il = ", ".join(f"{r['seconds']:.2f}" for r in ingests)
    print(f"floor runs (s): {fl}; ingest runs (s): {il}")
    print(f"re-ingest of the unchanged files: {new['reingest_seconds']:.2f} s "
          f"(all unchanged: {new['reingest_unchanged']}; goal < 1.5 s)")
    print(f"rows loaded {new['rows']:,}, rejected {new['rejected']:,}, unaccounted {new['lost']} "
          f"(files not loaded: {len(new['not_loaded'])})")
    mem = (half, new, double)
    print("peak RSS of the ingest by number of files: "
          + ", ".join(f"{r['files']} files {r['peak_mb']:.0f} MB" for r in mem))
    print("  Arrow's peak (parsed batches): " + ", ".join(f"{r['arrow_peak_mb']:.0f} MB" for r in mem)
          + "; store file: " + ", ".join(f"{r['store_mb']:.0f} MB" for r in mem)
          + f"; DuckDB memory limit while ingesting: {new['memory_limit']}")


def twin_files(files: list[str], folder: Path) -> list[str]:
    """Every file linked again under another force's name (``<force>x``): twice the files."""
    out = []
    for f in files:
        p = Path(f)
        twin = folder / p.parent.name / p.name.replace("-street.csv", "x-street.csv").replace(
            "-stop-and-search.csv", "x-stop-and-search.csv")
        twin.parent.mkdir(parents=True, exist_ok=True)
        twin.symlink_to(p)
        out.append(str(twin))
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
