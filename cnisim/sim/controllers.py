"""The seam between a cluster run and the controllers that act on it at times of their own.

A controller is anything that changes the cluster on its own clock rather than in reply to a
pod or a node: the cluster autoscaler's scan loop, Deployment rollouts and replica schedules,
the HPA, load balancers and Fargate. Each says when it is next due; the run's clock jumps there
and calls :meth:`Controller.step` with the run, through whose public methods
(:class:`cnisim.sim.scenario.ClusterRun`) it creates and deletes pods, resizes node groups,
terminates nodes and takes addresses in the World's subnets.

Per tick, controllers step after node updates and pod ends, and before new pods join the
scheduling queue, in the order :func:`cnisim.sim.scenario.make_controllers` lists them: what a
controller creates is scheduled in the same tick; what the scheduler could not place is seen by
a controller at its next step, as the cluster autoscaler sees it at its next scan.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from cnisim.sim.scenario import ClusterRun

__all__ = ["Controller", "PodClaimer"]


class Controller(Protocol):
    """What the run's clock needs of a controller."""

    #: Short name, used in the run's notes and the result's ``controllers`` mapping.
    name: str

    def next_due_s(self, now_s: float) -> float:
        """When the controller next has something to do, at or after ``now_s`` [s]; ``inf``
        if nothing is due until the cluster changes.

        The run asks after its own stops only, not after every tick at which pods merely end,
        arrive or are scheduled (those run compiled in between): a controller whose answer
        depends on the pods the scheduler could not place sets the class attribute
        ``watches_unschedulable = True`` and is asked again after every tick that leaves
        some pending. Other answers may change only in a step (a controller's own, or one
        that calls a method of this controller)."""
        ...

    def step(self, run: ClusterRun, now_s: float) -> bool:
        """Act at ``now_s``; True if the scheduler should try its unschedulable pods again (a
        node became Ready or left, or capacity was freed)."""
        ...

    def summary(self) -> object:
        """What the controller did, for :attr:`SimulationResult.controllers` (a dataclass of
        plain values and arrays)."""
        ...


class PodClaimer(Protocol):
    """A controller that takes some new pods away from kube-scheduler (Fargate's scheduler),
    registered with :meth:`cnisim.sim.scenario.ClusterRun.claim_pods`."""

    def claim(self, pod_ids: NDArray[np.int64], now_s: float) -> NDArray[np.bool_]:
        """Which of these pods, created now, it takes (they never join the scheduling queue)."""
        ...

    def deleted(self, pod_ids: NDArray[np.int64], now_s: float) -> None:
        """Pods a controller deleted now (some may be its own)."""
        ...
