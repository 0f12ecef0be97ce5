"""Benchmark: the national run (issue 13) - time per partnership, total, peak memory, scale-out.

Usage::

    python benchmarks/national.py [--limit N] [--jobs J] [--dask local --workers W]
                                  [--store PATH] [--params-dir DIR] [--group G] [--notebooks NB ...]

Defaults: the national synthetic set made by ``csp setup-demo --national``
(``data/store/national.duckdb`` and ``data/demo/national/params``, or ``$CSP_NATIONAL_STORE``
and ``$CSP_NATIONAL_PARAMS``), group ``national-demo``, the first ``--limit`` partnerships in
slug order (default 10). Every run renders into a fresh temporary folder with ``force=True``
(nothing is skipped as unchanged); the store is opened read-only.

Prints per run: seconds per partnership (each partnership's own wall time and the run's
wall time divided by the partnerships), the total, the index time, and the peak memory of the
whole process tree (this process, its worker processes and their kernels: the sum of their
resident set sizes, sampled every 0.2 s with psutil), the CPU time of the whole run (this
process, its workers and their kernels: it does not count waiting for a core, so it is the
steadier figure on a shared machine) and the load average, plus the extrapolation to all
partnerships of the group at the measured rate and at the CPU time spread over the cores. With ``--dask local`` it runs twice, with 1
and with ``--workers`` (default 2) worker processes, and prints the scale-out ratio (time with
1 worker / time with W). Timings on a shared machine are noisy: compare figures from one run.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from csp_analysis import params as params_mod
from csp_analysis import runner, store


class PeakMemory:
    """Peak resident memory of this process and all its descendants (sampled)."""

    def __init__(self, interval: float = 0.2):
        import psutil

        self.proc = psutil.Process()
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        total = 0
        for p in [self.proc, *self.proc.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except Exception:  # noqa: BLE001 - a process that just ended
                pass
        return total

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(self.interval)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and of every child process that has ended
    and been waited for (worker processes and, through them, their kernels)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run_once(slugs, pdir: Path, st: Path, jobs: int, notebooks, dask: str | None, workers: int | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="csp-national-bench-") as tmp:
        out = Path(tmp) / "outputs"
        load = os.getloadavg()
        c0, k0 = cpu_seconds(), os.times()
        t0 = time.perf_counter()
        with PeakMemory() as mem:
            results = runner.run_all(slugs, params_dir=pdir, outputs_dir=out, store=st, notebooks=notebooks,
                                     jobs=jobs, force=True, log=lambda *_: None, progress=True, dask=dask,
                                     dask_workers=workers)
        total = time.perf_counter() - t0
        cpu = cpu_seconds() - c0
        k1 = os.times()
        own, children = (k1.user + k1.system) - (k0.user + k0.system), \
            (k1.children_user + k1.children_system) - (k0.children_user + k0.children_system)
        load_after = os.getloadavg()
        ti = time.perf_counter()
        runner.write_index(results, out, list(notebooks or runner.DEFAULT_NOTEBOOKS), store=st, params_dir=pdir)
        index_s = time.perf_counter() - ti
    per = [r.seconds for r in results]
    return {"total": total, "per": per, "index": index_s, "peak": mem.peak, "cpu": cpu, "cpu_parts": (own, children),
            "load": (load[0], load_after[0]),
            "failed": [r.slug for r in results if r.status == "failed"],
            "reasons": sorted({(r.error or "")[:160] for r in results if r.status == "failed"}),
            "warning": sum(r.status == "warning" for r in results)}


def show(label: str, r: dict, n_all: int) -> None:
    n = len(r["per"])
    per_wall = r["total"] / max(1, n)
    print(f"{label}: {n} partnership(s) in {r['total']:.1f} s = {per_wall:.1f} s per partnership (wall); "
          f"each partnership's own time median {statistics.median(r['per']):.1f} s (range "
          f"{min(r['per']):.1f}-{max(r['per']):.1f}); index {r['index']:.1f} s (included in the total once more); "
          f"peak memory {r['peak'] / 2**30:.2f} GiB; {len(r['failed'])} failed {r['failed'] or ''}, "
          f"{r['warning']} with warnings")
    for why in r["reasons"]:
        print(f"  failed: {why}")
    cpu_per = r["cpu"] / max(1, n)
    cores = os.cpu_count() or 1
    print(f"  CPU time (this process, workers and kernels; waiting for a core not counted): {r['cpu']:.1f} s = "
          f"{cpu_per:.1f} CPU s per partnership (this process {r['cpu_parts'][0]:.1f} s, the processes it started "
          f"{r['cpu_parts'][1]:.1f} s); load average {r['load'][0]:.1f} at the start, "
          f"{r['load'][1]:.1f} at the end ({cores} cores)")
    print(f"  extrapolated (not measured) to all {n_all} partnerships at this rate: "
          f"{per_wall * n_all / 60:.0f} min; on {cores} otherwise idle cores at this CPU time: "
          f"{cpu_per * n_all / cores / 60:.0f} min (CPU time / cores, the floor of a perfect --jobs {cores})")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--dask", help="'local' (a LocalCluster) or a scheduler address")
    ap.add_argument("--workers", type=int, default=2, help="--dask: workers of the second run (default 2)")
    ap.add_argument("--store", type=Path,
                    default=Path(os.environ.get("CSP_NATIONAL_STORE")
                                 or store.PROJECT_ROOT / "data" / "store" / "national.duckdb"))
    ap.add_argument("--params-dir", type=Path, dest="params_dir",
                    default=Path(os.environ.get("CSP_NATIONAL_PARAMS")
                                 or store.PROJECT_ROOT / "data" / "demo" / "national" / "params"))
    ap.add_argument("--group", default="national-demo")
    ap.add_argument("--notebooks", nargs="+")
    a = ap.parse_args(argv)
    if not a.store.exists() or not a.params_dir.is_dir():
        print(f"error: no national store {a.store} or params {a.params_dir}; run `csp setup-demo --national` "
              f"(or set --store / --params-dir)", file=sys.stderr)
        return 2
    pdir = a.params_dir.resolve()
    available = params_mod.find_params(pdir)
    group = [s for s, f in sorted(available.items())
             if params_mod.load_params(f, check_files=False).group == a.group]
    slugs = group[: a.limit]
    nbs = tuple(a.notebooks) if a.notebooks else None
    print(f"store {a.store} (read-only), params {pdir}: {len(slugs)} of {len(group)} partnerships of group "
          f"{a.group!r}; notebooks {', '.join(nbs or runner.DEFAULT_NOTEBOOKS)}; {os.cpu_count()} CPU(s)")
    st = a.store.resolve()
    if a.dask:
        one = run_once(slugs, pdir, st, 1, nbs, a.dask, 1)
        show("dask, 1 worker", one, len(group))
        many = run_once(slugs, pdir, st, a.workers, nbs, a.dask, a.workers)
        show(f"dask, {a.workers} workers", many, len(group))
        print(f"scale-out ratio (time with 1 worker / time with {a.workers}): {one['total'] / many['total']:.2f} "
              f"(ideal {a.workers}; on a machine with {os.cpu_count()} cores shared with other work)")
    else:
        r = run_once(slugs, pdir, st, a.jobs, nbs, None, None)
        show(f"--jobs {a.jobs}", r, len(group))
    return 0


if __name__ == "__main__":
    sys.exit(main())
