"""Version updates as scheduled plan events: a managed node group's, and the control plane's.

A plan's ``events`` (:class:`cnisim.plan.UpgradeEvent`) become controllers
(:mod:`cnisim.sim.controllers`), one per event:

- :class:`NodeGroupUpgrade` follows EKS's managed node group update: the Auto Scaling group's
  maximum and desired size grow by :func:`surge_nodes` (the larger of twice the group's zones
  and ``updateConfig.maxUnavailable``); once every new node is Ready, up to maxUnavailable old
  nodes are drained and terminated at a time (their pods are recreated elsewhere, the group
  replaces the instance with a new one); when no old node is left, the maximum and desired
  size go back down by the surge (the group scales in).
- :class:`ClusterUpgrade` recreates the EKS control plane's ENIs: two new ones in the cluster's
  subnets stand beside the old ones for the update's duration, then the old pair goes (the
  steady pair is modeled elsewhere: this controller holds only the extra two). EKS refuses to
  start when a cluster subnet has fewer than 5 free addresses.

While an update runs, its controller reads every subnet's free addresses at every tick, so
its summary (:class:`UpgradeSummary`) has the peak use during the update, and whether a subnet
ran out then.

Simplifications (also in the README):

- An old node is cordoned, drained and terminated at one instant (EKS terminates it 60 s after
  the cordon, and gives up evicting after 15 min; PodDisruptionBudgets are not modeled).
- The update waits for every new node to be Ready (EKS waits for one per zone before the
  first drain); the old nodes drained are picked at random (seeded), as EKS does.
- The new nodes go where the group's AZ balance puts them (EKS puts them in the zones of the
  nodes they replace; with a balanced group that is the same).
- The control-plane ENIs take one address each, in the first two private subnets of the VPC
  (the cluster subnets; the first one twice if there is one); the update takes
  ``duration`` (10 min by default, an assumption).

References
----------
EKS user guide, "Understand each phase of node updates" (setup, scale up, upgrade and scale
down phases; the surge rule: "the larger of either: up to twice the number of Availability
Zones ... the maxUnavailable of upgrade"); EKS user guide, "Network requirements" (control-plane
ENIs; "at least six IP addresses", upgrades need "up to five available IP addresses");
``docs/cluster-model.md`` sec. 1 and 6.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import numpy as np
from numpy.typing import NDArray

from cnisim.plan import Plan, UpgradeEvent
from cnisim.sim.holders import EKS_UPGRADE_FREE_IPS
from cnisim.sim.subnet import N_AWS_RESERVED_PER_SUBNET

if TYPE_CHECKING:
    from cnisim.sim.scenario import ClusterRun
    from cnisim.sim.world import World

__all__ = [
    "CONTROL_PLANE_ENIS",
    "MIN_FREE_IPS_FOR_CLUSTER_UPGRADE",
    "ClusterUpgrade",
    "NodeGroupUpgrade",
    "UpgradeSummary",
    "surge_nodes",
    "upgrade_controllers",
]

_FULL: Final = "InsufficientFreeAddressesInSubnet"

#: New control-plane ENIs an update creates beside the old ones (EKS creates 2 to 4; cnisim's
#: steady state is 2, ``docs/cluster-model.md`` sec. 9).
CONTROL_PLANE_ENIS: Final = 2

#: Free addresses EKS needs in each cluster subnet to update the control plane (EKS user guide,
#: "Network requirements": "up to five available IP addresses"; a real failure: "need at least
#: 5 IPs in each subnet"): the holders' figure, under this module's name.
MIN_FREE_IPS_FOR_CLUSTER_UPGRADE: Final = EKS_UPGRADE_FREE_IPS


def surge_nodes(n_zones: int, max_unavailable: int) -> int:
    """Nodes a managed node group update adds before it drains any old one.

    The larger of twice the group's Availability Zones and ``updateConfig.maxUnavailable``.

    Parameters
    ----------
    n_zones : int
        Zones of the group's subnets.
    max_unavailable : int
        ``updateConfig.maxUnavailable`` [nodes].

    Returns
    -------
    int
        The surge [nodes].

    References
    ----------
    EKS user guide, "Understand each phase of node updates", scale up phase.

    Examples
    --------
    >>> surge_nodes(3, 1), surge_nodes(5, 1), surge_nodes(1, 4)
    (6, 10, 4)
    """
    return max(2 * n_zones, max_unavailable)


@dataclass(frozen=True)
class UpgradeSummary:
    """What one update did, and what it cost in addresses.

    Attributes
    ----------
    upgrade : str
        ``nodeGroup/<name>`` or ``cluster``.
    start_s : float
        When it started [s].
    end_s : float
        When it finished [s]; NaN if it had not by the end of the run (or failed).
    n_surge_nodes : int
        Nodes added before the first drain (0 for a cluster update) [nodes].
    n_replaced_nodes : int
        Old nodes drained and terminated [nodes].
    subnet_ids : tuple of str
        The VPC's subnets, in the World's order.
    n_peak_used_ips : tuple of int
        Per subnet: most addresses in use at any tick of the update [addresses].
    n_min_free_ips : tuple of int
        Per subnet: fewest free addresses at any tick of the update [addresses].
    n_free_ips_before : tuple of int
        Per subnet: free addresses when it started [addresses].
    n_refused : tuple of int
        Per subnet: address requests refused with InsufficientFreeAddressesInSubnet during the
        update (ipamd's, a node's launch) [requests].
    failure : str or None
        Why it could not start or finish, one line; None if it did (or is still running).
    """

    upgrade: str
    start_s: float
    end_s: float
    n_surge_nodes: int
    n_replaced_nodes: int
    subnet_ids: tuple[str, ...]
    n_peak_used_ips: tuple[int, ...]
    n_min_free_ips: tuple[int, ...]
    n_free_ips_before: tuple[int, ...]
    n_refused: tuple[int, ...]
    failure: str | None

    @property
    def ran_out(self) -> tuple[str, ...]:
        """Subnets that had no free address at some tick of the update, or refused a request
        for lack of addresses during it."""
        return tuple(
            s
            for s, least, refused in zip(
                self.subnet_ids, self.n_min_free_ips, self.n_refused, strict=True
            )
            if not least or refused
        )


class _AddressWatch:
    """Free addresses of every subnet, read at each tick of an update, and its refusals."""

    world: World

    def __init__(self) -> None:
        self.subnet_ids: tuple[str, ...] = ()
        self.n_usable = np.zeros(0, np.int64)
        self.before = np.zeros(0, np.int64)
        self.least = np.zeros(0, np.int64)

    def start(self, run: ClusterRun, now_s: float) -> None:
        self.subnet_ids = tuple(run.world.subnet_ids())
        self.n_usable = np.array(
            [run.world.stats(s).n_addresses - N_AWS_RESERVED_PER_SUBNET for s in self.subnet_ids],
            dtype=np.int64,
        )
        self.before = self._free(run, now_s)
        self.least = self.before.copy()
        self.world = run.world
        self.refused_before = self._refused()
        self.refused_after: NDArray[np.int64] | None = None

    def _refused(self) -> NDArray[np.int64]:
        return np.array(
            [self.world.stats(s).failures_by_code.get(_FULL, 0) for s in self.subnet_ids],
            dtype=np.int64,
        )

    def stop(self) -> None:
        """The update is over: requests refused after this are not its."""
        self.refused_after = self._refused()

    def read(self, run: ClusterRun, now_s: float) -> None:
        np.minimum(self.least, self._free(run, now_s), out=self.least)

    @staticmethod
    def _free(run: ClusterRun, now_s: float) -> NDArray[np.int64]:
        # what ipamd did up to this tick takes addresses: the engine catches up first
        run.engine.run_until(now_s)
        return np.array(
            [run.world.available_ip_address_count(s) for s in run.world.subnet_ids()],
            dtype=np.int64,
        )

    def summary(
        self, event: UpgradeEvent, end_s: float, n_surge: int, n_replaced: int, failure: str | None
    ) -> UpgradeSummary:
        return UpgradeSummary(
            upgrade=event.upgrade,
            start_s=event.at_s,
            end_s=end_s,
            n_surge_nodes=n_surge,
            n_replaced_nodes=n_replaced,
            subnet_ids=self.subnet_ids,
            n_peak_used_ips=tuple((self.n_usable - self.least).tolist()),
            n_min_free_ips=tuple(self.least.tolist()),
            n_free_ips_before=tuple(self.before.tolist()),
            n_refused=tuple(
                (
                    (self._refused() if self.refused_after is None else self.refused_after)
                    - self.refused_before
                ).tolist()
            ),
            failure=failure,
        )


class NodeGroupUpgrade:
    """A managed node group version update (see the module docstring for its phases)."""

    def __init__(self, event: UpgradeEvent, g: int, run: ClusterRun) -> None:
        self.event = event
        self.name = f"upgrade {event.upgrade} at {event.at_s:g}s"
        self._g = g
        self._group = run.plan.node_groups[g]
        self._rng = run.world.stream(f"upgrade:{event.upgrade}:{event.at_s:g}")
        self._watch = _AddressWatch()
        self._old: list[int] = []  # nodes of the group when the update started
        self._n_surge = 0
        self._n_replaced = 0
        self._phase = "pending"  # -> "running" -> "done"
        self._end_s = math.nan

    def next_due_s(self, now_s: float) -> float:
        if self._phase == "pending":
            return max(self.event.at_s, now_s)
        return now_s if self._phase == "running" else math.inf

    def _live(self, run: ClusterRun) -> list[int]:
        return [
            i for i, g in enumerate(run.node_group) if g == self._g and not bool(run.node_gone[i])
        ]

    def step(self, run: ClusterRun, now_s: float) -> bool:
        asg = run.asgs[self._g]
        if self._phase == "pending":
            self._phase = "running"
            self._watch.start(run, now_s)
            self._old = self._live(run)
            self._n_surge = surge_nodes(len(asg.azs), self._group.max_unavailable)
            asg.set_max_size(now_s, asg.max_size + self._n_surge)
            run.set_group_desired(self._g, asg.desired + self._n_surge, now_s)
            run.note(
                f"{self.event.upgrade}: update at {self.event.at_s:g} s, surge of "
                f"{self._n_surge} nodes, {self._group.max_unavailable} drained at a time"
            )
            return False
        self._watch.read(run, now_s)
        live = self._live(run)
        if len(live) < asg.desired or not all(
            run.node_ready[i] for i in live if i not in self._old
        ):
            return False  # new nodes still booting (or the group still launching)
        old = [i for i in live if i in self._old]
        if not old:
            asg.set_max_size(now_s, asg.max_size - self._n_surge)
            run.set_group_desired(self._g, asg.desired - self._n_surge, now_s)
            self._phase, self._end_s = "done", now_s
            self._watch.stop()
            return False
        n_drain = min(self._group.max_unavailable, len(old))
        for node in self._rng.choice(old, size=n_drain, replace=False).tolist():
            run.terminate_node(int(node), now_s, decrement_desired=False)
        self._n_replaced += n_drain
        return True

    def summary(self) -> UpgradeSummary:
        failure = None
        if self._phase == "running":
            failure = f"not finished: {self._n_replaced} of {len(self._old)} old nodes replaced"
        return self._watch.summary(
            self.event, self._end_s, self._n_surge, self._n_replaced, failure
        )


class ClusterUpgrade:
    """A control-plane version update: two more control-plane ENIs for its duration."""

    def __init__(self, event: UpgradeEvent, run: ClusterRun) -> None:
        self.event = event
        self.name = f"upgrade cluster at {event.at_s:g}s"
        subnets = run.plan.vpc.subnets
        self._subnets = [s.id for s in subnets if not s.public] or [s.id for s in subnets]
        self._watch = _AddressWatch()
        self._owner: int | None = None
        self._phase = "pending"
        self._end_s = math.nan
        self._failure: str | None = None

    def next_due_s(self, now_s: float) -> float:
        if self._phase == "pending":
            return max(self.event.at_s, now_s)
        if self._phase == "running":
            return now_s
        return math.inf

    def step(self, run: ClusterRun, now_s: float) -> bool:
        if self._phase == "pending":
            self._watch.start(run, now_s)
            self._phase = "running"
            self._start(run, now_s)
            return False
        self._watch.read(run, now_s)
        if now_s >= self.event.at_s + self.event.duration_s:
            if self._owner is not None:
                run.world.release_owner(self._owner)
            self._phase, self._end_s = "done", now_s
            self._watch.stop()
        return False

    def _start(self, run: ClusterRun, now_s: float) -> None:
        world = run.world
        for subnet_id in self._subnets:
            n_free = world.available_ip_address_count(subnet_id)
            if n_free < MIN_FREE_IPS_FOR_CLUSTER_UPGRADE:
                self._failure = (
                    f"subnet {subnet_id} had {n_free} free addresses: EKS needs "
                    f"{MIN_FREE_IPS_FOR_CLUSTER_UPGRADE} in each cluster subnet to update"
                )
                self._phase = "done"
                self._watch.stop()
                return
        self._owner = world.new_owner_id()
        for k in range(CONTROL_PLANE_ENIS):
            subnet_id = self._subnets[k % min(len(self._subnets), CONTROL_PLANE_ENIS)]
            world.allocate_fixed(subnet_id, self._owner, n_ips=1, now_s=now_s)
        run.note(
            f"cluster: control plane update at {self.event.at_s:g} s, {CONTROL_PLANE_ENIS} "
            f"more ENIs for {self.event.duration_s:g} s"
        )

    def summary(self) -> UpgradeSummary:
        return self._watch.summary(self.event, self._end_s, 0, 0, self._failure)


def upgrade_controllers(plan: Plan, run: ClusterRun) -> list[NodeGroupUpgrade | ClusterUpgrade]:
    """One controller per update the plan schedules within the run, in the plan's order
    (one after the run's end, as a shorter ``--duration`` leaves it, is only noted)."""
    names = [group.name for group in plan.node_groups]
    out: list[NodeGroupUpgrade | ClusterUpgrade] = []
    for event in plan.events:
        if event.at_s > plan.run.duration_s:
            run.note(f"{event.upgrade}: the update at {event.at_s:g} s is after the run's end")
            continue
        name = event.node_group
        if name is None:
            out.append(ClusterUpgrade(event, run))
        else:
            out.append(NodeGroupUpgrade(event, names.index(name), run))
    return out
