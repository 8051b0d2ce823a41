"""Benchmarks of sweeps (:mod:`cnisim.sweep`, what ``cnisim recommend`` runs).

- A 50-setting sweep of a 200-node, 6-hour plan (issue 10) on the local process pool with 1
  worker and with 2: the wall times and the speed-up (target: close to 2x on 2 free cores).
- The Dask overhead per task: the same small sweep run in this process and on a warm
  ``distributed.LocalCluster`` of one worker process; (Dask's wall time - in-process time) /
  tasks. The pool's overhead per task the same way, beside it.

CI runs each once with ``--benchmark-disable``, at a reduced size (a few settings of a small,
short plan); the figures go to ``extra_info`` (printed by ``make bench``), not asserted: a
shared machine misses wall-time targets.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from test_bench_scenario import CATALOG, plan_of

from cnisim.sweep import run_one, run_sweep

SPEEDUP_TARGET = 2.0  # issue 10: 2 cores


def settings_of(n: int) -> list[dict[str, str]]:
    """``n`` warm-pool settings: WARM_IP_TARGET 1-10 x MINIMUM_IP_TARGET 0, 5, 10, 20, 30."""
    grid = [
        {"WARM_IP_TARGET": str(warm), "MINIMUM_IP_TARGET": str(minimum)}
        for minimum in (0, 5, 10, 20, 30)
        for warm in range(1, 11)
    ]
    return grid[:n]


def test_bench_sweep_1_and_2_workers(benchmark: Any, tmp_path: Path) -> None:
    """Figure: wall time of the 50-setting sweep (one seed each) on 1 worker and on 2, and
    their ratio. With ``--benchmark-disable`` (CI): 4 settings of a 6-node, 20-minute plan."""
    small = benchmark.disabled
    plan = plan_of(tmp_path, 6 if small else 200, "20m" if small else "6h")
    settings = settings_of(4 if small else 50)

    def measure() -> dict[str, float]:
        times = {}
        rows = {}
        for n_workers in (1, 2):
            t0 = time.perf_counter()
            rows[n_workers] = run_sweep(plan, CATALOG, settings, [0], n_workers=n_workers)
            times[n_workers] = time.perf_counter() - t0
        assert rows[1] == rows[2]  # the same rows, whichever pool ran them
        assert all(row.n_exhausted_subnets == 0 for row in rows[1])
        return {"one_worker_s": times[1], "two_workers_s": times[2], "speedup": times[1] / times[2]}

    out = benchmark.pedantic(measure, rounds=1)
    benchmark.extra_info.update(
        {key: round(value, 3) for key, value in out.items()}
        | {"n_settings": len(settings), "n_nodes": plan.node_groups[0].desired_capacity,
           "duration_h": plan.run.duration_s / 3600, "target_speedup": SPEEDUP_TARGET}
    )  # fmt: skip


def test_bench_dask_overhead_per_task(benchmark: Any, tmp_path: Path) -> None:
    """Figure: what Dask adds per task over running the same runs in this process (a warm
    1-worker LocalCluster, so the cluster's start is not counted; each run ~0.1 s), and what
    the 1-worker process pool adds (its worker's start included). 50 tasks; 5 in CI."""
    distributed = pytest.importorskip("distributed")
    plan = plan_of(tmp_path, 3, "10m")
    settings = settings_of(5 if benchmark.disabled else 50)
    run_one(plan, CATALOG, settings[0], 0)  # compile and load outside the timing

    def measure() -> dict[str, float]:
        t0 = time.perf_counter()
        here = [run_one(plan, CATALOG, s, 0, i) for i, s in enumerate(settings)]
        t_here = time.perf_counter() - t0
        t0 = time.perf_counter()
        pool = run_sweep(plan, CATALOG, settings, [0], n_workers=1)
        t_pool = time.perf_counter() - t0
        with (
            distributed.LocalCluster(
                processes=True, n_workers=1, threads_per_worker=1, host="127.0.0.1",
                dashboard_address=None,
            ) as cluster,
            distributed.Client(cluster) as client,
        ):  # fmt: skip
            run_sweep(plan, CATALOG, settings[:1], [0], dask=client)  # warm the worker
            t0 = time.perf_counter()
            on_dask = run_sweep(plan, CATALOG, settings, [0], dask=client)
            t_dask = time.perf_counter() - t0
        assert here == pool == on_dask
        n = len(settings)
        return {
            "in_process_s": t_here,
            "run_s": t_here / n,
            "dask_overhead_per_task_s": (t_dask - t_here) / n,
            "pool_overhead_per_task_s": (t_pool - t_here) / n,
        }

    out = benchmark.pedantic(measure, rounds=1)
    benchmark.extra_info.update(
        {key: round(value, 4) for key, value in out.items()} | {"n_tasks": len(settings)}
    )
