"""The pods a plan's workloads create: Deployments, Job streams and DaemonSets, as arrays.

:func:`generate_pods` turns the plan's Deployments and Job streams into one :class:`PodTable`
(a struct of numpy arrays, one row per pod, sorted by creation time): a Deployment's replicas
are all created at its ``start_s`` and live until the run ends; a Job stream's pods arrive as
a seeded Poisson process and live a random time (:func:`draw_lifetimes_s`). DaemonSet pods
belong to nodes, not to the run, so :func:`daemonset_pods` makes them when nodes join. The
EKS defaults every cluster runs (aws-node, kube-proxy, CoreDNS) are
:data:`EKS_DEFAULT_WORKLOADS`.

Requests are rounded as the API server's quantities are: CPU up to a whole millicore
(``Quantity.MilliValue`` rounds up), memory up to a whole byte (``Quantity.Value``), so the
scheduler's sums are exact.

Simplifications (each a deliberate choice, not an oversight):

- A Deployment creates its replicas at once and its pods never end; a pod that could not be
  scheduled stays pending, it is not recreated. Rollouts and replica changes are the
  controllers' (:mod:`cnisim.sim.rollouts`, :mod:`cnisim.sim.replicas`, :mod:`cnisim.sim.hpa`).
- A Job is one pod (``completions: 1``, ``parallelism: 1``) that runs its lifetime from when
  it starts (the caller decides when that is: binding, or its address); no retries, no
  ``backoffLimit``, no TTL after it finishes.
- A DaemonSet pod is created when its node joins and bound to it directly (the DaemonSet
  controller's node affinity leaves the scheduler one choice); it does not need a Ready node.
- One container per pod; no init containers, no pod overhead, no limits.

References
----------
kubernetes/kubernetes ``pkg/apis/apps/v1/defaults.go`` (Deployment defaults) and
``pkg/controller/job/job_controller.go``; ``staging/src/k8s.io/apimachinery/pkg/api/resource/
quantity.go`` (``MilliValue`` and ``Value`` round up); ``docs/cluster-model.md`` sec. 5 and 9.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cnisim.errors import UsageError
from cnisim.plan import DaemonSet, Deployment, JobStream, Lifetime, Resources, Workload

__all__ = [
    "AWS_NODE",
    "COREDNS",
    "EKS_DEFAULT_WORKLOADS",
    "KUBE_PROXY",
    "WORKLOAD_KINDS",
    "InvalidWorkloadError",
    "PodTable",
    "daemonset_pods",
    "deployment_pods",
    "draw_lifetimes_s",
    "generate_pods",
]

WORKLOAD_KINDS: Final = ("Deployment", "JobStream", "DaemonSet")
"""Names of the codes in :attr:`PodTable.kind`: 0 Deployment, 1 JobStream, 2 DaemonSet."""

_KIND_CODE: Final = {Deployment: 0, JobStream: 1, DaemonSet: 2}

_MIB_BYTES: Final = 2**20
_Z95: Final = 1.6448536269514722
"""The standard normal's 95th percentile (scipy.stats.norm.ppf(0.95))."""

AWS_NODE: Final = DaemonSet(
    name="aws-node",
    namespace="kube-system",
    # Two containers, 25m each: aws-node (aws/amazon-vpc-cni-k8s config/master/aws-k8s-cni.yaml,
    # resources.requests.cpu 25m) and aws-eks-nodeagent, the network policy agent in every
    # aws-node pod since VPC CNI 1.14 (its EKS add-on manifest requests cpu 25m). No memory.
    requests=Resources(cpu_millicores=50.0),
    host_network=True,
)
"""The VPC CNI's DaemonSet: host network (a max-pods slot, no address), 50m CPU."""

KUBE_PROXY: Final = DaemonSet(
    name="kube-proxy",
    namespace="kube-system",
    # The EKS kube-proxy add-on's DaemonSet: resources.requests.cpu 100m, no memory request.
    requests=Resources(cpu_millicores=100.0),
    host_network=True,
)
"""kube-proxy as EKS installs it: host network, 100m CPU."""

COREDNS: Final = Deployment(
    name="coredns",
    namespace="kube-system",
    replicas=2,
    # The EKS CoreDNS add-on's defaults: 2 replicas, requests cpu 100m and memory 70Mi
    # (the project's cluster-model notes, sec. 9).
    requests=Resources(cpu_millicores=100.0, memory_mib=70.0),
)
"""CoreDNS as EKS installs it: 2 replicas of 100m / 70Mi, each with a VPC address."""

EKS_DEFAULT_WORKLOADS: Final[tuple[Workload, ...]] = (AWS_NODE, KUBE_PROXY, COREDNS)
"""What every EKS cluster runs before the user adds anything."""


class InvalidWorkloadError(UsageError):
    """A workload cannot be generated: a negative count, rate, time or request, a bad lifetime."""


@dataclass(frozen=True, eq=False)
class PodTable:
    """Pods as parallel arrays, one row per pod.

    Attributes
    ----------
    workload : ndarray of int64
        Index of the pod's workload in the workloads sequence it was generated from.
    ordinal : ndarray of int64
        The pod's number within its workload (for a DaemonSet pod: its node's index).
    kind : ndarray of int8
        Workload kind, an index into :data:`WORKLOAD_KINDS`.
    created_s : ndarray of float64
        When the pod object is created (it then waits for the scheduler) [s].
    lifetime_s : ndarray of float64
        How long it runs once started [s]; ``inf`` for Deployment and DaemonSet pods.
    cpu_millicores : ndarray of int64
        CPU request, rounded up to a whole millicore [millicores].
    memory_mib : ndarray of float64
        Memory request, rounded up to a whole byte [MiB].
    needs_address : ndarray of bool
        Takes a VPC address from ipamd; False for ``hostNetwork`` pods.
    security_groups : ndarray of bool
        Matches a SecurityGroupPolicy: gets a branch ENI and requests one
        ``vpc.amazonaws.com/pod-eni``.
    revision : ndarray of int64
        A Deployment pod's ReplicaSet revision (0: the template it started with; each rollout
        adds one, :mod:`cnisim.sim.rollouts`); 0 for other pods.
    workload_names : tuple of str
        Name of every workload, by index (``workload`` indexes it).
    """

    workload: NDArray[np.int64]
    ordinal: NDArray[np.int64]
    kind: NDArray[np.int8]
    created_s: NDArray[np.float64]
    lifetime_s: NDArray[np.float64]
    cpu_millicores: NDArray[np.int64]
    memory_mib: NDArray[np.float64]
    needs_address: NDArray[np.bool_]
    security_groups: NDArray[np.bool_]
    revision: NDArray[np.int64]
    workload_names: tuple[str, ...]

    def __post_init__(self) -> None:
        n_pods = self.workload.shape
        for name in (
            "ordinal",
            "kind",
            "created_s",
            "lifetime_s",
            "cpu_millicores",
            "memory_mib",
            "needs_address",
            "security_groups",
            "revision",
        ):
            if getattr(self, name).shape != n_pods:
                raise InvalidWorkloadError(f"PodTable {name} needs one value per pod")

    def __len__(self) -> int:
        """Return the number of pods."""
        return int(self.workload.size)

    def take(self, indices: ArrayLike) -> PodTable:
        """The pods at ``indices`` (an index array or a boolean mask), in that order."""
        rows = np.asarray(indices)
        return PodTable(
            workload=self.workload[rows],
            ordinal=self.ordinal[rows],
            kind=self.kind[rows],
            created_s=self.created_s[rows],
            lifetime_s=self.lifetime_s[rows],
            cpu_millicores=self.cpu_millicores[rows],
            memory_mib=self.memory_mib[rows],
            needs_address=self.needs_address[rows],
            security_groups=self.security_groups[rows],
            revision=self.revision[rows],
            workload_names=self.workload_names,
        )

    def pod_name(self, row: int) -> str:
        """A readable name for the pod at ``row``: ``<workload>-<ordinal>``."""
        return f"{self.workload_names[int(self.workload[row])]}-{int(self.ordinal[row])}"


def _check_resources(name: str, requests: Resources) -> None:
    for field_name, value in (
        ("cpu_millicores", requests.cpu_millicores),
        ("memory_mib", requests.memory_mib),
    ):
        if not (math.isfinite(value) and value >= 0):
            raise InvalidWorkloadError(
                f"workload {name!r} requests {field_name}={value}: give 0 (none) or more"
            )


def _check_time(name: str, field_name: str, value: float) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise InvalidWorkloadError(f"workload {name!r} has {field_name}={value}: give 0 s or more")


def _check_lifetime(lifetime: Lifetime, name: str) -> None:
    if lifetime.distribution not in ("exponential", "lognormal", "fixed"):
        raise InvalidWorkloadError(
            f"workload {name!r} lifetime distribution {lifetime.distribution!r} is unknown: "
            "use exponential, lognormal or fixed"
        )
    if not (math.isfinite(lifetime.mean_s) and lifetime.mean_s > 0):
        raise InvalidWorkloadError(
            f"workload {name!r} lifetime {lifetime.mean_s} s is not positive: give a time > 0 s"
        )
    if lifetime.distribution == "lognormal":
        if lifetime.p95_s is None or not (
            math.isfinite(lifetime.p95_s) and lifetime.p95_s > lifetime.mean_s
        ):
            raise InvalidWorkloadError(
                f"workload {name!r} lognormal lifetime needs a p95 above its median "
                f"{lifetime.mean_s} s, not {lifetime.p95_s}"
            )
    elif lifetime.p95_s is not None:
        raise InvalidWorkloadError(
            f"workload {name!r} has a p95 for a {lifetime.distribution} lifetime: only "
            "lognormal takes one"
        )


def _check_workload(workload: Workload) -> None:
    """Raise InvalidWorkloadError unless the workload can generate pods."""
    if not isinstance(workload, Deployment | JobStream | DaemonSet):
        raise InvalidWorkloadError(
            f"{type(workload).__name__} is not a workload: give a Deployment, JobStream or "
            "DaemonSet"
        )
    name = workload.name
    if not name:
        raise InvalidWorkloadError("a workload has no name: give every workload a name")
    _check_resources(name, workload.requests)
    if isinstance(workload, Deployment):
        if isinstance(workload.replicas, bool) or not isinstance(workload.replicas, int):
            raise InvalidWorkloadError(
                f"workload {name!r} replicas {workload.replicas!r} is not a whole number"
            )
        if workload.replicas < 0:
            raise InvalidWorkloadError(
                f"workload {name!r} has {workload.replicas} replicas: give 0 or more"
            )
        _check_time(name, "start_s", workload.start_s)
    elif isinstance(workload, JobStream):
        if not (math.isfinite(workload.arrivals_per_s) and workload.arrivals_per_s >= 0):
            raise InvalidWorkloadError(
                f"workload {name!r} arrives at {workload.arrivals_per_s}/s: give a rate >= 0"
            )
        _check_time(name, "start_s", workload.start_s)
        if workload.stop_s is not None:
            _check_time(name, "stop_s", workload.stop_s)
            if workload.stop_s < workload.start_s:
                raise InvalidWorkloadError(
                    f"workload {name!r} stops ({workload.stop_s} s) before it starts "
                    f"({workload.start_s} s)"
                )
        _check_lifetime(workload.lifetime, name)


def draw_lifetimes_s(lifetime: Lifetime, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """Draw ``n`` pod lifetimes from a lifetime distribution.

    Parameters
    ----------
    lifetime : Lifetime
        ``exponential`` with mean ``mean_s``; ``lognormal`` with median ``mean_s`` and 95th
        percentile ``p95_s`` (sigma = ln(p95 / median) / 1.645); ``fixed`` at ``mean_s``.
    n : int
        Number of lifetimes (>= 0).
    rng : numpy.random.Generator
        Source of the draws (one ``exponential`` or ``lognormal`` call of size ``n``; none
        for ``fixed``).

    Returns
    -------
    ndarray of float64
        Lifetimes [s], all > 0.

    Raises
    ------
    InvalidWorkloadError
        If ``n`` is negative, the distribution is unknown, the mean is not positive, a
        lognormal's p95 is missing or not above its median, or another shape has a p95.

    Examples
    --------
    >>> draw_lifetimes_s(Lifetime("fixed", 30.0), 3, np.random.default_rng(0)).tolist()
    [30.0, 30.0, 30.0]
    """
    _check_lifetime(lifetime, "<lifetime>")
    if n < 0:
        raise InvalidWorkloadError(f"cannot draw {n} lifetimes: give a count >= 0")
    if lifetime.distribution == "exponential":
        return rng.exponential(lifetime.mean_s, size=n)
    if lifetime.distribution == "lognormal":
        assert lifetime.p95_s is not None  # checked above
        sigma = math.log(lifetime.p95_s / lifetime.mean_s) / _Z95
        return rng.lognormal(math.log(lifetime.mean_s), sigma, size=n)
    return np.full(n, lifetime.mean_s, dtype=np.float64)


def _quantities(requests: Resources) -> tuple[int, float]:
    """CPU rounded up to a millicore, memory rounded up to a byte (in MiB), as the API does."""
    cpu_millicores = math.ceil(requests.cpu_millicores)
    memory_mib = math.ceil(requests.memory_mib * _MIB_BYTES) / _MIB_BYTES
    return cpu_millicores, memory_mib


def _pod_rows(
    workload_index: NDArray[np.int64],
    ordinal: NDArray[np.int64],
    created_s: NDArray[np.float64],
    lifetime_s: NDArray[np.float64],
    workloads: Sequence[Workload],
    revision: int = 0,
) -> PodTable:
    """A PodTable whose per-workload columns (kind, requests, flags) come from ``workloads``."""
    kind = np.array([_KIND_CODE[type(w)] for w in workloads], dtype=np.int8)
    cpu = np.array([_quantities(w.requests)[0] for w in workloads], dtype=np.int64)
    memory = np.array([_quantities(w.requests)[1] for w in workloads], dtype=np.float64)
    host_network = np.array([getattr(w, "host_network", False) for w in workloads], dtype=bool)
    branch = np.array([getattr(w, "security_groups", False) for w in workloads], dtype=bool)
    return PodTable(
        workload=workload_index,
        ordinal=ordinal,
        kind=kind[workload_index],
        created_s=created_s,
        lifetime_s=lifetime_s,
        cpu_millicores=cpu[workload_index],
        memory_mib=memory[workload_index],
        needs_address=~host_network[workload_index],
        security_groups=branch[workload_index],
        revision=np.full(workload_index.size, revision, dtype=np.int64),
        workload_names=tuple(w.name for w in workloads),
    )


def deployment_pods(
    workloads: Sequence[Workload],
    workload_index: int,
    ordinal: ArrayLike,
    created_s: float,
    revision: int,
) -> PodTable:
    """New pods of one Deployment (a scale-up, a rollout's surge), created at ``created_s``.

    Parameters
    ----------
    workloads : sequence of Deployment, JobStream or DaemonSet
        The run's workloads; rows keep ``workload_index`` into it.
    workload_index : int
        The Deployment's index in ``workloads``.
    ordinal : array_like of int
        Each pod's number within the Deployment (names ``<workload>-<ordinal>``).
    created_s : float
        Creation time [s].
    revision : int
        The ReplicaSet revision of their template.

    Examples
    --------
    >>> pods = deployment_pods(EKS_DEFAULT_WORKLOADS, 2, [2, 3], 60.0, revision=1)
    >>> [pods.pod_name(i) for i in range(len(pods))], pods.revision.tolist()
    (['coredns-2', 'coredns-3'], [1, 1])
    """
    ordinals = np.asarray(ordinal, dtype=np.int64).ravel()
    if not isinstance(workloads[workload_index], Deployment):
        raise InvalidWorkloadError(f"workload {workload_index} is not a Deployment")
    return _pod_rows(
        np.full(ordinals.size, workload_index, dtype=np.int64),
        ordinals,
        np.full(ordinals.size, float(created_s)),
        np.full(ordinals.size, np.inf),
        workloads,
        revision,
    )


def generate_pods(
    workloads: Sequence[Workload], duration_s: float, rng: np.random.Generator
) -> PodTable:
    """Every pod the Deployments and Job streams create in ``[0, duration_s)``.

    Parameters
    ----------
    workloads : sequence of Deployment, JobStream or DaemonSet
        The plan's workloads; DaemonSets are checked but make no pods here (see
        :func:`daemonset_pods`). Pod rows keep each workload's index in this sequence.
    duration_s : float
        Length of the run [s]; nothing is created at or after it.
    rng : numpy.random.Generator
        Source of every draw. Draw order: for each Job stream in sequence order, one Poisson
        count, that many uniform arrival times, then their lifetimes
        (:func:`draw_lifetimes_s`). Deployments draw nothing.

    Returns
    -------
    PodTable
        Sorted by ``created_s`` (stable: ties keep workload order, then ordinal). A
        Deployment's replicas are created at its ``start_s`` (if before the end) with an
        infinite lifetime; a Job stream's pods arrive as a Poisson process of rate
        ``arrivals_per_s`` over ``[start_s, min(stop_s, duration_s))``.

    Raises
    ------
    InvalidWorkloadError
        If ``duration_s`` is negative or not finite, or a workload is invalid (negative
        replicas, rate, time or request; a stream that stops before it starts; a bad
        lifetime).

    References
    ----------
    Poisson process: given N(T) = n, the n arrival times are independent uniforms on [0, T)
    (Ross, *Stochastic Processes*, Theorem 2.3.1).

    Examples
    --------
    >>> pods = generate_pods(EKS_DEFAULT_WORKLOADS, 60.0, np.random.default_rng(0))
    >>> [pods.pod_name(i) for i in range(len(pods))], pods.memory_mib.tolist()
    (['coredns-0', 'coredns-1'], [70.0, 70.0])
    """
    if not isinstance(rng, np.random.Generator):
        raise InvalidWorkloadError("generate_pods needs rng=numpy.random.Generator")
    if not (math.isfinite(duration_s) and duration_s >= 0):
        raise InvalidWorkloadError(f"run duration {duration_s} s is invalid: give 0 s or more")
    workload_parts: list[NDArray[np.int64]] = []
    ordinal_parts: list[NDArray[np.int64]] = []
    created_parts: list[NDArray[np.float64]] = []
    lifetime_parts: list[NDArray[np.float64]] = []
    for index, workload in enumerate(workloads):
        _check_workload(workload)
        if isinstance(workload, Deployment):
            n = workload.replicas if workload.start_s < duration_s else 0
            created_s = np.full(n, workload.start_s)
            lifetime_s = np.full(n, np.inf)
        elif isinstance(workload, JobStream):
            stop_s = duration_s if workload.stop_s is None else min(workload.stop_s, duration_s)
            span_s = max(stop_s - workload.start_s, 0.0)
            n = int(rng.poisson(workload.arrivals_per_s * span_s))
            created_s = workload.start_s + np.sort(rng.uniform(0.0, span_s, size=n))
            lifetime_s = draw_lifetimes_s(workload.lifetime, n, rng)
        else:
            continue
        workload_parts.append(np.full(n, index, dtype=np.int64))
        ordinal_parts.append(np.arange(n, dtype=np.int64))
        created_parts.append(created_s)
        lifetime_parts.append(lifetime_s)
    if not workload_parts:
        empty_int = np.zeros(0, dtype=np.int64)
        return _pod_rows(empty_int, empty_int, np.zeros(0), np.zeros(0), workloads)
    created_all = np.concatenate(created_parts)
    order = np.argsort(created_all, kind="stable")
    return _pod_rows(
        np.concatenate(workload_parts)[order],
        np.concatenate(ordinal_parts)[order],
        created_all[order],
        np.concatenate(lifetime_parts)[order],
        workloads,
    )


def daemonset_pods(
    workloads: Sequence[Workload], node_index: ArrayLike, created_s: float | ArrayLike
) -> tuple[PodTable, NDArray[np.int64]]:
    """One pod of every DaemonSet on each of the given nodes, and the node each belongs to.

    Parameters
    ----------
    workloads : sequence of Deployment, JobStream or DaemonSet
        The plan's workloads; only DaemonSets make pods. Rows keep each DaemonSet's index in
        this sequence, as :func:`generate_pods` does.
    node_index : array_like of int
        The nodes that joined (each >= 0).
    created_s : float or array_like of float
        When each node's DaemonSet pods are created (one value, or one per node) [s].

    Returns
    -------
    pods : PodTable
        Node-major (a node's pods together, in workload order); ``ordinal`` is the node
        index, lifetimes are infinite. Host-network DaemonSets (aws-node, kube-proxy) have
        ``needs_address`` False: a max-pods slot, no address.
    node : ndarray of int64
        The node of each pod, to bind it there directly.

    Raises
    ------
    InvalidWorkloadError
        If a workload is invalid, a node index is negative or a time is negative or not
        finite.

    Examples
    --------
    >>> pods, node = daemonset_pods(EKS_DEFAULT_WORKLOADS, [0, 1], 0.0)
    >>> [pods.pod_name(i) for i in range(len(pods))], node.tolist()
    (['aws-node-0', 'kube-proxy-0', 'aws-node-1', 'kube-proxy-1'], [0, 0, 1, 1])
    >>> pods.needs_address.tolist(), pods.cpu_millicores.tolist()
    ([False, False, False, False], [50, 100, 50, 100])
    """
    for workload in workloads:
        _check_workload(workload)
    nodes = np.asarray(node_index, dtype=np.int64).ravel()
    node_created_s = np.broadcast_to(np.asarray(created_s, dtype=np.float64), nodes.shape)
    if np.any(nodes < 0):
        raise InvalidWorkloadError("DaemonSet pods need node indices >= 0")
    if not np.all(np.isfinite(node_created_s) & (node_created_s >= 0)):
        raise InvalidWorkloadError("DaemonSet pods need creation times of 0 s or more")
    daemonsets = np.array(
        [i for i, w in enumerate(workloads) if isinstance(w, DaemonSet)], dtype=np.int64
    )
    n_per_node = daemonsets.size
    pods = _pod_rows(
        np.tile(daemonsets, nodes.size),
        np.repeat(nodes, n_per_node),
        np.repeat(node_created_s, n_per_node),
        np.full(nodes.size * n_per_node, np.inf),
        workloads,
    )
    return pods, np.repeat(nodes, n_per_node)
