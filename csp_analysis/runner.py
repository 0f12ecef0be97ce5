"""Run the report notebooks for partnerships with papermill and render HTML.

For each partnership the runner validates its parameters, executes every notebook
into ``outputs/<slug>/<notebook>.ipynb``, converts it to self-contained HTML without
code cells (``outputs/<slug>/<notebook>.html``), merges the headline figures into
``outputs/<slug>/headlines.json``, writes a run manifest (``manifest.json``) and,
at the end, ``outputs/index.html`` (partnerships x notebooks with status, duration and
headline figures). A failing notebook keeps its executed copy with the failing cell
and shows as failed; the other partnerships still run.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import os
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import __version__
from . import params as params_mod
from . import store as store_mod
from .html import _atomic_write, render_html  # noqa: F401 - re-exported

NOTEBOOKS_DIR = store_mod.PROJECT_ROOT / "notebooks"
DEFAULT_NOTEBOOKS = ("01_trends", "02_disproportionality", "03_intervention_effects")
NOTEBOOK_TITLES = {"01_trends": "Trends", "02_disproportionality": "Disproportionality",
                   "03_intervention_effects": "Intervention effects", "04_local_indicators": "Local indicators"}


@dataclass
class NotebookRun:
    notebook: str
    status: str = "pending"
    seconds: float = 0.0
    html: str | None = None
    error: str | None = None


@dataclass
class PartnershipRun:
    slug: str
    name: str = ""
    status: str = "pending"
    error: str | None = None
    notebooks: list[NotebookRun] = field(default_factory=list)
    headlines: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def run_notebook(slug: str, notebook: str, output_dir: Path, params_dir: Path, store: Path | None,
                 notebooks_dir: Path | None = None, timeout: int = 1800) -> NotebookRun:
    """Execute one notebook for one partnership and render it to HTML."""
    import papermill as pm

    notebooks_dir = Path(notebooks_dir or NOTEBOOKS_DIR)

    nr = NotebookRun(notebook=notebook)
    src = notebooks_dir / f"{notebook}.ipynb"
    out_nb = output_dir / f"{notebook}.ipynb"
    out_html = output_dir / f"{notebook}.html"
    t0 = time.perf_counter()
    try:
        pm.execute_notebook(
            str(src), str(out_nb),
            parameters={"partnership": slug, "params_dir": str(params_dir),
                        "store": str(store) if store else None, "output_dir": str(output_dir)},
            kernel_name="python3", cwd=str(notebooks_dir), progress_bar=False,
            execution_timeout=timeout, report_mode=False,
            extra_arguments=["--IPKernelApp.log_level=ERROR"],  # no transport warnings in run logs
        )
        nr.status = "ok"
    except Exception as exc:  # noqa: BLE001 - a failed notebook keeps its executed copy
        nr.status = "failed"
        msg = str(exc).strip().splitlines()
        nr.error = " ".join(line for line in msg if line.strip())[-600:] or type(exc).__name__
    nr.seconds = round(time.perf_counter() - t0, 2)
    if out_nb.exists():
        try:
            render_html(out_nb, out_html)
            nr.html = out_html.name
        except Exception as exc:  # noqa: BLE001
            nr.status = "failed"
            nr.error = (nr.error or "") + f" (HTML conversion failed: {exc})"
    return nr


def run_partnership(slug: str, params_dir: Path, outputs_dir: Path, store: Path | None,
                    notebooks: tuple[str, ...] | None = None,
                    notebooks_dir: Path | None = None) -> PartnershipRun:
    """Validate parameters, run every notebook and write headlines and the manifest."""
    notebooks_dir = Path(notebooks_dir or NOTEBOOKS_DIR)
    pr = PartnershipRun(slug=slug)
    t0 = time.perf_counter()
    out = outputs_dir / slug
    started = dt.datetime.now(dt.timezone.utc)
    pfile = params_dir / f"{slug}.yaml"
    try:
        p = params_mod.load_params(pfile)
        pr.name = p.name
        notebooks = tuple(notebooks or p.notebooks or DEFAULT_NOTEBOOKS)
        con = store_mod.connect(store, read_only=True)
        try:
            params_mod.check_against_store(p, con, pfile)
            from . import data as data_mod

            vintage = data_mod.data_vintage(con)
            ingested = con.execute(
                "SELECT source_file, sha256 FROM ingest_log WHERE status IN ('loaded','replaced') AND force IN "
                f"({', '.join(repr(f) for f in p.forces)}) ORDER BY source_file").fetchall()
        finally:
            con.close()
    except Exception as exc:  # noqa: BLE001 - one failing partnership never stops the others
        pr.status, pr.error = "failed", str(exc)
        pr.seconds = round(time.perf_counter() - t0, 2)
        return pr
    out.mkdir(parents=True, exist_ok=True)
    hdir = out / "headlines"
    if hdir.exists():
        for f in hdir.glob("*.json"):
            f.unlink()
    for nb in notebooks:
        pr.notebooks.append(run_notebook(slug, nb, out, params_dir, store, notebooks_dir))
    for nb in notebooks:
        f = hdir / f"{nb}.json"
        if f.exists():
            pr.headlines.extend(json.loads(f.read_text()))
    _atomic_write(out / "headlines.json", json.dumps(pr.headlines, indent=2, default=str))
    pr.status = "ok" if all(n.status == "ok" for n in pr.notebooks) else "failed"
    pr.seconds = round(time.perf_counter() - t0, 2)
    from .report import git_commit

    manifest = {
        "partnership": slug, "name": p.name, "status": pr.status,
        "package_version": __version__, "git_commit": git_commit(),
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "parameters": json.loads(p.model_dump_json()),
        "data_vintage": {k: v for k, v in vintage.items() if k.split("/", 1)[1] in p.forces},
        "inputs": {
            "params_file": {"path": str(pfile), "sha256": _sha256(pfile)},
            "notebooks": {nb: _sha256(notebooks_dir / f"{nb}.ipynb") for nb in notebooks
                          if (notebooks_dir / f"{nb}.ipynb").exists()},
            "local_data": {str(ld.path): _sha256(ld.path) for ld in p.local_data if ld.path.exists()},
            "police_files": {s: h for s, h in ingested},
        },
        "notebooks": [asdict(n) for n in pr.notebooks],
    }
    _atomic_write(out / "manifest.json", json.dumps(manifest, indent=2, default=str))
    return pr


def _run_one(args) -> PartnershipRun:
    try:
        return run_partnership(*args)
    except Exception:  # noqa: BLE001 - last-resort isolation per partnership
        return PartnershipRun(slug=args[0], status="failed", error=traceback.format_exc()[-800:])


THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
               "NUMEXPR_NUM_THREADS")


def thread_limits(jobs: int, cpus: int | None = None, environ=None) -> dict[str, str]:
    """Thread limits for the numerical libraries of ``jobs`` kernels running at once.

    Each kernel's BLAS would otherwise start one thread per core, and ``jobs`` kernels
    then fight over the cores: measured on 2 cores, two intervention notebooks at once took
    72 s each against 7 s alone. Each kernel gets ``cpus // jobs`` threads (at least 1).
    Variables the user has set are left as they are.
    """
    environ = os.environ if environ is None else environ
    n = max(1, (cpus or os.cpu_count() or 1) // max(1, jobs))
    return {k: str(n) for k in THREAD_VARS if not environ.get(k)}


def run_all(slugs: list[str], params_dir: Path | None = None, outputs_dir: Path | None = None,
            store: Path | None = None, notebooks: tuple[str, ...] | None = None, jobs: int = 1,
            notebooks_dir: Path | None = None, log=print) -> list[PartnershipRun]:
    """Run the notebooks for several partnerships (in parallel with ``jobs`` > 1)
    and write ``outputs/index.html``. Returns one result per partnership."""
    notebooks_dir = Path(notebooks_dir or NOTEBOOKS_DIR)
    params_dir = Path(params_dir) if params_dir else params_mod.DEFAULT_PARAMS_DIR
    outputs_dir = Path(outputs_dir) if outputs_dir else store_mod.PROJECT_ROOT / "outputs"
    store = Path(store).resolve() if store else store_mod.store_path().resolve()
    outputs_dir.mkdir(parents=True, exist_ok=True)
    _load_local_data(slugs, params_dir, store, log)
    args = [(s, params_dir, outputs_dir, store, tuple(notebooks) if notebooks else None, notebooks_dir)
            for s in slugs]
    results: list[PartnershipRun] = []
    if jobs > 1 and len(args) > 1:
        saved = {k: os.environ.get(k) for k in THREAD_VARS}
        os.environ.update(thread_limits(jobs))  # inherited by the workers' kernels
        try:
            with ProcessPoolExecutor(max_workers=jobs) as ex:
                for r in ex.map(_run_one, args):
                    log(_line(r))
                    results.append(r)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    else:
        for a in args:
            r = _run_one(a)
            log(_line(r))
            results.append(r)
    cols = list(notebooks or DEFAULT_NOTEBOOKS)
    for r in results:
        cols += [n.notebook for n in r.notebooks if n.notebook not in cols]
    write_index(results, outputs_dir, cols)
    return results


def _load_local_data(slugs, params_dir: Path, store: Path, log) -> None:
    """Load the partnerships' local-indicator files into the store before any notebook
    runs (one writer; the notebooks then read the store in parallel). A file that fails
    validation is reported here and again by the partnership's run."""
    from .local_indicators import LocalIndicatorError, load_local_indicator_files

    todo = {}
    for s in slugs:
        try:
            p = params_mod.load_params(params_dir / f"{s}.yaml")
        except params_mod.ParamsError:
            continue  # reported by the partnership's own run
        if p.local_data:
            todo[s] = [ld.path for ld in p.local_data]
    if not todo:
        return
    con = store_mod.connect(store)
    try:
        for s, paths in todo.items():  # per partnership: one bad file never stops the others
            try:
                load_local_indicator_files(con, paths)
            except (LocalIndicatorError, ValueError, OSError) as exc:
                log(f"{s}: local indicators not loaded: {exc}")
    finally:
        con.close()


def _line(r: PartnershipRun) -> str:
    nbs = ", ".join(f"{n.notebook} {n.status} ({n.seconds:.0f}s)" for n in r.notebooks)
    return f"{r.slug}: {r.status.upper()} in {r.seconds:.0f}s" + (f" - {nbs}" if nbs else "") + (
        f" - {r.error}" if r.error and not r.notebooks else "")


def write_index(results: list[PartnershipRun], outputs_dir: Path, notebooks) -> Path:
    """Write ``index.html`` (and ``index.json``) listing partnerships x notebooks."""
    # keep earlier runs of partnerships not in this run
    idx_json = outputs_dir / "index.json"
    previous = json.loads(idx_json.read_text()) if idx_json.exists() else []
    current = {r.slug for r in results}
    merged = [x for x in previous if x.get("slug") not in current] + [asdict(r) for r in results]
    merged.sort(key=lambda x: x["slug"])
    _atomic_write(idx_json, json.dumps(merged, indent=2, default=str))
    rows = []
    for r in merged:
        cells = []
        for nb in notebooks:
            n = next((x for x in r["notebooks"] if x["notebook"] == nb), None)
            if n is None:
                cells.append("<td>–</td>")
                continue
            title = html.escape(NOTEBOOK_TITLES.get(nb, nb))
            link = (f"<a href='{html.escape(r['slug'])}/{html.escape(n['html'])}'>{title}</a>"
                    if n.get("html") else title)
            cls = "ok" if n["status"] == "ok" else "failed"
            err = f"<br><small>{html.escape((n.get('error') or '')[:200])}</small>" if n["status"] != "ok" else ""
            cells.append(f"<td class='{cls}'>{link}<br><small>{n['status']} · {n['seconds']:.0f} s</small>{err}</td>")
        heads = "".join(f"<li>{html.escape(h.get('sentence') or str(h.get('value')))}</li>"
                        for h in r.get("headlines", [])[:6])
        err = f"<br><small>{html.escape((r.get('error') or '')[:400])}</small>" if r.get("error") else ""
        rows.append(
            f"<tr><td><b>{html.escape(r.get('name') or r['slug'])}</b><br><small>{html.escape(r['slug'])} · "
            f"<span class='{'ok' if r['status'] == 'ok' else 'failed'}'>{r['status']}</span> · "
            f"{r['seconds']:.0f} s</small>{err}</td>{''.join(cells)}<td><ul>{heads}</ul></td></tr>")
    head = "".join(f"<th>{html.escape(NOTEBOOK_TITLES.get(nb, nb))}</th>" for nb in notebooks)
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>csp-analysis reports</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:6px 10px;vertical-align:top;text-align:left}}.ok{{color:#176d2c}}
.failed{{color:#b00020;font-weight:bold}}small{{color:#555}}</style></head><body>
<h1>Community Safety Partnership reports</h1>
<p>Generated {dt.datetime.now(dt.timezone.utc):%d %B %Y %H:%M} UTC by csp-analysis {__version__}.
Each link opens a self-contained HTML report; tables are downloadable as CSV inside the report and in
<code>&lt;partnership&gt;/tables/</code>.</p>
<table><thead><tr><th>Partnership</th>{head}<th>Headline figures</th></tr></thead>
<tbody>{''.join(rows)}</tbody></table></body></html>"""
    path = outputs_dir / "index.html"
    _atomic_write(path, page)
    return path
