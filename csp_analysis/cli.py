"""The ``csp`` command line.

Commands
--------
csp demo-data [OUT]            write the synthetic default data (data.police.uk formats)
csp ingest PATH...             ingest street / stop-and-search files, folders or zips
csp ingest-lookup PATH...      load geography, population and deprivation files
csp setup-demo [--national]    demo-data (if absent) + ingest-lookup + ingest, in one go
csp init-params [NAME|CODE...|--all]  params/<slug>.yaml from the ONS LAD->CSP->PFA lookups
csp fetch [SLUG...|--group G]  download the data.police.uk files the partnerships need, then ingest
csp run [SLUG...|--all|--group G] [--notebooks ...] [--jobs N] [--force] [--dask ADDRESS|local]
                               render the reports into outputs/ (partnerships whose
                               inputs are unchanged since their last run are skipped, so
                               an interrupted run resumes), with a progress line on stderr,
                               the national index (index.html, index.csv); --dask runs one
                               task per partnership on a dask.distributed cluster
csp status                     what the store holds
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import __version__


def _store_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", help="DuckDB store (default data/store/csp.duckdb or $CSP_STORE)")


def cmd_ingest(a) -> int:
    import duckdb

    from . import ingest, store

    try:
        con = store.connect(a.store)
    except duckdb.IOException as exc:
        # e.g. 'Could not set lock on file ...: Conflicting lock is held in ... (PID 123)'
        held = " (another process is using it: " + str(exc).split("lock is held in", 1)[1].strip() + ")" \
            if "lock is held in" in str(exc) else ""
        print(f"error: cannot open the store {store.store_path(a.store)}{held}; "
              f"wait for it to finish and run the ingest again", file=sys.stderr)
        return 3
    try:
        results = ingest.ingest_paths(con, a.paths, batch=a.batch, replace=a.replace,
                                      progress=not a.quiet and sys.stderr.isatty())
    except KeyboardInterrupt:
        print("interrupted: files committed before the interruption stay in the store; the batch in "
              "progress was rolled back (run the same ingest again to finish)", file=sys.stderr)
        return 130
    except (FileNotFoundError, ingest.IngestError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        con.close()
    print(ingest.summarise(results))
    return 1 if any(r.status == "failed" for r in results) else 0


def cmd_ingest_lookup(a) -> int:
    from . import ingest, lookups, store

    con = store.connect(a.store)
    rc = 0
    try:
        for r in lookups.load_lookups(con, a.paths):
            if r.get("error"):
                print(f"skipped {r['file']}: {r['error']}")
            else:
                print(f"loaded {r['rows']:,} rows from {r['file']} into {r['table']}")
    except (FileNotFoundError, ingest.IngestError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        rc = 1
    finally:
        con.close()
    return rc


def cmd_demo_data(a) -> int:
    from . import synthetic

    out = Path(a.out)
    summary = synthetic.generate_demo_data(out, seed=a.seed)
    print(f"synthetic default data written to {out} ({summary.get('rows', summary.get('street_rows', '?'))} rows)")
    return 0


def cmd_setup_national(a) -> int:
    """``csp setup-demo --national``: the national synthetic set in its own store, with timings."""
    import time

    from . import ingest, lookups, store, synthetic_national

    out = Path(a.data) if a.data else Path("data/demo/national")
    st = a.store or str(store.PROJECT_ROOT / "data" / "store" / "national.duckdb")
    marker = out / "SYNTHETIC_README.md"
    t0, c0 = time.perf_counter(), time.process_time()
    if not marker.exists() or a.regenerate:
        print(f"generating the national synthetic data in {out} ...", flush=True)
        r = synthetic_national.generate_national(out, scale=a.scale, months=a.months, progress=not a.quiet)
        print(f"generated {r['forces']} forces, {r['partnerships']} partnerships, {r['lsoas']:,} LSOAs, "
              f"{r['street_rows']:,} street rows ({r['street_rows'] // max(1, len(r['street_rows_by_month'])):,} "
              f"a month) and {r['stop_search_rows']:,} stop-and-search rows, {r['files']:,} files, "
              f"{r['bytes'] / 1e9:.2f} GB in {r['seconds']:.0f} s")
    t1, c1 = time.perf_counter(), time.process_time()
    con = store.connect(st)
    try:
        for sub in ("geography", "population", "deprivation"):
            for r in lookups.load_lookups(con, [out / sub]):
                if r.get("error"):
                    print(f"skipped {r['file']}: {r['error']}")
        t2, c2 = time.perf_counter(), time.process_time()
        results = ingest.ingest_paths(con, [out / "police_uk"], batch="synthetic-national", progress=not a.quiet)
    finally:
        con.close()
    t3, c3 = time.perf_counter(), time.process_time()
    print(ingest.summarise(results))
    print(f"timing (wall / CPU seconds): generation {t1 - t0:.0f} / {c1 - c0:.0f}, lookups {t2 - t1:.0f} / "
          f"{c2 - c1:.0f}, ingest {t3 - t2:.0f} / {c3 - c2:.0f}, total {t3 - t0:.0f} / {c3 - c0:.0f}")
    print(f"store: {st}\nparams: {out.resolve() / 'params'} (group {synthetic_national.GROUP})\n"
          f"run: CSP_STORE={st} csp run --group {synthetic_national.GROUP} --params-dir {out.resolve() / 'params'}")
    return 1 if any(r.status == "failed" for r in results) else 0


def cmd_setup_demo(a) -> int:
    from . import ingest, lookups, store, synthetic

    if getattr(a, "national", False):
        return cmd_setup_national(a)
    a.data = a.data or "data/demo"

    out = Path(a.data)
    marker = out / "SYNTHETIC_README.md"
    if not marker.exists() or a.regenerate:
        print(f"generating synthetic default data in {out} ...")
        synthetic.generate_demo_data(out)
    con = store.connect(a.store)
    try:
        for sub in ("geography", "population", "deprivation"):
            if (out / sub).exists():
                for r in lookups.load_lookups(con, [out / sub]):
                    if r.get("error"):
                        print(f"skipped {r['file']}: {r['error']}")
        results = ingest.ingest_paths(con, [out / "police_uk"], batch="synthetic", progress=not a.quiet)
    finally:
        con.close()
    print(ingest.summarise(results))
    return 1 if any(r.status == "failed" for r in results) else 0


def _default_geography() -> Path:
    import os

    from . import store

    env = os.environ.get("CSP_GEOGRAPHY")
    return Path(env) if env else store.PROJECT_ROOT.parent / "shared" / "data" / "geography"


def cmd_init_params(a) -> int:
    from . import init_params, params

    geo = Path(a.geography) if a.geography else _default_geography()
    try:
        plans = init_params.plan_partnerships(geo)
        if a.all:
            chosen = plans
        elif a.names:
            chosen = init_params.select(plans, a.names)
        else:
            print("error: name partnerships (name, slug, CSP or LAD code), or use --all", file=sys.stderr)
            return 2
        results = init_params.write_params(chosen, a.out or params.DEFAULT_PARAMS_DIR, group=a.group,
                                           end=a.end, months=a.months, force=a.force)
    except (init_params.InitParamsError, params.ParamsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(chosen)} partnership(s) from {geo} into {a.out or params.DEFAULT_PARAMS_DIR}")
    print(init_params.summarise(results))
    return 0


def _select_params(a):
    """Params of the partnerships named by slugs / --group / --all (as `csp run` chooses them)."""
    from . import params

    available = params.find_params(a.params_dir)
    if a.all:
        slugs = list(available)
    elif a.group:
        slugs = [s for s, f in available.items() if params.load_params(f, check_files=False).group in a.group]
    else:
        slugs = a.slugs
    unknown = [s for s in slugs if s not in available]
    if unknown:
        raise params.ParamsError(f"no params file for {', '.join(unknown)} in {a.params_dir or 'params/'}")
    return [params.load_params(available[s], check_files=False) for s in slugs]


def cmd_fetch(a) -> int:
    from . import fetch, ingest, params, store

    try:
        chosen = _select_params(a)
    except params.ParamsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not chosen:
        print("error: name partnerships (slugs), or use --all or --group", file=sys.stderr)
        return 2
    dest = Path(a.dest) if a.dest else store.PROJECT_ROOT / "data" / "downloads"
    sp = store.store_path(a.store)
    con = store.connect(a.store, read_only=True) if sp.exists() else None
    try:
        checks = fetch.read_checksums(a.checksums) if a.checksums else None
        res = fetch.fetch(chosen, dest, source=a.source, archive_url=a.archive_url, url_template=a.url_template,
                          latest=a.latest, con=con, refresh=a.refresh, checksums=checks, retries=a.retries,
                          backoff=a.backoff, keep_archives=a.keep_archives)
    except fetch.OfflineError as exc:
        print(str(exc), file=sys.stderr)
        return 3
    except fetch.FetchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if con is not None:
            con.close()
    print(res.summary())
    if a.no_ingest or not res.files:
        return 0
    con = store.connect(a.store)
    try:
        results = ingest.ingest_paths(con, res.files, batch=a.batch or f"fetch-{time_label()}", progress=not a.quiet)
    finally:
        con.close()
    print(ingest.summarise(results))
    return 1 if any(r.status == "failed" for r in results) else 0


def time_label() -> str:
    import time

    return time.strftime("%Y-%m-%d", time.gmtime())


def cmd_run(a) -> int:
    import os

    from . import params, runner

    if a.params_dir is not None:
        a.params_dir = a.params_dir.resolve()  # kernels run in notebooks/: a relative path would not resolve there
    if getattr(a, "data_root", None):
        roots = [str(r.resolve()) for r in a.data_root] + params.data_roots_from_env()
        os.environ[params.DATA_ROOT_ENV] = os.pathsep.join(str(r) for r in roots)  # kernels inherit it
    available = params.find_params(a.params_dir)
    if a.all:
        slugs = list(available)
    elif a.group:
        slugs = []
        for s, f in available.items():
            try:
                if params.load_params(f, check_files=False).group in a.group:
                    slugs.append(s)
            except params.ParamsError:
                slugs.append(s)  # reported as failed by the run itself
    else:
        slugs = a.slugs
    if not slugs:
        print("error: name partnerships (slugs), or use --all or --group", file=sys.stderr)
        return 2
    unknown = [s for s in slugs if s not in available]
    if unknown:
        print(f"error: no params file for {', '.join(unknown)} in {a.params_dir or 'params/'} "
              f"(available: {', '.join(available)})", file=sys.stderr)
        return 2
    notebooks = tuple(a.notebooks) if a.notebooks else None
    t0 = time.perf_counter()
    if a.dask:
        try:
            import distributed  # noqa: F401
        except ImportError:
            print("error: --dask needs dask.distributed (pip install 'dask[distributed]')", file=sys.stderr)
            return 2
    results = runner.run_all(slugs, params_dir=a.params_dir, outputs_dir=a.outputs, store=a.store,
                             notebooks=notebooks, jobs=a.jobs, force=a.force, progress=not a.quiet,
                             dask=a.dask, dask_workers=a.workers)
    index = Path(a.outputs or runner.store_mod.PROJECT_ROOT / "outputs") / "index.html"
    failed = [r.slug for r in results if r.status not in ("ok", "warning")]
    unchanged = sum(r.action == "unchanged" for r in results)
    warned = [r.slug for r in results if r.status == "warning"]
    print(f"\n{len(results)} partnership(s) in {time.perf_counter() - t0:.1f} s: "
          f"{len(results) - unchanged - len(failed)} rebuilt, {unchanged} unchanged, {len(failed)} failed"
          + (f"; warnings: {', '.join(warned)}" if warned else ""))
    print(f"reports: {index.resolve()} (the table as CSV: {index.with_suffix('.csv').resolve()})")
    if failed:
        print(f"FAILED: {', '.join(failed)} (see the index and the executed notebooks)", file=sys.stderr)
        return 1
    return 0


def cmd_status(a) -> int:
    from . import data, store

    try:
        con = store.connect(a.store, read_only=True)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        for k, v in data.data_vintage(con).items():
            print(f"{k}: {v['first_month']}..{v['latest_month']} ({v['months']} months), "
                  f"last ingest {v['last_ingest']}")
        for t in ("street", "stop_search", "rejects", "lsoa_lookup", "lad_lookup", "population_lsoa",
                  "population_area", "population_ethnicity", "deprivation", "lsoa_centroids"):
            print(f"{t}: {con.execute(f'SELECT count(*) FROM {t}').fetchall()[0][0]:,} rows")
    finally:
        con.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="csp", description="Community Safety Partnership reports")
    ap.add_argument("--version", action="version", version=f"csp-analysis {__version__}")
    sub = ap.add_subparsers(dest="cmd", required=True)

    _add_ingest_command(sub)
    _add_ingest_lookup_command(sub)
    _add_demo_data_command(sub)
    _add_setup_demo_command(sub)
    _add_init_params_command(sub)
    _add_fetch_command(sub)
    _add_run_command(sub)
    _add_status_command(sub)
    return ap


def _add_ingest_command(sub) -> None:
    """``csp ingest``."""
    p = sub.add_parser("ingest", help="ingest data.police.uk street / stop-and-search files")
    p.add_argument("paths", nargs="+")
    p.add_argument("--batch", help="label for this download (kept with every row)")
    p.add_argument("--replace", action="store_true", help="replace force-months even with an older copy")
    p.add_argument("--quiet", action="store_true", help="no progress bar (also off when not a terminal)")
    _store_arg(p)
    p.set_defaults(func=cmd_ingest)


def _add_ingest_lookup_command(sub) -> None:
    """``csp ingest-lookup``."""
    p = sub.add_parser("ingest-lookup", help="load geography, population and deprivation files")
    p.add_argument("paths", nargs="+")
    _store_arg(p)
    p.set_defaults(func=cmd_ingest_lookup)


def _add_demo_data_command(sub) -> None:
    """``csp demo-data``."""
    p = sub.add_parser("demo-data", help="write the synthetic default data")
    p.add_argument("out", nargs="?", default="data/demo")
    p.add_argument("--seed", type=int, default=None)
    p.set_defaults(func=cmd_demo_data)


def _add_setup_demo_command(sub) -> None:
    """``csp setup-demo``."""
    p = sub.add_parser("setup-demo", help="generate (if absent) and load the synthetic default data")
    p.add_argument("--data", default=None, help="data folder (default data/demo, or data/demo/national)")
    p.add_argument("--regenerate", action="store_true")
    p.add_argument("--national", action="store_true",
                   help="the national set (40 forces, 314 partnerships, 36 months) in data/store/national.duckdb")
    p.add_argument("--scale", type=float, default=1.0, help="--national: volume multiplier (default 1)")
    p.add_argument("--months", type=int, default=None, help="--national: first N months only (default 36)")
    p.add_argument("--quiet", action="store_true")
    _store_arg(p)
    p.set_defaults(func=cmd_setup_demo)


def _add_init_params_command(sub) -> None:
    """``csp init-params``."""
    p = sub.add_parser("init-params", help="write params/<slug>.yaml from the ONS LAD->CSP->PFA lookups")
    p.add_argument("names", nargs="*", help="partnership names, slugs, CSP17 or LAD codes")
    p.add_argument("--all", action="store_true", help="every partnership in the lookup")
    p.add_argument("--geography", help="folder of ONS lookups (default $CSP_GEOGRAPHY or ../shared/data/geography)")
    p.add_argument("--out", type=Path, help="params folder (default params/)")
    p.add_argument("--group", default="national", help="run group written into each file (default national)")
    p.add_argument("--end", help="last month of the window, YYYY-MM (default: two months before today)")
    p.add_argument("--months", type=int, default=36, help="window length in months (default 36)")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.set_defaults(func=cmd_init_params)


def _add_fetch_command(sub) -> None:
    """``csp fetch``."""
    p = sub.add_parser("fetch", help="download the data.police.uk files partnerships need, then ingest them")
    p.add_argument("slugs", nargs="*")
    p.add_argument("--all", action="store_true", help="every params/*.yaml")
    p.add_argument("--group", action="append", help="partnerships whose params 'group' is this (repeatable)")
    p.add_argument("--params-dir", dest="params_dir", type=Path)
    p.add_argument("--dest", help="download folder (default data/downloads)")
    p.add_argument("--source", choices=("archive", "files"), default="archive",
                   help="monthly archive zips (default) or one URL per file (--url-template)")
    p.add_argument("--archive-url", dest="archive_url", default="https://data.police.uk/data/archive/{month}.zip")
    p.add_argument("--url-template", dest="url_template",
                   help="per-file URL with {month}, {force}, {kind} (street, stop-and-search)")
    p.add_argument("--latest", help="newest archive month to use, YYYY-MM (default: the last month wanted)")
    p.add_argument("--refresh", action="store_true", help="fetch force-months already in the store again")
    p.add_argument("--checksums", help="sha256sum-format file of expected checksums")
    p.add_argument("--retries", type=int, default=4)
    p.add_argument("--backoff", type=float, default=2.0, help="seconds before the first retry (doubles)")
    p.add_argument("--keep-archives", dest="keep_archives", action="store_true")
    p.add_argument("--no-ingest", dest="no_ingest", action="store_true", help="download only")
    p.add_argument("--batch", help="ingest batch label (default fetch-<date>)")
    p.add_argument("--quiet", action="store_true")
    _store_arg(p)
    p.set_defaults(func=cmd_fetch)


def _add_run_command(sub) -> None:
    """``csp run``."""
    p = sub.add_parser("run", help="render the reports")
    p.add_argument("slugs", nargs="*")
    p.add_argument("--all", action="store_true", help="every params/*.yaml")
    p.add_argument("--group", action="append", help="partnerships whose params 'group' is this (repeatable)")
    p.add_argument("--notebooks", nargs="+", help="notebook names (default: all three)")
    p.add_argument("--jobs", type=int, default=1, help="partnerships run in parallel")
    p.add_argument("--force", action="store_true",
                   help="rebuild every partnership, even those whose inputs have not changed")
    p.add_argument("--params-dir", dest="params_dir", type=Path)
    p.add_argument("--data-root", dest="data_root", action="append", type=Path, default=[],
                   help="a folder local_data paths may point into, besides the params folder (repeatable)")
    p.add_argument("--outputs", type=Path)
    p.add_argument("--dask", metavar="ADDRESS",
                   help="run one task per partnership on a dask.distributed cluster: a scheduler address "
                        "(tcp://host:8786) or 'local' for a LocalCluster on this machine (see docs/national.md)")
    p.add_argument("--workers", type=int, default=None,
                   help="--dask local: worker processes (default --jobs)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress line on stderr (on a terminal it is redrawn in place; otherwise one line "
                        "per partnership)")
    _store_arg(p)
    p.set_defaults(func=cmd_run)


def _add_status_command(sub) -> None:
    """``csp status``."""
    p = sub.add_parser("status", help="what the store holds")
    _store_arg(p)
    p.set_defaults(func=cmd_status)


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    if getattr(a, "seed", "x") is None:
        from . import synthetic

        a.seed = synthetic.DEFAULT_SEED
    return a.func(a)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
