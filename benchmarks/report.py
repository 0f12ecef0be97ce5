"""Benchmark: one partnership's reports against one trivial notebook, in the same run.

Usage::

    python benchmarks/report.py [SLUG ...] [--store PATH] [--notebooks NB ...] [--jobs N]

(default: ``riverton`` on the default store; build it first with ``csp setup-demo``).

Prints, measured one after another in this process:

1. **trivial**: one papermill notebook that only imports the package (a kernel start, the
   imports, papermill's reading and writing) - the floor issue 12 measures against;
2. **before**: the partnership(s) with a fresh kernel per notebook, a new HTML exporter per
   notebook, no query cache and BLAS threads left to the library (``run_all(..., warm=False,
   blas_threads=0)``: the runner before issue 12);
3. **after**: the same with a warm kernel reused across notebooks and partnerships, one
   exporter per worker, the query cache and one BLAS thread per kernel (the defaults);
4. the ratio of each to the trivial notebook, the per-stage profile of each notebook
   (overhead = kernel start/connection, reset prelude and papermill I/O; each code cell;
   HTML conversion), whether the CSV tables of before and after are byte-identical, and
   the time of an unchanged re-run (``csp run`` again on the same outputs: every
   partnership "unchanged").

With ``--jobs N`` (N > 1) it also times the partnerships in N worker processes.
``--baseline DIR`` also times, in the same run and just before "after", the same warm run
with the kernels importing the package from DIR (a copy of an earlier commit, e.g.
``git archive COMMIT | tar -x -C DIR``; its notebooks are used too), prints its profile,
and checks that its CSV tables are byte-identical to after's: a before/after of a code
change under the same machine load. ``--tables-from DIR`` also compares the after run's CSV tables with an outputs folder made
by another checkout (e.g. the code before a speed change: the rendered tables must be
byte-identical); ``--keep DIR`` keeps this run's outputs there; ``--after-only`` skips the
slow "before" run (for quick iterations; the ratio to the trivial notebook is still printed).
Timings on a shared machine are noisy: compare figures from the same run only.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import nbformat

from csp_analysis import runner


def trivial_notebook(folder: Path) -> Path:
    """A notebook with a parameters cell and one cell that imports the package."""
    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell("partnership = None")
    p.metadata["tags"] = ["parameters"]
    nb.cells = [p, nbformat.v4.new_code_cell("from csp_analysis import report")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    path = folder / "trivial.ipynb"
    nbformat.write(nb, path)
    return path


def time_trivial(folder: Path) -> float:
    import papermill as pm

    src = trivial_notebook(folder)
    t = time.perf_counter()
    pm.execute_notebook(str(src), str(folder / "trivial_out.ipynb"), parameters={"partnership": "x"},
                        kernel_name="python3", progress_bar=False,
                        extra_arguments=["--IPKernelApp.log_level=ERROR"])
    return time.perf_counter() - t


def kernel_cpu() -> float | None:
    """CPU seconds (user + system) used so far by this process's warm kernel (Linux /proc), or
    None. Steadier than wall time on a shared machine: it does not count waiting for a core."""
    import os

    k = runner._WORKER.get("kernel")
    proc = getattr(getattr(getattr(k, "km", None), "provisioner", None), "process", None)
    pid = getattr(proc, "pid", None)
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, TypeError):
        return None


_KERNEL_CPU: list[float] = []
_shutdown_worker = runner.shutdown_worker


def _shutdown_measured() -> None:
    """runner.shutdown_worker, noting the kernel's CPU time first (run_all shuts it down)."""
    c = kernel_cpu()
    if c is not None:
        _KERNEL_CPU.append(c)
    _shutdown_worker()


runner.shutdown_worker = _shutdown_measured


def profile(results, out: Path) -> list[str]:
    """Per notebook: overhead, code cells (papermill's durations) and HTML conversion."""
    lines = []
    for r in results:
        for n in r.notebooks:
            nb = json.loads((out / r.slug / f"{n.notebook}.ipynb").read_text())
            cells = [(c.get("execution_count"), c["metadata"].get("papermill", {}).get("duration") or 0.0)
                     for c in nb["cells"] if c["cell_type"] == "code"]
            cell_s = sum(d for _, d in cells)
            overhead = n.seconds - n.html_seconds - cell_s
            top = ", ".join(f"[{i}] {d:.1f}" for i, d in sorted(cells, key=lambda x: -x[1])[:4] if d >= 0.05)
            lines.append(f"  {r.slug}/{n.notebook:<26} total {n.seconds:6.1f}  overhead {overhead:5.1f}  "
                         f"cells {cell_s:6.1f}  html {n.html_seconds:4.1f}   slowest cells: {top}")
    return lines


def tables_identical(a: Path, b: Path, slugs) -> tuple[bool, int, list[str], list[str]]:
    """Byte-identical CSVs, and those that differ only in floating-point noise
    (every cell equal, numbers within a relative 1e-9)."""
    import io

    import numpy as np
    import pandas as pd

    diffs, noise, n = [], [], 0
    for s in slugs:
        fa = {p.name: p.read_bytes() for p in (a / s / "tables").glob("*.csv")}
        fb = {p.name: p.read_bytes() for p in (b / s / "tables").glob("*.csv")}
        n += len(fa)
        for k in sorted(set(fa) | set(fb)):
            if fa.get(k) == fb.get(k):
                continue
            try:
                x = pd.read_csv(io.BytesIO(fa[k]))
                y = pd.read_csv(io.BytesIO(fb[k]))
                same_shape = x.shape == y.shape and list(x.columns) == list(y.columns)
                ok = same_shape and all(
                    np.allclose(x[c], y[c], rtol=1e-9, atol=1e-12, equal_nan=True)
                    if pd.api.types.is_numeric_dtype(x[c]) and pd.api.types.is_numeric_dtype(y[c])
                    else x[c].fillna("").astype(str).equals(y[c].fillna("").astype(str)) for c in x.columns)
            except (KeyError, ValueError, TypeError):
                ok = False
            (noise if ok else diffs).append(f"{s}/{k}")
    return not diffs and not noise, n, diffs, noise


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("slugs", nargs="*", default=["riverton"])
    ap.add_argument("--store")
    ap.add_argument("--params-dir", dest="params_dir", help="params folder (default: the project's params/)")
    ap.add_argument("--notebooks", nargs="+")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--baseline", type=Path, help="checkout of earlier code to time in the same run")
    ap.add_argument("--tables-from", type=Path, help="outputs folder of another checkout to compare tables with")
    ap.add_argument("--keep", type=Path, help="copy this run's outputs here")
    ap.add_argument("--after-only", action="store_true", help="skip the 'before' run")
    a = ap.parse_args()
    slugs = a.slugs or ["riverton"]
    nbs = tuple(a.notebooks) if a.notebooks else None
    quiet = dict(log=lambda *_: None, params_dir=a.params_dir)
    import os

    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t_triv = time_trivial(tmp)

        before, t_before = [], None
        if not a.after_only:
            t = time.perf_counter()
            before = runner.run_all(slugs, outputs_dir=tmp / "before", store=a.store, notebooks=nbs, warm=False,
                                    force=True, blas_threads=0, **quiet)
            t_before = time.perf_counter() - t

        base, t_base, cpu_base = [], None, None
        if a.baseline:
            import os

            saved = os.environ.get("PYTHONPATH")
            runner.shutdown_worker()  # a kernel of its own, importing the baseline's package
            os.environ["PYTHONPATH"] = str(a.baseline.resolve())
            _KERNEL_CPU.clear()
            try:
                t = time.perf_counter()
                base = runner.run_all(slugs, outputs_dir=tmp / "baseline", store=a.store, notebooks=nbs,
                                      notebooks_dir=a.baseline.resolve() / "notebooks", warm=True, force=True,
                                      **quiet)
                t_base = time.perf_counter() - t
                cpu_base = sum(_KERNEL_CPU) or None
            finally:
                runner.shutdown_worker()
                if saved is None:
                    os.environ.pop("PYTHONPATH", None)
                else:
                    os.environ["PYTHONPATH"] = saved

        _KERNEL_CPU.clear()
        t = time.perf_counter()
        after = runner.run_all(slugs, outputs_dir=tmp / "after", store=a.store, notebooks=nbs, warm=True,
                               force=True, **quiet)
        t_after = time.perf_counter() - t
        cpu_after = sum(_KERNEL_CPU) or None

        t = time.perf_counter()
        again = runner.run_all(slugs, outputs_dir=tmp / "after", store=a.store, notebooks=nbs, **quiet)
        t_again = time.perf_counter() - t

        t_par = None
        if a.jobs > 1 and len(slugs) > 1:
            t = time.perf_counter()
            runner.run_all(slugs, outputs_dir=tmp / "par", store=a.store, notebooks=nbs, jobs=a.jobs,
                           force=True, **quiet)
            t_par = time.perf_counter() - t

        k = len(slugs)
        print(f"load average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end "
              f"({os.cpu_count()} cores; other work on the machine slows every figure below)")
        print(f"trivial notebook (papermill, fresh kernel, imports the package): {t_triv:.1f} s")
        if t_before is not None:
            print(f"before (kernel per notebook, no cache, BLAS default): {t_before:.1f} s for {k} partnership(s) = "
                  f"{t_before / k:.1f} s each = {t_before / k / t_triv:.1f}x trivial")
        print(f"after  (warm kernel, cache, 1 exporter, 1 BLAS thread): {t_after:.1f} s for {k} partnership(s) = "
              f"{t_after / k:.1f} s each = {t_after / k / t_triv:.1f}x trivial"
              + (f" (speed-up {t_before / t_after:.2f}x)" if t_before is not None else ""))
        if cpu_after is not None:
            print(f"after: kernel CPU time {cpu_after:.1f} s (kernel start, imports and the notebooks' cells)")
        if t_base is not None:
            print(f"baseline {a.baseline} (same settings as after): {t_base:.1f} s for {k} partnership(s) = "
                  f"{t_base / k:.1f} s each = {t_base / k / t_triv:.1f}x trivial; after is "
                  f"{t_base / t_after:.2f}x faster"
                  + (f"; baseline kernel CPU time {cpu_base:.1f} s = {cpu_base / cpu_after:.2f}x after's"
                     if cpu_base is not None and cpu_after else ""))
        print(f"unchanged re-run: {t_again:.2f} s "
              f"({sum(r.action == 'unchanged' for r in again)}/{k} partnerships unchanged)")
        if t_par is not None:
            print(f"after with --jobs {a.jobs}: {t_par:.1f} s = {t_par / k:.1f} s per partnership")
        comparisons = [] if a.after_only else [("before/after", tmp / "before")]
        if base:
            comparisons.append(("baseline/after", tmp / "baseline"))
        if a.tables_from:
            comparisons.append((f"{a.tables_from} / after", a.tables_from))
        for what, other in comparisons:
            same, n_tables, diffs, noise = tables_identical(other, tmp / "after", slugs)
            print(f"tables byte-identical {what}: {same} ({n_tables} CSVs)"
                  + (f"; equal within rtol 1e-9 (floating-point noise, e.g. BLAS threads): {noise}" if noise else "")
                  + (f"; DIFFERENT: {diffs}" if diffs else ""))
        print("status before:", {r.slug: r.status for r in before}, " after:", {r.slug: r.status for r in after})
        if before:
            print("profile before (s):")
            print("\n".join(profile(before, tmp / "before")))
        if base:
            print("profile baseline (s):")
            print("\n".join(profile(base, tmp / "baseline")))
        print("profile after (s):")
        print("\n".join(profile(after, tmp / "after")))
        if a.keep:
            import shutil

            shutil.copytree(tmp / "after", a.keep, dirs_exist_ok=True)


if __name__ == "__main__":
    main()
