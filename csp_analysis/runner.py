"""Run the report notebooks for partnerships with papermill and render HTML.

For each partnership the runner validates its parameters, executes every notebook
into ``outputs/<slug>/<notebook>.ipynb``, converts it to self-contained HTML without
code cells (``outputs/<slug>/<notebook>.html``), merges the headline figures into
``outputs/<slug>/headlines.json``, writes a run manifest (``manifest.json``) and,
at the end, ``outputs/index.html`` (partnerships x notebooks with status, duration and
headline figures). A failing notebook keeps its executed copy with the failing cell
and shows as failed; the other partnerships still run.

Speed (issue 12)
----------------
* **Warm kernels.** Each worker process keeps one Jupyter kernel alive and papermill
  executes every notebook of every partnership against it (``km=`` of papermill's
  nbclient engine, see :class:`WarmKernel`). Before each notebook a prelude resets the
  kernel (:func:`kernel_reset`): user namespace, execution counter, figures, matplotlib
  settings, warnings filters, environment, working directory, ``sys.path`` and the
  query cache of :mod:`csp_analysis.data` (shared between the notebooks of one
  partnership; between partnerships only the national and force-wide answers of
  :data:`SHARED_QUERIES` are kept, and parallel runs hand out partnerships grouped by
  force so that they are reused). The package and its heavy dependencies are
  imported once per kernel. A kernel that died or timed out is replaced.
* **One HTML exporter per worker** (:func:`csp_analysis.html.make_exporter`), fed the
  executed notebook in memory.

Incremental runs
----------------
A partnership's fingerprint (:func:`fingerprint`) hashes everything its outputs depend
on: its params file (and its comparators'), its local files, the notebooks, the
package source and version, the store's police files for its forces (``ingest_log``
checksums), records other forces' files place in its area, and the lookup tables. When
the fingerprint equals the one in the previous ``manifest.json`` of a run that did not
fail and every report is still there, the partnership is skipped and shown as
"unchanged"; ``force=True`` rebuilds.

Honest status
-------------
``ok`` only when every notebook rendered and nothing was reported as missing;
``warning`` (with one-line reasons) when a section could not compute: warnings of
:func:`csp_analysis.params.check_against_store`, local files that failed to load,
``ctx.warn()`` / ``ctx.no_data()`` inside a notebook; ``failed`` with a one-line reason
(exception type and message). Runs of one partnership are serialised by a lock file
and write to a staging folder that replaces ``outputs/<slug>`` in one rename.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import html
import json
import os
import re
import shutil
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import __version__
from . import params as params_mod
from . import store as store_mod
from .html import atomic_write as _atomic_write, make_exporter, render_html  # noqa: F401 - re-exported

NOTEBOOKS_DIR = store_mod.PROJECT_ROOT / "notebooks"
PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_NOTEBOOKS = ("01_trends", "02_disproportionality", "03_intervention_effects")
NOTEBOOK_TITLES = {"01_trends": "Trends", "02_disproportionality": "Disproportionality",
                   "03_intervention_effects": "Intervention effects", "04_local_indicators": "Local indicators"}
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
# modules imported once per kernel (the notebooks' own imports then cost nothing)
WARM_IMPORTS = ("csp_analysis.report", "csp_analysis.sections.trends", "csp_analysis.sections.disproportionality",
                "csp_analysis.sections.interventions", "csp_analysis.sections.local_indicators",
                "csp_analysis.sections.maps", "csp_analysis.hotspots", "esda.getisord", "libpysal.weights",
                "matplotlib.pyplot", "statsmodels.api")


@dataclass
class NotebookRun:
    notebook: str
    status: str = "pending"
    seconds: float = 0.0
    html: str | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    html_seconds: float = 0.0        # HTML conversion (included in ``seconds``)


@dataclass
class PartnershipRun:
    slug: str
    name: str = ""
    status: str = "pending"
    error: str | None = None
    notebooks: list[NotebookRun] = field(default_factory=list)
    headlines: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    action: str = "rebuilt"          # "rebuilt" or "unchanged" (skipped: same fingerprint)
    fingerprint: str | None = None
    finished: str | None = None


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def one_line(exc: BaseException, limit: int = 300) -> str:
    """A readable one-line reason for an exception: its type and message (no traceback).

    Papermill's cell errors give the notebook exception's own type and message.
    """
    ename = getattr(exc, "ename", None) or type(exc).__name__
    evalue = getattr(exc, "evalue", None)
    text = str(evalue if evalue is not None else exc)
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # ANSI colours of kernel tracebacks
    text = "; ".join(line.strip() for line in text.splitlines() if line.strip())
    out = f"{ename}: {text}" if text else ename
    return out if len(out) <= limit else out[: limit - 1] + "…"


# ---------------------------------------------------------------------------- warm kernels
_KERNEL_STATE: dict = {}


def kernel_reset(cwd: str, partnership: str) -> None:
    """Run inside a kernel before each notebook: give it the state of a fresh kernel.

    The first call in a kernel records the clean state and imports :data:`WARM_IMPORTS`;
    later calls close report connections, clear the user namespace (IPython
    ``reset(new_session=True)``: variables, output history, execution counter), close
    figures, restore matplotlib settings, warnings filters, environment variables and
    ``sys.path``, and clear :mod:`csp_analysis.data`'s cache when the partnership changes
    (except the national and force-wide answers of :data:`SHARED_QUERIES`).
    """
    import gc
    import importlib
    import warnings

    import matplotlib

    from . import data as data_mod

    st = _KERNEL_STATE
    try:
        from IPython import get_ipython
        ip = get_ipython()
    except ImportError:  # pragma: no cover - always inside IPython here
        ip = None
    if not st:
        st.update(env=dict(os.environ), warnings=list(warnings.filters), path=list(sys.path),
                  rc=dict(matplotlib.rcParams), partnership=None)
        for m in WARM_IMPORTS:
            try:
                importlib.import_module(m)
            except ImportError:  # pragma: no cover - optional
                pass
    else:
        import matplotlib.pyplot as plt

        from .report import ReportContext

        if ip is not None:
            for v in list(ip.user_ns.values()):
                if isinstance(v, ReportContext):
                    try:
                        v.con.close()
                    except Exception:  # noqa: BLE001 - already closed
                        pass
            ip.reset(new_session=True)
        plt.close("all")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            matplotlib.rcParams.update(st["rc"])
        warnings.filters[:] = st["warnings"]
        mutated = getattr(warnings, "_filters_mutated", None)  # invalidate the 'already warned' caches
        if mutated is not None:
            mutated()
        os.environ.clear()
        os.environ.update(st["env"])
        sys.path[:] = st["path"]
        gc.collect()
    if st.get("partnership") != partnership:
        _forget_partnership_queries(data_mod)
        st["partnership"] = partnership
    data_mod.enable_cache(True)
    os.chdir(cwd)


#: Queries of :mod:`csp_analysis.data` whose answers do not depend on a partnership's own
#: districts (national, or per police force): a warm kernel keeps them from one partnership
#: to the next (their cache key names the store's path and modification time and every
#: argument, so a kept answer is the one the store would give). Measured on the national
#: synthetic store: ``lad_crime_counts`` and ``unassigned_crimes`` cost about 1 s each per
#: partnership, the same for every partnership of a force.
SHARED_QUERIES = frozenset({
    "data_vintage", "lad_crime_counts", "unassigned_crimes", "england_wales_counts", "national_street_months",
    "street_file_months", "pfa_list", "lad_populations", "force_pfa_counts", "stop_search_records",
    "no_location_counts", "force_file_counts", "lads_in_pfas", "lads_in_pfa", "pfa_names",
})
#: at most this many kept answers (then all are dropped: memory stays bounded on a long run)
SHARED_QUERIES_MAX = 48


def _forget_partnership_queries(data_mod) -> None:
    """Drop the query cache's answers about one partnership, keeping :data:`SHARED_QUERIES`
    (every answer when more than :data:`SHARED_QUERIES_MAX` are kept)."""
    data_mod.clear_cache(keep=SHARED_QUERIES.__contains__, max_kept=SHARED_QUERIES_MAX)


class WarmKernel:
    """One Jupyter kernel kept alive across notebooks and partnerships.

    papermill executes each notebook against it (its nbclient engine accepts a kernel
    manager, ``km``); a prelude (:func:`kernel_reset`) runs before the first cell.
    """

    def __init__(self, kernel_name: str = "python3"):
        self.kernel_name = kernel_name
        self.km = None
        self.notebooks_run = 0

    def execute(self, src: Path, out_nb: Path, parameters: dict, cwd: Path, timeout: int):
        import papermill as pm
        from jupyter_client.manager import AsyncKernelManager

        _register_engine()
        if self.km is None:
            self.km = AsyncKernelManager(kernel_name=self.kernel_name)
        prelude = (f"__import__('csp_analysis.runner', fromlist=['kernel_reset'])"
                   f".kernel_reset({str(cwd)!r}, {parameters.get('partnership')!r})")
        ok = False
        try:
            nb = pm.execute_notebook(
                str(src), str(out_nb), parameters=parameters, engine_name="csp_warm", km=self.km,
                prelude=prelude, kernel_name=self.kernel_name, cwd=str(cwd), progress_bar=False,
                execution_timeout=timeout, report_mode=False,
                extra_arguments=["--IPKernelApp.log_level=ERROR"],  # no transport warnings in run logs
            )
            ok = True
            return nb
        except Exception as exc:
            # a failing cell leaves a healthy kernel; anything else (timeout, dead kernel,
            # failed prelude) and the kernel is replaced before the next notebook
            ok = type(exc).__name__ == "PapermillExecutionError"
            raise
        finally:
            self.notebooks_run += 1
            if not ok:
                self.shutdown()

    def shutdown(self) -> None:
        km, self.km = self.km, None
        if km is None:
            return
        try:
            from jupyter_core.utils import run_sync

            if km.has_kernel:
                run_sync(km.shutdown_kernel)(now=True)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


_ENGINE_REGISTERED = False
#: the warm engine writes the executed notebook at most this often while it runs (and at the end)
SAVE_EVERY_SECONDS = 10.0


def _register_engine() -> None:
    """Register papermill engine ``csp_warm``: nbclient against a kernel we keep, with a
    prelude run before the first cell and the kernel client closed afterwards."""
    global _ENGINE_REGISTERED
    if _ENGINE_REGISTERED:
        return
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines
    from papermill.log import logger
    from papermill.utils import merge_kwargs, remove_args

    class ThrottledManager(NotebookExecutionManager):
        """papermill's execution manager writing the executed notebook at most every
        :data:`SAVE_EVERY_SECONDS` while it runs (papermill writes it at every cell's start
        and end: about 25 writes of a notebook full of images, 0.3-0.5 s of the runner's
        CPU per notebook), and always at the end, whatever happened."""
        _final = False

        def save(self, **kwargs):
            if kwargs.get("nb"):
                self.nb = kwargs["nb"]
            if self._final or (self.now() - self.last_save_time).total_seconds() >= SAVE_EVERY_SECONDS:
                super().save(**kwargs)

        def notebook_complete(self, **kwargs):
            self._final = True
            super().notebook_complete(**kwargs)

    class WarmClient(PapermillNotebookClient):
        prelude: str | None = None

        def papermill_execute_cells(self):
            if self.prelude:
                # run through the client, not execute_cell: no cell of the notebook is touched
                msg_id = self.kc.execute(self.prelude, silent=False, store_history=False, allow_stdin=False)
                reply = self.wait_for_reply(msg_id)
                content = (reply or {}).get("content", {})
                if content.get("status") != "ok":
                    raise RuntimeError(f"kernel reset failed: {content.get('ename')}: {content.get('evalue')}")
            super().papermill_execute_cells()

    class WarmEngine(NBClientEngine):
        @classmethod
        def execute_notebook(cls, nb, kernel_name, output_path=None, progress_bar=True, log_output=False,
                             autosave_cell_every=30, **kwargs):
            # papermill's Engine.execute_notebook with the throttled manager
            nb_man = ThrottledManager(nb, output_path=output_path, progress_bar=progress_bar, log_output=log_output,
                                      autosave_cell_every=autosave_cell_every)
            nb_man.notebook_start()
            try:
                cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
            finally:
                nb_man.cleanup_pbar()
                nb_man.notebook_complete()
            return nb_man.nb

        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                     stderr_file=None, start_timeout=60, execution_timeout=None, **kwargs):
            prelude = kwargs.pop("prelude", None)
            kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
            final = merge_kwargs(kwargs, timeout=execution_timeout, startup_timeout=start_timeout,
                                 kernel_name=kernel_name, log=logger, log_output=log_output,
                                 stdout_file=stdout_file, stderr_file=stderr_file)
            client = WarmClient(nb_man, **final)
            client.prelude = prelude
            try:
                return client.execute()
            finally:
                if client.kc is not None:
                    client.kc.stop_channels()
                    client.kc = None

    papermill_engines.register("csp_warm", WarmEngine)
    _ENGINE_REGISTERED = True


_WORKER: dict = {}


def _worker_kernel() -> WarmKernel:
    """This process's warm kernel (shut down when the process ends)."""
    k = _WORKER.get("kernel")
    if k is None:
        k = _WORKER["kernel"] = WarmKernel()
        if _WORKER.get("pid") != os.getpid():
            import atexit
            from multiprocessing import util

            _WORKER["pid"] = os.getpid()
            # pool workers end through multiprocessing (atexit does not run there)
            util.Finalize(None, shutdown_worker, exitpriority=10)
            atexit.register(shutdown_worker)
    return k


def _worker_exporter():
    if "exporter" not in _WORKER:
        _WORKER["exporter"] = make_exporter()
    return _WORKER["exporter"]


def shutdown_worker() -> None:
    """Shut down this process's warm kernel."""
    k = _WORKER.pop("kernel", None)
    if k is not None:
        k.shutdown()


# ---------------------------------------------------------------------------- one notebook
def run_notebook(slug: str, notebook: str, output_dir: Path, params_dir: Path, store: Path | None,
                 notebooks_dir: Path | None = None, timeout: int = 1800, warm: bool = True) -> NotebookRun:
    """Execute one notebook for one partnership and render it to HTML.

    With ``warm`` the notebook runs on this process's warm kernel (reset first);
    otherwise papermill starts and stops a kernel of its own.
    """
    import papermill as pm

    notebooks_dir = Path(notebooks_dir or NOTEBOOKS_DIR)

    nr = NotebookRun(notebook=notebook)
    src = notebooks_dir / f"{notebook}.ipynb"
    out_nb = output_dir / f"{notebook}.ipynb"
    out_html = output_dir / f"{notebook}.html"
    parameters = {"partnership": slug, "params_dir": str(params_dir),
                  "store": str(store) if store else None, "output_dir": str(output_dir)}
    t0 = time.perf_counter()
    nb = None
    try:
        if not src.is_file():
            raise FileNotFoundError(f"no notebook {notebook!r} in {notebooks_dir}")
        if warm:
            nb = _worker_kernel().execute(src, out_nb, parameters, notebooks_dir, timeout)
        else:
            nb = pm.execute_notebook(
                str(src), str(out_nb), parameters=parameters,
                kernel_name="python3", cwd=str(notebooks_dir), progress_bar=False,
                execution_timeout=timeout, report_mode=False,
                extra_arguments=["--IPKernelApp.log_level=ERROR"],
            )
        nr.status = "ok"
    except Exception as exc:  # noqa: BLE001 - a failed notebook keeps its executed copy
        nr.status = "failed"
        cell = getattr(exc, "exec_count", None)
        nr.error = one_line(exc) + (f" (cell [{cell}])" if cell else "")
    if out_nb.exists():
        th = time.perf_counter()
        try:
            render_html(nb if nb is not None else out_nb, out_html,
                        exporter=_worker_exporter() if warm else None)
            nr.html = out_html.name
        except Exception as exc:  # noqa: BLE001
            nr.status = "failed"
            nr.error = ((nr.error + "; ") if nr.error else "") + f"HTML conversion failed: {one_line(exc)}"
        nr.html_seconds = round(time.perf_counter() - th, 2)
    nr.seconds = round(time.perf_counter() - t0, 2)
    wfile = output_dir / "warnings" / f"{notebook}.json"
    if wfile.exists():
        try:
            nr.warnings = [one_line_text(w) for w in json.loads(wfile.read_text())]
        except (OSError, ValueError):
            nr.warnings = ["the notebook's warnings file could not be read"]
    hfile = output_dir / "headlines" / f"{notebook}.json"
    if hfile.exists():
        try:
            for h in json.loads(hfile.read_text()):
                if h.get("key") == "data_available" and h.get("value") in (0, False):
                    nr.warnings.append(one_line_text(h.get("sentence") or "no data"))
        except (OSError, ValueError):
            pass
    nr.warnings = list(dict.fromkeys(nr.warnings))
    if nr.status == "ok" and nr.warnings:
        nr.status = "warning"
    return nr


def one_line_text(text, limit: int = 300) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


# ---------------------------------------------------------------------------- fingerprints
_SOURCE_HASH: dict = {}

LOOKUP_TABLES = ("lsoa_lookup", "lad_lookup", "population_lsoa", "population_area", "population_ethnicity",
                 "deprivation", "lsoa_centroids")


def package_fingerprint() -> str:
    """sha256 of the package version and every source file of ``csp_analysis`` (once per process)."""
    if "h" not in _SOURCE_HASH:
        h = hashlib.sha256(__version__.encode())
        for f in sorted(PACKAGE_DIR.rglob("*.py")):
            h.update(str(f.relative_to(PACKAGE_DIR)).encode())
            h.update(f.read_bytes())
        _SOURCE_HASH["h"] = h.hexdigest()
    return _SOURCE_HASH["h"]


def lookups_fingerprint(con) -> str:
    """Order-independent content hash of the lookup tables (rows and values)."""
    h = hashlib.sha256()
    for t in LOOKUP_TABLES:
        try:
            n, s = con.execute(f"SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0) FROM {t} t").fetchone()
        except Exception:  # noqa: BLE001 - table absent in an old store
            n, s = None, None
        h.update(f"{t}:{n}:{s};".encode())
    return h.hexdigest()


def district_month_counts(con) -> dict[str, list[tuple]]:
    """``{lad_code: [(force, month, records), ...]}`` for the whole store, in one scan.

    A run of many partnerships computes this once and gives each its districts' part, so the
    fingerprint's "records other forces place in its area" costs one scan of the store per
    run instead of one per partnership (measured on the national synthetic store: 6 s once
    against 3.8 s per partnership)."""
    out: dict[str, list[tuple]] = {}
    for lad, force, month, n in con.execute(
            "SELECT lad_code, force, month, count(*) FROM street_geo WHERE lad_code IS NOT NULL "
            "GROUP BY ALL").fetchall():
        out.setdefault(lad, []).append((force, month, n))
    return out


def _stray_rows(district_counts: dict, lad_codes, forces) -> list[tuple]:
    """The rows of the fingerprint's stray-records query, from :func:`district_month_counts`
    (same values, types and order, so the digest is the same either way)."""
    acc: dict[tuple, int] = {}
    for lad in dict.fromkeys(lad_codes):
        for force, month, n in district_counts.get(lad, []):
            if force not in forces:
                acc[(force, month)] = acc.get((force, month), 0) + n
    return [(f, m, n) for (f, m), n in sorted(acc.items())]


def fingerprint(p, pfile: Path, con, notebooks: tuple[str, ...], notebooks_dir: Path, params_dir: Path,
                lookups: str | None = None, district_counts: dict | None = None) -> dict:
    """Everything one partnership's outputs depend on, hashed.

    Returns ``{"sha256": <digest of the parts>, "parts": {name: digest}}``. The store's
    part covers the police files of the partnership's forces and its comparators' forces
    (every kind and month: reports read beyond the window, e.g. long-run trends), plus the
    records other forces' files place in its LADs.
    """
    from . import data as data_mod

    parts: dict[str, str] = {}
    parts["params"] = _sha256(pfile)
    forces = set(p.forces)
    for c in p.comparators:
        cf = params_dir / f"{c}.yaml"
        if SLUG_RE.match(c) and cf.is_file():
            parts[f"params:{c}"] = _sha256(cf)
            try:
                forces |= set(params_mod.load_params(cf, check_files=False).forces)
            except params_mod.ParamsError:
                pass
    for i, ld in enumerate(p.local_data):
        parts[f"local_data[{i}]"] = _sha256(ld.path) if Path(ld.path).is_file() else "missing"
    for nb in notebooks:
        f = notebooks_dir / f"{nb}.ipynb"
        parts[f"notebook:{nb}"] = _sha256(f) if f.is_file() else "missing"
    parts["package"] = package_fingerprint()
    rows = data_mod.police_file_rows(con, sorted(forces))
    parts["police_files"] = hashlib.sha256(json.dumps(rows, default=str).encode()).hexdigest()
    if district_counts is not None:
        stray = _stray_rows(district_counts, p.lad_codes, forces)
    else:
        stray = data_mod.other_force_records(con, p.lad_codes, sorted(forces))
    parts["other_forces_records"] = hashlib.sha256(json.dumps(stray, default=str).encode()).hexdigest()
    parts["lookups"] = lookups or lookups_fingerprint(con)
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
    return {"sha256": digest, "parts": parts}


def _previous_if_unchanged(out: Path, fp: dict, notebooks: tuple[str, ...]) -> dict | None:
    """The previous manifest when it recorded the same fingerprint, did not fail, and
    every report it lists is still there."""
    mf = out / "manifest.json"
    if not mf.exists():
        return None
    try:
        man = json.loads(mf.read_text())
    except (OSError, ValueError):
        return None
    if (man.get("fingerprint") or {}).get("sha256") != fp["sha256"] or man.get("status") not in ("ok", "warning"):
        return None
    nbs = man.get("notebooks") or []
    if [n.get("notebook") for n in nbs] != list(notebooks):
        return None
    if not all(n.get("html") and (out / n["html"]).exists() for n in nbs):
        return None
    return man


def _changed_parts(out: Path, fp: dict) -> list[str]:
    try:
        old = json.loads((out / "manifest.json").read_text()).get("fingerprint") or {}
    except (OSError, ValueError):
        return ["no previous manifest"]
    if not old:
        return ["no previous fingerprint"]
    o, n = old.get("parts", {}), fp["parts"]
    return sorted(k for k in set(o) | set(n) if o.get(k) != n.get(k)) or ["previous run failed or reports missing"]


# ---------------------------------------------------------------------------- one partnership
class _Lock:
    """An exclusive lock file (``fcntl.flock``): runs of one partnership wait for each other."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.f = open(self.path, "a")
        fcntl.flock(self.f, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()


def _confined(outputs_dir: Path, slug: str) -> Path:
    """``outputs_dir/slug``, refusing a slug that could leave ``outputs_dir``."""
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        raise ValueError(f"not a partnership slug: {slug!r} (lower-case letters, digits, '-' and '_')")
    root = outputs_dir.resolve()
    out = (root / slug).resolve()
    if out.parent != root:
        raise ValueError(f"output folder for {slug!r} would leave {root}")
    return out


def run_partnership(slug: str, params_dir: Path, outputs_dir: Path, store: Path | None,
                    notebooks: tuple[str, ...] | None = None,
                    notebooks_dir: Path | None = None, force: bool = False, warm: bool = True,
                    lookups: str | None = None, preload_warnings: list[str] | None = None,
                    district_counts: dict | None = None) -> PartnershipRun:
    """Validate parameters, run every notebook and write headlines and the manifest.

    Skipped (``action="unchanged"``) when the fingerprint matches the previous run's,
    unless ``force``. Outputs are built in a staging folder beside ``outputs/<slug>`` and
    swapped in when done; a lock file serialises runs of the same partnership.
    """
    pr = PartnershipRun(slug=slug)
    t0 = time.perf_counter()
    try:
        out = _confined(Path(outputs_dir), slug)
    except ValueError as exc:
        pr.status, pr.error = "failed", one_line_text(exc)
        return pr
    with _Lock(out.parent / ".locks" / f"{slug}.lock"):
        pr = _run_partnership_locked(pr, out, params_dir, store, notebooks, notebooks_dir, force, warm,
                                     lookups, preload_warnings or [], district_counts)
    pr.seconds = round(time.perf_counter() - t0, 2)
    pr.finished = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    return pr


def _run_partnership_locked(pr, out, params_dir, store, notebooks, notebooks_dir, force, warm, lookups,
                            preload_warnings, district_counts=None) -> PartnershipRun:
    params_dir = Path(params_dir)
    notebooks_dir = Path(notebooks_dir or NOTEBOOKS_DIR)
    started = dt.datetime.now(dt.timezone.utc)
    pfile = params_dir / f"{pr.slug}.yaml"
    try:
        p, notebooks, store_warnings, vintage, ingested, fp = _prepare(
            pr, pfile, store, notebooks, notebooks_dir, params_dir, lookups, district_counts)
    except Exception as exc:  # noqa: BLE001 - one failing partnership never stops the others
        pr.status = "failed"
        pr.error = one_line_text(exc) if isinstance(exc, (params_mod.ParamsError, FileNotFoundError)) \
            else one_line(exc)
        return pr
    pr.fingerprint = fp["sha256"]
    prev = None if force else _previous_if_unchanged(out, fp, notebooks)
    if prev is not None:
        return _as_unchanged(pr, prev, out)
    changed = ["forced (--force)"] if force else _changed_parts(out, fp)
    stage = _fresh_stage(out, pr.slug)
    _render_notebooks(pr, stage, params_dir, store, notebooks, notebooks_dir, warm,
                      [*store_warnings, *preload_warnings])
    from .report import git_commit

    finished = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    pr.finished = finished
    manifest = {
        "partnership": pr.slug, "name": p.name, "status": pr.status, "error": pr.error,
        "warnings": pr.warnings,
        "package_version": __version__, "git_commit": git_commit(),
        "started": started.isoformat(timespec="seconds"),
        "finished": finished,
        "fingerprint": {**fp, "decided": "rebuilt", "changed": changed},
        "parameters": json.loads(p.model_dump_json()),
        "data_vintage": {k: v for k, v in vintage.items() if k.split("/", 1)[1] in p.forces},
        "inputs": _manifest_inputs(p, pfile, notebooks, notebooks_dir, ingested),
        "notebooks": [asdict(n) for n in pr.notebooks],
    }
    _atomic_write(stage / "manifest.json", json.dumps(manifest, indent=2, default=str))
    _swap_in(stage, out)
    return pr


def _prepare(pr: PartnershipRun, pfile: Path, store, notebooks, notebooks_dir: Path, params_dir: Path,
             lookups: str | None, district_counts: dict | None):
    """Validate the params and read what the run and its manifest need from the store:
    ``(params, notebooks, store warnings, data vintage, ingested files, fingerprint)``.
    Raises on a bad params file or store."""
    p = params_mod.load_params(pfile)
    pr.name = p.name
    notebooks = tuple(notebooks or p.notebooks or DEFAULT_NOTEBOOKS)
    con = store_mod.connect(store, read_only=True)
    try:
        store_warnings = params_mod.check_against_store(p, con, pfile) or []
        from . import data as data_mod

        vintage = data_mod.data_vintage(con)
        ingested = data_mod.ingested_files(con, p.forces)
        fp = fingerprint(p, pfile, con, notebooks, notebooks_dir, params_dir, lookups, district_counts)
    finally:
        con.close()
    return p, notebooks, store_warnings, vintage, ingested, fp


def _as_unchanged(pr: PartnershipRun, prev: dict, out: Path) -> PartnershipRun:
    """The result of a partnership skipped as unchanged, from its previous manifest."""
    pr.action = "unchanged"
    pr.status = prev["status"]
    pr.warnings = prev.get("warnings", [])
    pr.notebooks = [NotebookRun(**{k: v for k, v in n.items() if k in NotebookRun.__dataclass_fields__})
                    for n in prev["notebooks"]]
    try:
        pr.headlines = json.loads((out / "headlines.json").read_text())
    except (OSError, ValueError):
        pr.headlines = []
    pr.finished = prev.get("finished")
    return pr


def _fresh_stage(out: Path, slug: str) -> Path:
    """A new staging folder beside ``out`` (stale ones of interrupted runs removed: the caller
    holds the partnership's lock)."""
    for stale in out.parent.glob(f".{slug}.staging-*"):
        shutil.rmtree(stale, ignore_errors=True)
    stage = out.parent / f".{slug}.staging-{os.getpid()}"
    stage.mkdir(parents=True)
    return stage


def _render_notebooks(pr: PartnershipRun, stage: Path, params_dir: Path, store, notebooks, notebooks_dir: Path,
                      warm: bool, earlier_warnings: list[str]) -> None:
    """Run every notebook into ``stage``, merge their headlines into ``headlines.json`` and
    set the partnership's notebooks, headlines, warnings, status and error."""
    for nb in notebooks:
        pr.notebooks.append(run_notebook(pr.slug, nb, stage, params_dir, store, notebooks_dir, warm=warm))
    hdir = stage / "headlines"
    for nb in notebooks:
        f = hdir / f"{nb}.json"
        if f.exists():
            pr.headlines.extend(json.loads(f.read_text()))
    _atomic_write(stage / "headlines.json", json.dumps(pr.headlines, indent=2, default=str))
    pr.warnings = list(dict.fromkeys([one_line_text(w) for w in earlier_warnings]
                                     + [f"{n.notebook}: {w}" for n in pr.notebooks for w in n.warnings]))
    if any(n.status == "failed" for n in pr.notebooks):
        pr.status = "failed"
        pr.error = "; ".join(f"{n.notebook}: {n.error}" for n in pr.notebooks if n.status == "failed")[:600]
    else:
        pr.status = "warning" if pr.warnings else "ok"


def _manifest_inputs(p, pfile: Path, notebooks, notebooks_dir: Path, ingested) -> dict:
    """The manifest's ``inputs``: checksums of the params file, notebooks, local files and
    the police files of the partnership's forces."""
    return {
        "params_file": {"path": str(pfile), "sha256": _sha256(pfile)},
        "notebooks": {nb: _sha256(notebooks_dir / f"{nb}.ipynb") for nb in notebooks
                      if (notebooks_dir / f"{nb}.ipynb").exists()},
        "local_data": {str(ld.path): _sha256(ld.path) for ld in p.local_data if ld.path.exists()},
        "police_files": {s: h for s, h in ingested},
    }


def _swap_in(stage: Path, out: Path) -> None:
    """Replace ``out`` by ``stage``: two renames, so readers see the old or the new folder."""
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        os.replace(out, old)
    os.replace(stage, out)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


def run_one(args) -> PartnershipRun:
    """Run one partnership from the runner's argument tuple (as :func:`run_all` builds it); never
    raises: an unexpected error becomes a failed result, so one partnership never stops the others."""
    try:
        return run_partnership(*args[:6], **args[6])
    except Exception as exc:  # noqa: BLE001 - last-resort isolation per partnership
        traceback.print_exc()
        return PartnershipRun(slug=str(args[0]), status="failed", error=one_line(exc))


THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
               "NUMEXPR_NUM_THREADS")


def thread_limits(jobs: int, cpus: int | None = None, environ=None, max_threads: int | None = 1) -> dict[str, str]:
    """Thread limits for the numerical libraries of ``jobs`` kernels running at once.

    Each kernel's BLAS would otherwise start one thread per core, and ``jobs`` kernels
    then fight over the cores: measured on 2 cores, two intervention notebooks at once took
    72 s each against 7 s alone. Each kernel gets ``cpus // jobs`` threads (at least 1),
    capped at ``max_threads`` (None: no cap). The default cap is 1: the reports' matrices
    (GLM fits, difference-in-differences panels) are too small for threaded BLAS to pay,
    and on a busy machine OpenBLAS threads spin against each other - measured on the
    shared 2-core machine, ``03_intervention_effects`` of riverton: 157-180 s with 2 BLAS
    threads against 18 s with 1 (alternating runs, same load). ``$CSP_BLAS_THREADS`` sets
    the cap for a run. Variables the user has set are left as they are.
    """
    environ = os.environ if environ is None else environ
    n = max(1, (cpus or os.cpu_count() or 1) // max(1, jobs))
    if max_threads is not None:
        n = min(n, max(1, int(max_threads)))
    return {k: str(n) for k in THREAD_VARS if not environ.get(k)}


def run_all(slugs: list[str], params_dir: Path | None = None, outputs_dir: Path | None = None,
            store: Path | None = None, notebooks: tuple[str, ...] | None = None, jobs: int = 1,
            notebooks_dir: Path | None = None, log=print, force: bool = False,
            warm: bool = True, blas_threads: int | None = None, progress: bool | None = False,
            dask: str | None = None, dask_workers: int | None = None) -> list[PartnershipRun]:
    """Run the notebooks for several partnerships (in parallel with ``jobs`` > 1)
    and write ``outputs/index.html``. Returns one result per partnership.

    Parameters
    ----------
    force : bool
        Rebuild every partnership even when its fingerprint is unchanged.
    warm : bool
        Reuse one kernel per worker process (default); False starts a kernel per
        notebook (the behaviour before issue 12, kept for benchmarks and debugging).
    blas_threads : int, optional
        BLAS threads per kernel at most (see :func:`thread_limits`); default
        ``$CSP_BLAS_THREADS`` or 1; 0 = the earlier policy (``cpus // jobs`` threads when
        ``jobs`` > 1, the libraries' own default otherwise).
    progress : bool or None
        Show a progress line on stderr (done, failed, remaining, ETA: :class:`RunProgress`),
        redrawn in place on a terminal and one plain line per partnership otherwise.
        None: only on a terminal. Default False (library use).
    dask : str, optional
        Run one task per partnership on a ``dask.distributed`` cluster: a scheduler address
        (``tcp://host:8786``) or ``"local"`` for a :class:`distributed.LocalCluster` of
        ``dask_workers`` processes (default ``jobs``). See :mod:`csp_analysis.distributed`.

    Notes
    -----
    **Resuming.** A run that is interrupted (Ctrl-C, a killed process, a lost machine)
    leaves every partnership finished before the interruption complete in
    ``outputs/<slug>`` with its manifest; the partnership in progress leaves only a staging
    folder, removed by the next run. Running the same command again skips the finished
    partnerships (their fingerprints are unchanged: ``action="unchanged"``) and renders
    the rest. A journal (``outputs/.run-journal.json``) records the run's partnerships and
    those finished, so the next run can say how far the interrupted one got.
    """
    notebooks_dir = Path(notebooks_dir or NOTEBOOKS_DIR)
    params_dir = Path(params_dir) if params_dir else params_mod.DEFAULT_PARAMS_DIR
    outputs_dir = Path(outputs_dir) if outputs_dir else store_mod.PROJECT_ROOT / "outputs"
    store = Path(store).resolve() if store else store_mod.store_path().resolve()
    outputs_dir.mkdir(parents=True, exist_ok=True)
    preload = _load_local_data(slugs, params_dir, store, log)
    lookups, counts = _run_store_facts(store, many=len(slugs) > 1)
    args = [(s, params_dir, outputs_dir, store, tuple(notebooks) if notebooks else None, notebooks_dir,
             {"force": force, "warm": warm, "lookups": lookups, "preload_warnings": preload.get(s, []),
              **({"district_counts": _districts_of(counts, s, params_dir)} if counts is not None else {})})
            for s in slugs]
    limits = _run_thread_limits(jobs, len(args), blas_threads)
    journal = RunJournal(outputs_dir, slugs)
    note = journal.resume_note()
    if note:
        log(note)
    journal.start()
    bar = RunProgress(len(args), enabled=progress)
    done: dict[str, PartnershipRun] = {}

    def finished(r: PartnershipRun) -> None:
        bar.clear()
        log(_line(r))
        done[r.slug] = r
        journal.add(r)
        bar.update(r)

    try:
        with _environment(limits):  # inherited by the kernels (started by this process or its workers)
            _dispatch(args, jobs, dask, dask_workers, limits, finished, params_dir)
    finally:
        bar.close()
    results = [done[s] for s in slugs if s in done]  # the order asked for, whatever order they finished in
    journal.finish()
    cols = list(notebooks or DEFAULT_NOTEBOOKS)
    for r in results:
        cols += [n.notebook for n in r.notebooks if n.notebook not in cols]
    write_index(results, outputs_dir, cols, store=store, params_dir=params_dir)
    return results


@contextmanager
def _environment(values: dict[str, str]):
    """Set environment variables for the duration of a ``with`` block (then restore them)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _run_store_facts(store: Path, many: bool) -> tuple[str | None, dict | None]:
    """What every partnership's fingerprint shares, read once per run: the lookups' hash and,
    for a run of several partnerships, :func:`district_month_counts` (None where the store
    cannot be read: each partnership then reports the problem itself)."""
    lookups = counts = None
    try:
        con = store_mod.connect(store, read_only=True)
        try:
            lookups = lookups_fingerprint(con)  # once per run, shared by every partnership
            if many:
                counts = district_month_counts(con)  # one scan instead of one per partnership
        finally:
            con.close()
    except Exception:  # noqa: BLE001 - each partnership reports the store problem itself
        pass
    return lookups, counts


def _run_thread_limits(jobs: int, n_partnerships: int, blas_threads: int | None) -> dict[str, str]:
    """The numerical libraries' thread limits for this run's kernels (see :func:`thread_limits`)."""
    if blas_threads is None:
        blas_threads = int(os.environ.get("CSP_BLAS_THREADS") or 1)
    if blas_threads == 0:  # the earlier policy
        return thread_limits(jobs, max_threads=None) if jobs > 1 and n_partnerships > 1 else {}
    return thread_limits(jobs if n_partnerships > 1 else 1, max_threads=blas_threads)


def _dispatch(args: list, jobs: int, dask: str | None, dask_workers: int | None, limits: dict, finished,
              params_dir: Path) -> None:
    """Run every partnership (on Dask, in ``jobs`` worker processes, or here one after the
    other) and call ``finished`` with each result as it comes.

    Parallel runs hand out partnerships grouped by police force (:func:`by_force`), so that a
    worker's warm kernel can reuse the force-wide queries of the partnership before
    (:data:`SHARED_QUERIES`); results are reported in the order they finish either way."""
    if dask:
        from .distributed import run_on_dask

        run_on_dask(by_force(args, params_dir), dask, workers=dask_workers or jobs, on_result=finished,
                    env={**limits, **{k: v for k, v in os.environ.items() if k in _PASSED_ENV}})
    elif jobs > 1 and len(args) > 1:
        from concurrent.futures import as_completed

        with ProcessPoolExecutor(max_workers=jobs) as ex:
            futures = {ex.submit(run_one, a): a for a in by_force(args, params_dir)}
            for fut in as_completed(futures):
                try:
                    r = fut.result()
                except Exception as exc:  # noqa: BLE001 - a worker process died
                    r = PartnershipRun(slug=str(futures[fut][0]), status="failed", error=one_line(exc))
                finished(r)
    else:
        try:
            for a in args:
                finished(run_one(a))
        finally:
            shutdown_worker()


def by_force(args: list, params_dir: Path) -> list:
    """The runner's per-partnership arguments grouped by the partnerships' police forces
    (stable: the order asked for within a force; unreadable params last)."""
    def forces(a) -> tuple:
        try:
            return (0, tuple(sorted(params_mod.load_params(Path(params_dir) / f"{a[0]}.yaml",
                                                           check_files=False).forces)))
        except Exception:  # noqa: BLE001 - reported by the partnership's own run
            return (1, ())

    return sorted(args, key=forces)


def _districts_of(counts: dict, slug: str, params_dir: Path) -> dict | None:
    """The part of :func:`district_month_counts` one partnership's fingerprint needs (its LADs);
    None (the fingerprint queries the store itself) when its params cannot be read."""
    try:
        p = params_mod.load_params(Path(params_dir) / f"{slug}.yaml", check_files=False)
    except Exception:  # noqa: BLE001 - reported by the partnership's own run
        return None
    return {lad: counts.get(lad, []) for lad in p.lad_codes}


# environment a remote Dask worker needs from the submitting process (besides thread limits)
_PASSED_ENV = ("CSP_DATA_ROOTS", "CSP_DATA_ROOT", "CSP_STORE", "CSP_BLAS_THREADS")


def _fmt_seconds(s: float | None) -> str:
    if s is None or not (s >= 0) or s == float("inf"):
        return "?"
    s = int(round(s))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{sec:02d}s" if m else f"{sec}s")


class RunProgress:
    """Progress of a run on stderr: done, failed, remaining and an estimated time left.

    On a terminal one line with a bar is redrawn in place (``\r``); otherwise (a log file,
    cron) one plain line is written per finished partnership. The estimate is the time so
    far divided by the partnerships rendered (not those skipped as unchanged), times those
    remaining, so a resumed run does not promise too little.
    """

    def __init__(self, total: int, stream=None, enabled: bool | None = True, tty: bool | None = None,
                 clock=time.perf_counter):
        self.stream = stream if stream is not None else sys.stderr
        try:
            isatty = bool(self.stream.isatty())
        except (AttributeError, ValueError):
            isatty = False
        self.tty = isatty if tty is None else tty
        self.enabled = self.tty if enabled is None else bool(enabled)
        self.total, self.done, self.failed, self.unchanged = total, 0, 0, 0
        self.clock = clock
        self.t0 = clock()
        self._drawn = False

    def eta(self) -> float | None:
        remaining = self.total - self.done
        if remaining == 0:
            return 0.0
        rendered = self.done - self.unchanged
        if rendered <= 0:
            return None
        return (self.clock() - self.t0) / rendered * remaining

    def text(self) -> str:
        ok = self.done - self.failed
        unch = f" ({self.unchanged} unchanged)" if self.unchanged else ""
        return (f"{self.done}/{self.total}: done {ok}{unch}, failed {self.failed}, remaining "
                f"{self.total - self.done}, elapsed {_fmt_seconds(self.clock() - self.t0)}, "
                f"ETA {_fmt_seconds(self.eta())}")

    def update(self, r: PartnershipRun) -> None:
        self.done += 1
        self.failed += r.status not in ("ok", "warning")
        self.unchanged += r.action == "unchanged"
        if not self.enabled:
            return
        if self.tty:
            width = 24
            filled = int(width * self.done / max(1, self.total))
            self.stream.write("\r\x1b[K[" + "#" * filled + "." * (width - filled) + "] " + self.text())
            self._drawn = True
        else:
            self.stream.write("progress " + self.text() + "\n")
        self.stream.flush()

    def clear(self) -> None:
        """Remove the bar before other output is written to the terminal."""
        if self.enabled and self.tty and self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False

    def close(self) -> None:
        if self.enabled and self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


class RunJournal:
    """``outputs/.run-journal.json``: the partnerships of the current run and those finished.

    Written when a run starts and after each partnership, and marked complete at the end;
    the next run reads it to say how far an interrupted run got (:meth:`resume_note`). The
    skipping itself is done by fingerprints (:func:`fingerprint`), so a journal that is lost
    or stale changes nothing but the message.
    """

    def __init__(self, outputs_dir: Path, slugs: list[str]):
        self.path = Path(outputs_dir) / ".run-journal.json"
        self.slugs = list(slugs)
        self.state: dict = {}

    def previous(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None

    def resume_note(self) -> str | None:
        prev = self.previous()
        if not prev or prev.get("complete"):
            return None
        fin = prev.get("finished") or {}
        again = [s for s in self.slugs if s in fin and fin[s] in ("ok", "warning")]
        return (f"resuming: the run started {prev.get('started')} was interrupted after {len(fin)} of "
                f"{len(prev.get('slugs') or [])} partnership(s); {len(again)} of this run's {len(self.slugs)} finished "
                f"then and are skipped if their inputs are unchanged")

    def start(self) -> None:
        self.state = {"started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "pid": os.getpid(),
                      "slugs": self.slugs, "finished": {}, "complete": False}
        self._write()

    def add(self, r: PartnershipRun) -> None:
        self.state.setdefault("finished", {})[r.slug] = r.status
        self._write()

    def finish(self) -> None:
        self.state["complete"] = True
        self.state["ended"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        self._write()

    def _write(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(self.path, json.dumps(self.state, indent=1))
        except OSError:  # pragma: no cover - the journal is informative only
            pass


def _load_local_data(slugs, params_dir: Path, store: Path, log) -> dict[str, list[str]]:
    """Load the partnerships' local-indicator files into the store before any notebook
    runs (one writer; the notebooks then read the store in parallel). A file that fails
    validation is reported here and makes its partnership a "warning".

    Returns ``{slug: [one-line reasons]}`` for files that did not load."""
    from .local_indicators import LocalIndicatorError, load_local_indicator_files

    todo, problems = {}, {}
    for s in slugs:
        try:
            p = params_mod.load_params(params_dir / f"{s}.yaml")
        except (params_mod.ParamsError, OSError, ValueError):
            continue  # reported by the partnership's own run
        if p.local_data:
            todo[s] = [ld.path for ld in p.local_data]
    if not todo:
        return problems
    con = store_mod.connect(store)
    try:
        for s, paths in todo.items():  # per partnership: one bad file never stops the others
            try:
                load_local_indicator_files(con, paths)
            except (LocalIndicatorError, ValueError, OSError) as exc:
                reason = f"local indicators not loaded: {one_line_text(exc)}"
                log(f"{s}: {reason}")
                problems[s] = [reason]
    finally:
        con.close()
    return problems


def _line(r: PartnershipRun) -> str:
    if r.action == "unchanged":
        return f"{r.slug}: unchanged ({r.status}) - inputs identical to the run of {r.finished}"
    nbs = ", ".join(f"{n.notebook} {n.status} ({n.seconds:.0f}s)" for n in r.notebooks)
    return f"{r.slug}: {r.status.upper()} in {r.seconds:.0f}s" + (f" - {nbs}" if nbs else "") + (
        f" - {r.error}" if r.error and not r.notebooks else "") + (
        f" - {len(r.warnings)} warning(s): {r.warnings[0]}" if r.warnings else "")


def write_index(results: list[PartnershipRun], outputs_dir: Path, notebooks, store: Path | None = None,
                params_dir: Path | None = None) -> Path:
    """Write ``index.html``, ``index.csv`` (and ``index.json``) for every partnership run so far.

    ``index.json`` keeps earlier runs of partnerships not in this run. The page is the
    national index of :mod:`csp_analysis.national_index`: one sortable, filterable table
    (status, reports, headline change with its interval and verdict, crime rate per 1,000
    against England and Wales with funnel significance, the "worse than national and
    getting worse" flag), its CSV and a funnel plot. Rates need ``store`` and
    ``params_dir``; without them those columns say "not computed".
    """
    from .national_index import write_national_index

    idx_json = outputs_dir / "index.json"
    try:
        previous = json.loads(idx_json.read_text()) if idx_json.exists() else []
    except ValueError:
        previous = []
    current = {r.slug for r in results}
    merged = [x for x in previous if x.get("slug") not in current] + [asdict(r) for r in results]
    merged.sort(key=lambda x: x["slug"])
    _atomic_write(idx_json, json.dumps(merged, indent=2, default=str))
    return write_national_index(merged, outputs_dir, list(notebooks), NOTEBOOK_TITLES, __version__,
                                params_dir=params_dir, store=store)


_run_one = run_one  # the former private name
