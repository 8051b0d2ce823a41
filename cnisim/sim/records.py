"""One result schema for both ipamd engines: samples, counters, pod waits and the World's series.

:class:`SimResult` holds plain numpy arrays (the simulator collects into preallocated arrays
and builds DataFrames only when asked). The reference model and the fast engine both return
it, so the agreement tests compare results field by field and the scenario layer reads one
shape whatever ran it.

References
----------
The tick contract and the names of metrics, operations, error codes and failure reasons:
:mod:`cnisim.sim.contract`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cnisim.sim.contract import ACTIONS, ERROR_CODES, FAIL_REASONS, METRICS, OPS, SUBNET_METRICS

if TYPE_CHECKING:
    import pandas as pd

    from cnisim.sim.world import World

__all__ = ["POD_OUTCOMES", "SimResult", "first_failures"]

#: What became of a pod in the waits table.
POD_OUTCOMES: Final = (
    "placed",  # got an address (its wait is until then)
    "waiting",  # still waiting at the end of the run (its wait so far)
    "cancelled",  # deleted while waiting (its wait until the DEL)
    "dropped",  # its node left while it waited (its wait until the leave)
)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass
class SimResult:
    """What a run of either engine recorded.

    Attributes
    ----------
    sample_s, sample_node : ndarray
        Time [s] and node id of each node sample (every joined node at every sample time).
    samples : dict of str to ndarray of int64
        One column per name in :data:`~cnisim.sim.contract.METRICS`, aligned with
        ``sample_s``.
    subnet_ids : tuple of str
        The World's subnets, in creation order.
    subnet_sample_s : ndarray of float64
        Sample times of the subnet series [s].
    subnet_samples : dict of str to ndarray of int64, shape (n_samples, n_subnets)
        One matrix per name in :data:`~cnisim.sim.contract.SUBNET_METRICS`.
    subnet_exhausted_at_s, subnet_prefix_exhausted_at_s : ndarray of float64
        Per subnet, the simulated time of the first request refused with
        InsufficientFreeAddressesInSubnet, or InsufficientCidrBlocks [s]; NaN if never.
    node_join_s, node_ready_s, node_leave_s : ndarray of float64
        Per node: when it joined (launched), when its pool first held an address (Ready), when
        it left [s]; NaN if it has not.
    node_launch_failed : ndarray of bool
        Per node: its launch found the node subnet full.
    n_adds, n_failed_adds : ndarray of int64
        ADD attempts and failed ADD attempts per node.
    n_failed_by_reason : ndarray of int64, shape (n_nodes, len(FAIL_REASONS))
        Failed ADD attempts per node by :data:`~cnisim.sim.contract.FAIL_REASONS`.
    n_calls : ndarray of int64, shape (n_nodes, len(OPS))
        Operations per node by :data:`~cnisim.sim.contract.OPS`.
    n_errors : ndarray of int64, shape (n_nodes, len(ERROR_CODES))
        Operations per node that ended in each EC2 error code.
    n_calls_by_action, n_throttled_by_action : dict of str to int
        EC2 requests (every attempt) and throttled attempts by action, over the World (every
        caller, not only ipamd).
    calls_per_minute, throttled_per_minute : ndarray of int64, shape (n_minutes, len(ACTIONS))
        The same per minute of simulated time (row m covers ``[60 m, 60 (m + 1))`` s).
    pod_ids : ndarray of int64
        Pods that have been due for an ADD, in pod id order.
    pod_node : ndarray of int64
        Their node.
    pod_outcome : ndarray of int8
        Index into :data:`POD_OUTCOMES`.
    wait_s : ndarray of float64
        Wait for an address: from the first ADD to the successful one, or so far (see
        :data:`POD_OUTCOMES`) [s].
    pod_n_failed_adds : ndarray of int64
        Failed ADD attempts of each pod.
    pod_last_reason : ndarray of int8
        Index into FAIL_REASONS of its last failed ADD, -1 if none failed.
    n_ticks, n_node_steps : int
        Ticks simulated (a tick with nothing due may be skipped) and pool steps evaluated (the
        no-op steps of sleeping nodes are not).
    end_s : float
        Time of the last tick run [s].
    """

    sample_s: FloatArray
    sample_node: IntArray
    samples: dict[str, IntArray]
    subnet_ids: tuple[str, ...]
    subnet_sample_s: FloatArray
    subnet_samples: dict[str, IntArray]
    subnet_exhausted_at_s: FloatArray
    subnet_prefix_exhausted_at_s: FloatArray
    node_join_s: FloatArray
    node_ready_s: FloatArray
    node_leave_s: FloatArray
    node_launch_failed: NDArray[np.bool_]
    n_adds: IntArray
    n_failed_adds: IntArray
    n_failed_by_reason: IntArray
    n_calls: IntArray
    n_errors: IntArray
    n_calls_by_action: dict[str, int]
    n_throttled_by_action: dict[str, int]
    calls_per_minute: IntArray
    throttled_per_minute: IntArray
    pod_ids: IntArray
    pod_node: IntArray
    pod_outcome: NDArray[np.int8]
    wait_s: FloatArray
    pod_n_failed_adds: IntArray
    pod_last_reason: NDArray[np.int8]
    n_ticks: int
    n_node_steps: int
    end_s: float

    @property
    def n_nodes(self) -> int:
        """Nodes added to the run."""
        return int(self.n_adds.size)

    def field_names(self) -> tuple[str, ...]:
        """Names of every recorded field (the agreement tests compare each)."""
        return tuple(f.name for f in fields(self))

    def to_frame(self) -> pd.DataFrame:
        """Node samples as a tidy DataFrame: ``now_s``, ``node`` and one column per metric."""
        import pandas as pd

        return pd.DataFrame({"now_s": self.sample_s, "node": self.sample_node, **self.samples})

    def nodes_frame(self) -> pd.DataFrame:
        """One row per node: times, ADDs, failures by reason, operations and errors."""
        import pandas as pd

        columns: dict[str, ArrayLike] = {
            "node": np.arange(self.n_nodes),
            "join_s": self.node_join_s,
            "ready_s": self.node_ready_s,
            "leave_s": self.node_leave_s,
            "launch_failed": self.node_launch_failed,
            "n_adds": self.n_adds,
            "n_failed_adds": self.n_failed_adds,
        }
        for i, reason in enumerate(FAIL_REASONS):
            columns[f"n_failed_{reason}"] = self.n_failed_by_reason[:, i]
        for i, op in enumerate(OPS):
            columns[f"n_calls_{op}"] = self.n_calls[:, i]
        for i, code in enumerate(ERROR_CODES):
            columns[f"n_errors_{code}"] = self.n_errors[:, i]
        return pd.DataFrame(columns)

    def waits_frame(self) -> pd.DataFrame:
        """Pod waits: ``pod``, ``node``, ``outcome``, ``wait_s``, failed ADDs and last reason.

        Pods that never got an address are included (``outcome`` waiting, cancelled or
        dropped) with their wait so far.
        """
        import pandas as pd

        reasons = np.array([*FAIL_REASONS, ""], dtype=object)
        return pd.DataFrame(
            {
                "pod": self.pod_ids,
                "node": self.pod_node,
                "outcome": np.array(POD_OUTCOMES, dtype=object)[self.pod_outcome],
                "wait_s": self.wait_s,
                "n_failed_adds": self.pod_n_failed_adds,
                "last_reason": reasons[self.pod_last_reason],
            }
        )

    def subnets_frame(self) -> pd.DataFrame:
        """Subnet series, tidy: ``now_s``, ``subnet`` and one column per subnet metric."""
        import pandas as pd

        n_samples, n_subnets = self.subnet_sample_s.size, len(self.subnet_ids)
        return pd.DataFrame(
            {
                "now_s": np.repeat(self.subnet_sample_s, n_subnets),
                "subnet": np.tile(np.array(self.subnet_ids, dtype=object), n_samples),
                **{name: self.subnet_samples[name].ravel() for name in SUBNET_METRICS},
            }
        )

    def ec2_frame(self) -> pd.DataFrame:
        """EC2 requests per minute: ``minute``, ``action``, ``n_calls``, ``n_throttled``."""
        import pandas as pd

        n_minutes = self.calls_per_minute.shape[0]
        return pd.DataFrame(
            {
                "minute": np.repeat(np.arange(n_minutes), len(ACTIONS)),
                "action": np.tile(np.array(ACTIONS, dtype=object), n_minutes),
                "n_calls": self.calls_per_minute.ravel(),
                "n_throttled": self.throttled_per_minute.ravel(),
            }
        )


def empty_metrics() -> dict[str, IntArray]:
    """A samples dict with every metric column empty."""
    return {name: np.empty(0, dtype=np.int64) for name in METRICS}


def first_failures(world: World, subnet_ids: Sequence[str], code: str) -> FloatArray:
    """Per subnet, the time of the first request refused with ``code`` [s]; NaN if never."""
    times = [world.first_failure_s(s, code) for s in subnet_ids]  # type: ignore[arg-type]
    return np.array([math.nan if t is None else t for t in times], dtype=np.float64)
