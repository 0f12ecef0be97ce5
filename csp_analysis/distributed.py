"""Run partnerships on a ``dask.distributed`` cluster: one task per partnership.

:func:`csp_analysis.runner.run_all` calls :func:`run_on_dask` when given ``dask=ADDRESS``
(``csp run ... --dask tcp://scheduler:8786``) or ``dask="local"`` (a
:class:`distributed.LocalCluster` of worker processes on this machine). Each task is
:func:`csp_analysis.runner.run_partnership` for one partnership, exactly as in a local run:
the same fingerprints (unchanged partnerships are skipped), the same per-partnership
isolation (a failure becomes a ``failed`` result, never an exception that stops the run),
the same staging folder swapped into ``outputs/<slug>``. Results come back to the
submitting process, which writes the index as in a local run.

How workers reach the data
--------------------------
Workers read the **store on a shared filesystem, opened read-only**, and write reports to
the shared ``outputs/`` folder. The paths given to ``csp run`` (params folder, store,
outputs, notebooks) must therefore be the same on every worker (e.g. an NFS or Lustre
mount). Why (alternatives in ``docs/national.md``): a DuckDB file opened read-only can be
read by many processes at once, a partnership reads a few percent of the store (its
forces' months), and the reports must end up in one folder anyway; shipping per-task
extracts would copy the lookup tables (the largest part) to every task and add an extract
step to maintain. The one write to the store, loading partnerships' local-indicator files,
is done once by the submitting process before any task starts.

Each worker process keeps one warm Jupyter kernel (as a local worker does) and is asked to
shut it down when the run ends. Give each worker one thread (``--nthreads 1``): a task
already uses a whole core through its kernel.
"""
from __future__ import annotations

import os
from typing import Callable

__all__ = ["run_on_dask", "connect", "task"]


def connect(address: str, workers: int | None = None):
    """A ``distributed.Client`` for ``address``, or for a new LocalCluster when ``address == "local"``.

    Returns ``(client, cluster)``; ``cluster`` is None for an existing scheduler.
    """
    from distributed import Client, LocalCluster

    if address == "local":
        cluster = LocalCluster(n_workers=max(1, int(workers or 1)), threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=40)
        return Client(cluster), cluster
    return Client(address), None


def task(args: tuple, env: dict | None = None):
    """One partnership on a worker: set the run's environment (thread limits, data roots),
    then :func:`csp_analysis.runner.run_one` (which never raises)."""
    if env:
        os.environ.update({k: str(v) for k, v in env.items()})
    from .runner import run_one

    return run_one(args)


def _shutdown_kernel() -> None:
    from .runner import shutdown_worker

    shutdown_worker()


def run_on_dask(args: list[tuple], address: str, workers: int | None = None,
                on_result: Callable | None = None, env: dict | None = None) -> list:
    """Submit one task per partnership and collect the results as they finish.

    Parameters
    ----------
    args : list of tuple
        The runner's per-partnership arguments (as for ``runner.run_one``).
    address : str
        Scheduler address, or ``"local"`` for a LocalCluster of ``workers`` processes.
    on_result : callable, optional
        Called with each :class:`~csp_analysis.runner.PartnershipRun` as it finishes.
    env : dict, optional
        Environment variables set in the worker before each task.

    Returns
    -------
    list of PartnershipRun
        In the order they finished. A task whose worker died (and was retried by Dask up to
        its ``allowed-failures``) becomes a ``failed`` result with the reason.
    """
    from distributed import as_completed

    from .runner import PartnershipRun, one_line

    client, cluster = connect(address, workers)
    out = []
    try:
        futures = {}
        for a in args:
            f = client.submit(task, a, env, key=f"csp-{a[0]}-{os.getpid()}", pure=False)
            futures[f.key] = (f, a)
        for fut in as_completed([f for f, _ in futures.values()]):
            try:
                r = fut.result()
            except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: the partnership failed, the run goes on
                r = PartnershipRun(slug=str(futures[fut.key][1][0]), status="failed", error=one_line(exc))
            out.append(r)
            if on_result is not None:
                on_result(r)
    finally:
        try:
            client.run(_shutdown_kernel)
        except Exception:  # noqa: BLE001 - workers already gone
            pass
        client.close()
        if cluster is not None:
            cluster.close()
    return out
