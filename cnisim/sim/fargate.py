"""Fargate profiles: pods their selectors match run on Fargate, one subnet address each.

A pod that matches a profile never reaches kube-scheduler or a node group: the Fargate
scheduler gives it a micro-VM with its own ENI, so one address in one of the profile's private
subnets, held from the pod's creation (the Fargate node is named after that address before the
pod runs) until the pod ends, and no warm pool. The pod starts after the profile's start delay
(``docs/cluster-model.md`` sec. 1: 30-45 s to create and register the micro-VM). A pod whose
subnets have no free address stays Pending, with the reason, and is tried again.

Simplifications (each also in the README):

- The address goes to the profile subnet with the most free addresses (DescribeSubnets'
  AvailableIpAddressCount), ties to the first listed: AWS does not document how Fargate
  spreads pods over a profile's subnets.
- A pod matching several profiles runs on the one its ``eks.amazonaws.com/fargate-profile``
  label names, else on the first in plan order (EKS does not say which it picks).
- CoreDNS stays on the node groups even when a profile selects ``kube-system``: the EKS add-on
  carries the ``eks.amazonaws.com/compute-type: ec2`` annotation.
- In an IPv6 cluster a Fargate pod still takes one IPv4 address here, as every EKS node (a
  Fargate micro-VM is one) has an IPv4 address next to its IPv6 one (community.aws, "IPv6
  Fundamentals for EKS workloads").
- The start delay is one fixed value per profile; image pulls take no time; a pod that found
  no address is tried again every :data:`RETRY_S` (an assumption: AWS publishes no interval).

References
----------
EKS user guide, "AWS Fargate" (profiles, selectors with wildcards, private subnets only, the
``eks.amazonaws.com/fargate-profile`` label); aws/containers-roadmap #649 (start times).
"""

from __future__ import annotations

import heapq
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import numpy as np
from numpy.typing import NDArray

from cnisim.plan import DaemonSet, FargateProfile, FargateSelector, Plan, Workload
from cnisim.sim.subnet import InsufficientAddressesError

if TYPE_CHECKING:
    from cnisim.sim.scenario import ClusterRun

__all__ = [
    "PROFILE_LABEL",
    "RETRY_S",
    "FargateController",
    "FargateSummary",
    "profile_of_workloads",
]

RETRY_S: Final = 10.0
"""How soon a Fargate pod that found no free address is tried again [s] (assumed: the
kube-scheduler's longest backoff, ``docs/cluster-model.md`` sec. 2)."""

PROFILE_LABEL: Final = "eks.amazonaws.com/fargate-profile"
"""The pod label that picks one of several matching profiles."""

_ERROR: Final = "InsufficientFreeAddressesInSubnet"


def _wildcard(pattern: str) -> re.Pattern[str]:
    """EKS selector wildcards: ``*`` any run of characters, ``?`` one character."""
    return re.compile(
        ".*".join(".".join(map(re.escape, part.split("?"))) for part in pattern.split("*"))
    )


def _matches(selector: FargateSelector, namespace: str, labels: dict[str, str]) -> bool:
    if not _wildcard(selector.namespace).fullmatch(namespace):
        return False
    return all(
        key in labels and _wildcard(value).fullmatch(labels[key]) is not None
        for key, value in selector.labels.items()
    )


def profile_of_workloads(
    profiles: tuple[FargateProfile, ...], workloads: tuple[Workload, ...], coredns: object
) -> NDArray[np.int64]:
    """Per workload: the index of the Fargate profile its pods run on, or -1 (node groups).

    Examples
    --------
    >>> from cnisim.plan import Deployment
    >>> batch = FargateProfile("batch", (FargateSelector("batch-*"),), ("subnet-a",))
    >>> workloads = (Deployment("web", 2), Deployment("etl", 2, namespace="batch-nightly"))
    >>> profile_of_workloads((batch,), workloads, None).tolist()
    [-1, 0]
    """
    out = np.full(len(workloads), -1, dtype=np.int64)
    for w, workload in enumerate(workloads):
        if isinstance(workload, DaemonSet) or workload is coredns:
            continue  # Fargate runs no DaemonSets; CoreDNS is annotated for EC2
        labels = dict(workload.labels)
        matching = [
            p
            for p, profile in enumerate(profiles)
            if any(_matches(s, workload.namespace, labels) for s in profile.selectors)
        ]
        named = [p for p in matching if profiles[p].name == labels.get(PROFILE_LABEL)]
        if named or matching:
            out[w] = (named or matching)[0]
    return out


@dataclass(frozen=True)
class FargateSummary:
    """What the Fargate profiles did.

    Attributes
    ----------
    profile_names : tuple of str
        The profiles, by index.
    pod : ndarray of int64
        Every pod a profile took (the run's pod ids).
    pod_profile : ndarray of int64
        Its profile's index.
    pod_subnet : ndarray of str
        The subnet of its address ("" if it never got one).
    pod_address_s : ndarray of float64
        When it got its address [s] (NaN: never).
    pod_started_s : ndarray of float64
        When it started [s] (NaN: never).
    pod_released_s : ndarray of float64
        When its address returned [s] (NaN: still held at the end, or never held).
    n_failed_attempts_by_profile : ndarray of int64
        Attempts that found no free address in the profile's subnets
        (InsufficientFreeAddressesInSubnet).
    first_failure_s_by_profile : ndarray of float64
        The first such attempt [s] (NaN: none).
    """

    profile_names: tuple[str, ...]
    pod: NDArray[np.int64]
    pod_profile: NDArray[np.int64]
    pod_subnet: NDArray[np.str_]
    pod_address_s: NDArray[np.float64]
    pod_started_s: NDArray[np.float64]
    pod_released_s: NDArray[np.float64]
    n_failed_attempts_by_profile: NDArray[np.int64]
    first_failure_s_by_profile: NDArray[np.float64]


class FargateController:
    """The Fargate scheduler: takes the pods of matching workloads away from kube-scheduler
    and gives each one address in its profile's subnets (see the module docstring).

    It registers itself with :meth:`ClusterRun.claim_pods` when built.
    """

    name = "fargate"

    def __init__(self, plan: Plan, run: ClusterRun) -> None:
        self.profiles = plan.fargate_profiles
        self.run = run
        self.profile_of_workload = profile_of_workloads(self.profiles, run.workloads, plan.coredns)
        self.retries: list[tuple[float, int]] = []  # (due [s], pod) without an address yet
        self.starts: list[tuple[float, int]] = []  # (start [s], pod)
        self.ends: list[tuple[float, int]] = []  # (end [s], pod)
        self.profile_of: dict[int, int] = {}
        self.owner: dict[int, int] = {}  # pod -> the World holder of its address
        self.subnet: dict[int, str] = {}
        self.address_s: dict[int, float] = {}
        self.started_s: dict[int, float] = {}
        self.released_s: dict[int, float] = {}
        self.done: set[int] = set()  # ended or deleted
        self.n_failed = np.zeros(len(self.profiles), dtype=np.int64)
        self.first_failure_s = np.full(len(self.profiles), math.nan)
        run.claim_pods(self)

    # ------------------------------------------------------------------ the claim
    def claim(self, pod_ids: NDArray[np.int64], now_s: float) -> NDArray[np.bool_]:
        """Which of these new pods run on Fargate; each asks for its address now."""
        profile = self.profile_of_workload[self.run.pods["workload"][pod_ids]]
        mine = profile >= 0
        for pod, p in zip(pod_ids[mine].tolist(), profile[mine].tolist(), strict=True):
            self.profile_of[pod] = p
            self._provision(pod, now_s)
        return mine

    def deleted(self, pod_ids: NDArray[np.int64], now_s: float) -> None:
        """Pods deleted by a controller: those on Fargate return their address now."""
        for pod in pod_ids.tolist():
            if pod in self.profile_of and pod not in self.done:
                self._release(pod, now_s)

    # ------------------------------------------------------------------ the controller
    def next_due_s(self, now_s: float) -> float:
        """The next retry, start or end [s]."""
        del now_s
        return min(
            (heap[0][0] for heap in (self.retries, self.starts, self.ends) if heap),
            default=math.inf,
        )

    def step(self, run: ClusterRun, now_s: float) -> bool:
        """Retries, starts and ends due by now; never frees node capacity (False)."""
        pods = run.pods
        while self.ends and self.ends[0][0] <= now_s:
            _, pod = heapq.heappop(self.ends)
            if pod not in self.done:
                self._release(pod, now_s)
        while self.starts and self.starts[0][0] <= now_s:
            start_s, pod = heapq.heappop(self.starts)
            if pod in self.done:
                continue
            self.started_s[pod] = start_s
            pods["bound_s"][pod] = start_s
            end_s = start_s + float(pods["lifetime_s"][pod])
            if math.isfinite(end_s):
                heapq.heappush(self.ends, (end_s, pod))
        while self.retries and self.retries[0][0] <= now_s:
            _, pod = heapq.heappop(self.retries)
            if pod not in self.done:
                self._provision(pod, now_s)
        return False

    def summary(self) -> FargateSummary:
        """Every Fargate pod's subnet and times, and the failed attempts per profile."""
        pod = np.array(sorted(self.profile_of), dtype=np.int64)
        ids = pod.tolist()

        def times(by_pod: dict[int, float]) -> NDArray[np.float64]:
            return np.array([by_pod.get(i, math.nan) for i in ids], dtype=np.float64)

        return FargateSummary(
            profile_names=tuple(p.name for p in self.profiles),
            pod=pod,
            pod_profile=np.array([self.profile_of[i] for i in ids], dtype=np.int64),
            pod_subnet=np.array([self.subnet.get(i, "") for i in ids], dtype=np.str_),
            pod_address_s=times(self.address_s),
            pod_started_s=times(self.started_s),
            pod_released_s=times(self.released_s),
            n_failed_attempts_by_profile=self.n_failed.copy(),
            first_failure_s_by_profile=self.first_failure_s.copy(),
        )

    # ------------------------------------------------------------------ addresses
    def _provision(self, pod: int, now_s: float) -> None:
        """One address in the profile's subnet with the most free, or Pending and a retry."""
        p = self.profile_of[pod]
        profile = self.profiles[p]
        run = self.run
        run.catch_up(now_s)
        world = run.world
        free = [world.available_ip_address_count(s) for s in profile.subnets]
        subnet_id = profile.subnets[int(np.argmax(free))]
        owner = world.new_owner_id()
        try:
            world.allocate_fixed(subnet_id, owner, n_ips=1, now_s=now_s)
        except InsufficientAddressesError:
            self.n_failed[p] += 1
            if math.isnan(self.first_failure_s[p]):
                self.first_failure_s[p] = now_s
            run.pods.reason[pod] = (
                f"Fargate profile {profile.name}: no free address in "
                f"{', '.join(profile.subnets)} ({_ERROR})"
            )
            heapq.heappush(self.retries, (now_s + RETRY_S, pod))
            return
        run.pods.reason.pop(pod, None)
        self.owner[pod] = owner
        self.subnet[pod] = subnet_id
        self.address_s[pod] = now_s
        heapq.heappush(self.starts, (now_s + profile.start_delay_s, pod))

    def _release(self, pod: int, now_s: float) -> None:
        """The pod ends (or is deleted): its micro-VM and ENI go, the address returns."""
        self.done.add(pod)
        self.run.pods["deleted_s"][pod] = now_s
        owner = self.owner.pop(pod, None)
        if owner is not None:
            self.released_s[pod] = now_s
            self.run.catch_up(now_s)
            self.run.world.release_owner(owner)
