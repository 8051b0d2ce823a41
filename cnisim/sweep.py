"""Sweeps: one plan simulated under many aws-node settings x seeds, on a process pool or Dask.

A sweep is the product of candidate settings and seeds, as Mesa's ``batch_run`` makes it: each
run is a pure function of (plan, settings, seed), :func:`run_one`, which applies the settings as
``cnisim simulate --set`` does (:func:`cnisim.io.apply_overrides`), simulates, and reduces the
result in the worker to a small :class:`RunRow` (so only a few numbers travel back).
:func:`run_sweep` runs them

- on a local process pool over the cores (the default: embedded, no server; a ``forkserver``
  context where the platform has one, else ``spawn``, so no worker inherits a forked numba or
  thread state), or
- on a Dask distributed cluster (``pip install 'cnisim[dask]'``), given its scheduler address or
  a ``distributed.Client``; :func:`dask_address_from_config` reads Dask's own configuration
  (``scheduler-address``, e.g. ``DASK_SCHEDULER_ADDRESS``).

Rows come back in task order (settings, then seed) whatever finished first, so a sweep's rows
are identical for the same seeds whichever executor ran them. Every setting runs on the same
seeds (common random numbers: the settings are compared on the same pod arrivals and boot
times). :func:`spawn_seeds` derives them from one seed with numpy's ``SeedSequence``.

The plan and the catalog go to each worker once (the pool's initializer, Dask's ``scatter``), not
with every task.

References
----------
Mesa ``batchrunner.py`` (batch_run: parameters x iterations, one row per run);
Dask distributed documentation, "Futures" (``Client.submit``, ``as_completed``, ``scatter``).
"""

from __future__ import annotations

import copyreg
import multiprocessing
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from cnisim.errors import CnisimError

if TYPE_CHECKING:
    from distributed import Client

    from cnisim.catalog import Catalog
    from cnisim.plan import Plan
    from cnisim.sim.scenario_result import SimulationResult

__all__ = [
    "DASK_CONNECT_TIMEOUT_S",
    "RunRow",
    "SweepError",
    "dask_address_from_config",
    "peak_used_ips_by_az",
    "reduce_result",
    "run_one",
    "run_sweep",
    "spawn_seeds",
]

#: How long to wait for a Dask scheduler to answer before giving up [s].
DASK_CONNECT_TIMEOUT_S: Final = 10.0


class SweepError(CnisimError):
    """A sweep could not run: no Dask installed, a scheduler out of reach, a worker lost."""


def _mapping_proxy(values: dict[str, str]) -> MappingProxyType[str, str]:
    return MappingProxyType(values)


def _reduce_mapping_proxy(proxy: MappingProxyType[str, str]) -> tuple[Any, tuple[Any, ...]]:
    return _mapping_proxy, (dict(proxy),)


# A Plan keeps its mappings read-only (MappingProxyType), which pickle refuses; a sweep sends
# plans to other processes, so they travel as a dict and come back read-only.
copyreg.pickle(MappingProxyType, _reduce_mapping_proxy)


@dataclass(frozen=True)
class RunRow:
    """What one run of a sweep reports (reduced in the worker).

    Attributes
    ----------
    candidate : int
        Index of the settings in the sweep's list.
    seed : int
        The run's seed.
    settings : dict of str to str
        The aws-node variables this run set (over the plan's), by their names.
    idle_ips_per_node_mean : float
        Addresses ipamd holds for pods minus those assigned, over every node sample of every
        group (node-time-weighted, as ``cnisim simulate``'s per-group figure) [addresses];
        0 if no node was sampled.
    ip_wait_p99_s : float
        99th percentile of pods' waits for an address [s]; 0 if no pod needed one.
    n_ec2_calls : int
        EC2 requests, every action and attempt.
    n_throttled : int
        Of those, throttled (RequestLimitExceeded).
    n_exhausted_subnets : int
        Subnets that refused a request with InsufficientFreeAddressesInSubnet.
    peak_used_ips_by_az : dict of str to int
        Per availability zone: the most addresses in use at once, summed over its subnets
        (subnet samples every ``run.sampleEvery``) [addresses].
    ran_dry_by_az : dict of str to bool
        Per availability zone: whether one of its subnets ran out (then the peak is only a
        lower bound of what the zone asked for).
    """

    candidate: int
    seed: int
    settings: dict[str, str]
    idle_ips_per_node_mean: float
    ip_wait_p99_s: float
    n_ec2_calls: int
    n_throttled: int
    n_exhausted_subnets: int
    peak_used_ips_by_az: dict[str, int]
    ran_dry_by_az: dict[str, bool]


def spawn_seeds(seed: int, n_seeds: int) -> list[int]:
    """``n_seeds`` independent run seeds derived from one (numpy ``SeedSequence.spawn``).

    Examples
    --------
    >>> spawn_seeds(0, 2) == spawn_seeds(0, 3)[:2]
    True
    """
    children = np.random.SeedSequence(seed).spawn(n_seeds)
    return [int(child.generate_state(1)[0]) for child in children]


def peak_used_ips_by_az(result: SimulationResult) -> dict[str, int]:
    """Per zone, the most addresses in use at one subnet sample, summed over its subnets.

    A subnet's use is its usable size (the CIDR minus AWS's 5 reserved addresses) minus its
    free addresses: node addresses, ENI primaries and pod addresses alike.
    """
    import ipaddress

    from cnisim.report import AWS_RESERVED_IPS_PER_SUBNET

    sim = result.ipamd
    subnets = {subnet.id: subnet for subnet in result.plan.vpc.subnets}
    free = sim.subnet_samples["n_free_ips"]
    used_by_az: dict[str, np.ndarray] = {}
    for j, subnet_id in enumerate(sim.subnet_ids):
        subnet = subnets[subnet_id]
        usable = ipaddress.ip_network(subnet.cidr).num_addresses - AWS_RESERVED_IPS_PER_SUBNET
        used = usable - free[:, j]
        used_by_az[subnet.az] = used_by_az.get(subnet.az, 0) + used
    return {az: int(used.max()) if used.size else 0 for az, used in sorted(used_by_az.items())}


def reduce_result(
    result: SimulationResult, *, candidate: int, seed: int, settings: Mapping[str, str]
) -> RunRow:
    """A run's :class:`RunRow`, from its result and ``cnisim simulate``'s summary."""
    from cnisim.report import summarize

    summary = summarize(result)
    idle = result.ipamd.samples["ips_held"] - result.ipamd.samples["ips_assigned"]
    ran_dry: dict[str, bool] = {}
    for row in summary["subnets"]:
        ran_dry[row["az"]] = ran_dry.get(row["az"], False) or row["exhausted_at_s"] is not None
    return RunRow(
        candidate=candidate,
        seed=seed,
        settings=dict(settings),
        idle_ips_per_node_mean=float(idle.mean()) if idle.size else 0.0,
        ip_wait_p99_s=summary["pods"]["ip_wait_p99_s"] or 0.0,
        n_ec2_calls=sum(summary["ec2"]["n_calls"].values()),
        n_throttled=summary["ec2"]["n_throttled"],
        n_exhausted_subnets=sum(row["exhausted_at_s"] is not None for row in summary["subnets"]),
        peak_used_ips_by_az=peak_used_ips_by_az(result),
        ran_dry_by_az=dict(sorted(ran_dry.items())),
    )


def run_one(
    plan: Plan, catalog: Catalog, settings: Mapping[str, str], seed: int, candidate: int = 0
) -> RunRow:
    """One run of a sweep: the plan with ``settings`` (as ``--set``) and ``seed``, reduced.

    A pure function of its arguments: the same call gives the same row in any process.

    Parameters
    ----------
    plan : Plan
        The plan, with its other overrides applied.
    catalog : Catalog
        Instance data for the plan's types.
    settings : mapping of str to str
        aws-node variables by their names, over every node group's.
    seed : int
        The run's seed (over ``run.seed``).
    candidate : int
        Index of ``settings`` in the sweep, carried into the row.
    """
    from cnisim.io import apply_overrides
    from cnisim.sim.scenario import simulate

    run_plan = apply_overrides(plan, env=dict(settings), seed=seed)
    result = simulate(run_plan, catalog)
    return reduce_result(result, candidate=candidate, seed=seed, settings=settings)


# The process pool's workers hold the plan and catalog their initializer was given.
_worker_inputs: dict[str, Any] = {}


def _init_worker(plan: Plan, catalog: Catalog) -> None:
    _worker_inputs.update(plan=plan, catalog=catalog)


def _run_in_worker(settings: Mapping[str, str], seed: int, candidate: int) -> RunRow:
    return run_one(_worker_inputs["plan"], _worker_inputs["catalog"], settings, seed, candidate)


def _n_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _pool_context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


Task = tuple[int, int]  # (candidate, seed)
Progress = Callable[[int, int], None]


def _on_pool(
    plan: Plan,
    catalog: Catalog,
    settings: Sequence[Mapping[str, str]],
    tasks: Sequence[Task],
    n_workers: int,
    progress: Progress | None,
) -> list[RunRow]:
    rows: list[RunRow | None] = [None] * len(tasks)
    try:
        with ProcessPoolExecutor(
            max_workers=n_workers,
            mp_context=_pool_context(),
            initializer=_init_worker,
            initargs=(plan, catalog),
        ) as pool:
            index = {
                pool.submit(_run_in_worker, settings[c], seed, c): i
                for i, (c, seed) in enumerate(tasks)
            }
            try:
                for n_done, future in enumerate(as_completed(index), start=1):
                    rows[index[future]] = future.result()
                    if progress is not None:
                        progress(n_done, len(tasks))
            except BaseException:  # a run's error, Ctrl-C: the runs not started are dropped
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    except BrokenProcessPool:
        raise SweepError(
            "a sweep worker process died (out of memory?): run fewer settings or seeds at once"
        ) from None
    return [row for row in rows if row is not None]


def dask_address_from_config() -> str | None:
    """The scheduler address in Dask's configuration (``scheduler-address``, e.g. set by
    ``DASK_SCHEDULER_ADDRESS``), or None (also when Dask is not installed)."""
    try:
        import dask.config
    except ImportError:
        return None
    address = dask.config.get("scheduler-address", None)
    return str(address) if address else None


def _connect(address: str, timeout_s: float) -> Client:
    """A client of the scheduler at ``address``, or one :class:`SweepError` line by the deadline.

    Dask's own timeout covers the TCP connection, not its handshake, so a server that accepts
    and never answers (a dashboard port, a proxy) would hang it: the connection is made on a
    daemon thread, abandoned if it has not answered in time.
    """
    try:
        from distributed import Client
    except ImportError:
        raise SweepError(
            "--dask-scheduler needs Dask: pip install 'cnisim[dask]' (or drop the option to "
            "run on this machine's cores)"
        ) from None
    import threading

    outcome: dict[str, Any] = {}

    def connect() -> None:
        try:
            outcome["client"] = Client(address, timeout=timeout_s, set_as_default=False)
        except Exception as exc:  # refused, timed out, a bad address, not a Dask scheduler
            outcome["error"] = " ".join(str(exc).split())[:160] or type(exc).__name__

    thread = threading.Thread(target=connect, name="cnisim-dask-connect", daemon=True)
    thread.start()
    thread.join(timeout_s + 1.0)
    if "client" in outcome:
        return outcome["client"]
    why = outcome.get("error", "no answer")
    raise SweepError(
        f"cannot reach the Dask scheduler at {address} within {timeout_s:g} s ({why}): "
        "check the address (tcp://HOST:PORT) and that dask-scheduler runs there"
    )


def _on_dask(
    client: Client,
    plan: Plan,
    catalog: Catalog,
    settings: Sequence[Mapping[str, str]],
    tasks: Sequence[Task],
    progress: Progress | None,
) -> list[RunRow]:
    from distributed import as_completed as dask_as_completed

    plan_future, catalog_future = client.scatter([plan, catalog], broadcast=True, hash=False)
    futures = [
        client.submit(run_one, plan_future, catalog_future, settings[c], seed, c, pure=False)
        for c, seed in tasks
    ]
    try:
        for n_done, _ in enumerate(dask_as_completed(futures, loop=client.loop), start=1):
            if progress is not None:
                progress(n_done, len(tasks))
        return list(client.gather(futures))
    finally:
        client.cancel([*futures, plan_future, catalog_future])


def run_sweep(
    plan: Plan,
    catalog: Catalog,
    settings: Sequence[Mapping[str, str]],
    seeds: Sequence[int],
    *,
    n_workers: int | None = None,
    dask: str | Client | None = None,
    dask_timeout_s: float = DASK_CONNECT_TIMEOUT_S,
    progress: Progress | None = None,
) -> list[RunRow]:
    """Simulate ``plan`` under every settings x seed; one row per run, in that order.

    Parameters
    ----------
    plan : Plan
        The plan, with its other overrides (``--desired``, ``--duration``, ``--set``) applied.
    catalog : Catalog
        Instance data for the plan's types.
    settings : sequence of mapping of str to str
        The candidates: aws-node variables by their names, each applied over the plan's.
    seeds : sequence of int
        Run seeds; every candidate runs on each.
    n_workers : int, optional
        Processes of the local pool (default: the cores this process may use), at most one
        per run. Ignored with ``dask``.
    dask : str or distributed.Client, optional
        A Dask scheduler address (``tcp://HOST:PORT``) or a connected client: the runs go to
        its workers instead (which need cnisim installed). A client given is left open.
    dask_timeout_s : float
        How long to wait for the scheduler to answer [s].
    progress : callable, optional
        Called with (runs done, runs in all) as runs finish.

    Returns
    -------
    list of RunRow
        Candidate-major: ``rows[i * len(seeds) + k]`` ran ``settings[i]`` on ``seeds[k]``.

    Raises
    ------
    SweepError
        Dask missing, its scheduler out of reach within the timeout, a worker process lost.
    CnisimError
        A run's own error (settings ipamd refuses), as :func:`run_one` raises it.
    """
    tasks = [(c, seed) for c in range(len(settings)) for seed in seeds]
    if not tasks:
        return []
    if dask is None:
        n = min(n_workers or _n_cores(), len(tasks))
        return _on_pool(plan, catalog, settings, tasks, max(n, 1), progress)
    if not isinstance(dask, str):
        return _on_dask(dask, plan, catalog, settings, tasks, progress)
    client = _connect(dask, dask_timeout_s)
    try:
        return _on_dask(client, plan, catalog, settings, tasks, progress)
    finally:
        client.close()
