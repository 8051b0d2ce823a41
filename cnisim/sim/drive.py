"""The driver interface both ipamd engines offer, and the checks at its entry points.

A scenario (node groups, the scheduler, autoscalers) drives an engine through this interface
only, so it runs on the reference model and on the fast engine alike:

- ``add_nodes(specs, config, now_s)`` / ``remove_nodes(ids, now_s)``;
- ``submit_pods(events)`` (ADDs and their DELs), ``delete_pods(time_s, pods)`` (later DELs);
- ``peek_s()``: when anything is next due; ``run_until(t_s)``: every tick up to ``t_s``;
- ``metrics()``, ``node_status()``, ``pods_running(pods)``, ``result()``.

Each call costs in proportion to what it adds. The checks below are shared, so the two
engines refuse the same inputs with the same one-line messages.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cnisim.cni import IpamdConfig
from cnisim.errors import UsageError
from cnisim.sim.contract import NodeSpec
from cnisim.sim.records import SimResult
from cnisim.sim.workload import PodEvents

__all__ = [
    "EngineDriver",
    "check_engine_options",
    "check_node_ids",
    "check_node_specs",
    "check_pod_batch",
    "drive_one_group",
]

#: Larger values are refused as typos rather than simulated (a day is 86,400 s).
_MAX_TIME_S = 1e9


class EngineDriver(Protocol):
    """What a scenario may call on an engine."""

    @property
    def now_s(self) -> float:
        """Time of the last tick run [s]."""
        ...

    @property
    def n_nodes(self) -> int:
        """Nodes added so far."""
        ...

    def add_nodes(
        self, specs: Sequence[NodeSpec], config: IpamdConfig, now_s: float
    ) -> NDArray[np.int64]:
        """Add nodes that join at the first tick at or after ``now_s``; their ids."""
        ...

    def remove_nodes(self, ids: ArrayLike, now_s: float) -> None:
        """Terminate nodes at the first tick at or after ``now_s``."""
        ...

    def submit_pods(self, events: PodEvents) -> None:
        """Queue pod ADDs and DELs."""
        ...

    def delete_pods(self, time_s: ArrayLike, pods: ArrayLike) -> None:
        """Queue DELs of pods submitted earlier."""
        ...

    def peek_s(self) -> float:
        """When anything is next due [s]."""
        ...

    def peek_nodes_s(self, ids: ArrayLike) -> float:
        """When any of nodes ``ids`` next joins, leaves, completes a step or steps [s]."""
        ...

    def run_until(self, until_s: float) -> None:
        """Run every tick with ``now_s <= until_s``."""
        ...

    def metrics(self, now_s: float | None = None) -> dict[str, NDArray[np.int64]]:
        """Per-node metrics of every node."""
        ...

    def node_samples(
        self, since_s: float
    ) -> tuple[NDArray[np.float64], NDArray[np.int64], dict[str, NDArray[np.int64]]]:
        """The node samples taken at or after ``since_s``: times [s], nodes, metrics."""
        ...

    def node_status(self) -> dict[str, NDArray[np.bool_]]:
        """Per node: joined, ready, gone, launch_failed."""
        ...

    def pods_running(self, pods: ArrayLike) -> NDArray[np.bool_]:
        """Per pod: its ADD got an address (or branch ENI) and it has not been deleted."""
        ...

    def result(self) -> SimResult:
        """Everything recorded so far."""
        ...


def _finite(name: str, value: float, *, low: float, strict: bool) -> None:
    ok = math.isfinite(value) and (value > low if strict else value >= low)
    if not ok or value > _MAX_TIME_S:
        bound = f"> {low:g}" if strict else f">= {low:g}"
        raise UsageError(f"{name} is {value}: give a finite number {bound} (and below 1e9)")


def check_engine_options(
    *,
    tick_s: float,
    pool_interval_s: float,
    pod_retry_interval_s: float,
    sample_every_s: float,
    branch_eni_cooldown_s: float,
    placement: str,
) -> None:
    """Refuse engine options no run can use, with one line each.

    Raises
    ------
    UsageError
        A non-finite, negative or zero interval where it must be positive, or an unknown
        placement.
    """
    _finite("tick_s", tick_s, low=0.0, strict=True)
    _finite("pool_interval_s", pool_interval_s, low=0.0, strict=False)
    _finite("pod_retry_interval_s", pod_retry_interval_s, low=0.0, strict=True)
    _finite("sample_every_s", sample_every_s, low=0.0, strict=True)
    _finite("branch_eni_cooldown_s", branch_eni_cooldown_s, low=0.0, strict=False)
    if placement not in ("first_fit", "random"):
        raise UsageError(f"placement {placement!r} is unknown: use 'first_fit' or 'random'")


def check_node_specs(
    specs: Sequence[NodeSpec], config: IpamdConfig, subnet_ids: Sequence[str], now_s: float
) -> None:
    """Refuse nodes an engine cannot simulate.

    Raises
    ------
    UsageError
        IPv6 (no IPv4 warm pool), a subnet the World lacks, impossible limits, or a join time
        that is not a finite number >= 0.
    """
    if config.enable_ipv6:
        raise UsageError(
            "ENABLE_IPv6=true: ipamd keeps no IPv4 warm pool (one /80 per ENI), which the "
            "simulator does not model; simulate IPv4 (ENABLE_IPv6=false)"
        )
    _finite("join time", now_s, low=0.0, strict=False)
    known = set(subnet_ids)
    for spec in specs:
        for subnet in (spec.node_subnet, spec.pod_subnet, *spec.extra_subnets):
            if subnet not in known:
                raise UsageError(
                    f"{spec.instance_type}: subnet {subnet!r} is not in the World: add it to "
                    "the subnets"
                )
        if spec.max_enis < 1 or spec.ipv4_per_eni < 2 or spec.max_pods < 1:
            raise UsageError(
                f"{spec.instance_type}: max_enis must be >= 1, ipv4_per_eni >= 2 and max_pods "
                f">= 1 (got {spec.max_enis}, {spec.ipv4_per_eni}, {spec.max_pods})"
            )
        if spec.max_enis > 64 or spec.ipv4_per_eni > 64 or spec.max_branch_enis < 0:
            raise UsageError(
                f"{spec.instance_type}: {spec.max_enis} ENIs x {spec.ipv4_per_eni} IPv4 and "
                f"{spec.max_branch_enis} branch ENIs is no EC2 type (at most 64 x 64, branch "
                ">= 0)"
            )


def check_pod_batch(nodes: ArrayLike, n_nodes: int) -> None:
    """Refuse pods on nodes that were never added.

    Raises
    ------
    UsageError
        A pod names a node id that is not added yet.
    """
    node_ids = np.asarray(nodes)
    if node_ids.size and int(node_ids.max()) >= n_nodes:
        raise UsageError("a pod is scheduled on a node id that is not added: add nodes first")


def check_node_ids(ids: ArrayLike, n_nodes: int, caller: str = "remove_nodes") -> list[int]:
    """The node ids of a ``caller`` call (``remove_nodes``, ``peek_nodes_s``), as ints.

    Raises
    ------
    UsageError
        An id that is not an integer or names a node that was never added.
    """
    node_ids = np.atleast_1d(np.asarray(ids)).ravel()
    if node_ids.size and not np.issubdtype(node_ids.dtype, np.integer):
        raise UsageError("node ids must be integers")
    if node_ids.size and (node_ids.min() < 0 or node_ids.max() >= n_nodes):
        raise UsageError(f"{caller} got a node id that was never added")
    return [int(i) for i in node_ids]


def drive_one_group(
    engine: EngineDriver,
    nodes: Sequence[NodeSpec],
    config: IpamdConfig,
    pods: PodEvents,
    *,
    duration_s: float,
    join_s: Sequence[float] | None,
    leave_s: Sequence[float | None] | None,
    prepare_space: Callable[[Any], None] | None,
    space: Any,
) -> None:
    """One node group's whole run, as ``run_reference`` and ``run_engine`` give it: the
    space prepared, the nodes joined (at 0 s unless ``join_s``) and left, the pods submitted,
    every tick up to ``duration_s`` run.

    Raises
    ------
    UsageError
        ``join_s`` or ``leave_s`` not one per node, and what the engine refuses.
    """
    if prepare_space is not None:
        prepare_space(space)
    joins = list(join_s) if join_s is not None else [0.0] * len(nodes)
    leaves = list(leave_s) if leave_s is not None else [None] * len(nodes)
    if len(joins) != len(nodes) or len(leaves) != len(nodes):
        raise UsageError("join_s and leave_s need one value per node")
    for spec, t_s in zip(nodes, joins, strict=True):
        engine.add_nodes([spec], config, t_s)
    for i, t_leave in enumerate(leaves):
        if t_leave is not None:
            engine.remove_nodes([i], t_leave)
    engine.submit_pods(pods)
    engine.run_until(duration_s)
