"""Warm pool of one node at steady state, and a short churn timeline (``cnisim warmpool``).

Both run the reference ipamd model (:mod:`cnisim.sim.ipamd`) on a single node with subnets
large enough never to bind (unless the caller passes its own), so they show what ipamd holds
for a given number of pods, not what a crowded subnet allows.

References
----------
aws/amazon-vpc-cni-k8s ``docs/eni-and-ip-target.md`` and ``docs/prefix-and-ip-target.md`` (the
tables these functions reproduce); ``pkg/ipamd/ipamd.go``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cnisim.cni import IpamdConfig
from cnisim.errors import UsageError
from cnisim.limits import HOST_NETWORK_PODS, IPV4_ADDRESSES_PER_PREFIX
from cnisim.sim.ec2 import Ec2Params
from cnisim.sim.ipamd import NodeSpec, Placement, run_reference
from cnisim.sim.spec import node_spec  # re-exported: users' notebooks import it from here
from cnisim.sim.workload import PodEvents
from cnisim.units import check_finite, check_whole

__all__ = [
    "DEFAULT_SETTLE_S",
    "churn_timeline",
    "max_pods_with_ip",
    "node_spec",
    "steady_state",
]

#: Longest ``settle_s`` :func:`steady_state` takes: the run ticks every second, so its cost is
#: settle_s x pods; 10 minutes is far past any pool step or ENI attach [s].
MAX_SETTLE_S = 600.0

#: Longest :func:`churn_timeline` (a day of one-second ticks, ~1-2 s to run) [s].
MAX_TIMELINE_S = 86_400.0

#: Time between pod arrivals in :func:`steady_state`: longer than a pool step plus an ENI
#: attach (5 s + up to ~10 s) and the 60 s minimum ENI life, so ipamd settles between pods [s].
DEFAULT_SETTLE_S = 90.0


def max_pods_with_ip(spec: NodeSpec, host_network_pods: int = HOST_NETWORK_PODS) -> int:
    """Pods that need a pool address the kubelet lets onto the node: max pods minus host-network.

    Parameters
    ----------
    spec : NodeSpec
        The node (``max_pods`` counts the host-network pods, as ``eni-max-pods.txt`` does).
    host_network_pods : int
        Pods on the host network (aws-node, kube-proxy) that take no address [pods].

    Returns
    -------
    int
        ``max(spec.max_pods - host_network_pods, 0)`` [pods].

    Examples
    --------
    >>> max_pods_with_ip(NodeSpec("t3.large", 3, 12, 35, "subnet-a", "subnet-a", True))
    33
    """
    return max(spec.max_pods - host_network_pods, 0)


def _address_bound(spec: NodeSpec, config: IpamdConfig) -> int:
    """An upper bound on the addresses ipamd can ever hand to pods on this node [IPs]."""
    per_slot = (
        IPV4_ADDRESSES_PER_PREFIX
        if config.prefix_delegation_active(spec.supports_prefix_delegation)
        else 1
    )
    return max(spec.max_enis, 1) * spec.n_slots_per_eni * per_slot


def _subnets(spec: NodeSpec, subnet_cidrs: Mapping[str, str] | None) -> dict[str, str]:
    """Default subnets: a /16 for the node subnet and another for a distinct pod subnet."""
    if subnet_cidrs is not None:
        return dict(subnet_cidrs)
    cidrs = {spec.node_subnet: "10.0.0.0/16"}
    if spec.pod_subnet != spec.node_subnet:
        cidrs[spec.pod_subnet] = "10.1.0.0/16"
    return cidrs


def steady_state(
    spec: NodeSpec,
    config: IpamdConfig,
    pod_counts: Sequence[int],
    *,
    placement: Placement = "first_fit",
    seed: int = 0,
    settle_s: float = DEFAULT_SETTLE_S,
    subnet_cidrs: Mapping[str, str] | None = None,
    ec2_params: Ec2Params | None = None,
) -> list[dict[str, object]]:
    """What ipamd holds on one node at each requested pod count, pods arriving slowly.

    The node first settles for ``settle_s`` per ENI it may attach (node-init pre-scaling with a
    large MINIMUM_IP_TARGET attaches one ENI per pool step); then pods that need an address
    arrive one at a time, ``settle_s`` apart. The kubelet admits at most
    :func:`max_pods_with_ip` of them (max pods counts the host-network pods, which take no
    address); larger counts are reported at that number. Each row is the state just before the
    next pod would arrive.

    Pods beyond every address the node can hold only fail their ADDs (nothing is released in
    this story), so they are not simulated one by one: the run stops one pod past that bound
    and later counts add their pods to ``failed_pods``. The cost is linear in
    ``min(max(pod_counts), addresses)``.

    Parameters
    ----------
    spec : NodeSpec
        The node.
    config : IpamdConfig
        aws-node settings.
    pod_counts : sequence of int
        Counts of pods that need an address to report, each >= 0 [pods].
    placement : {"first_fit", "random"}
        Pod placement over ENIs and prefixes.
    seed : int
        Run seed (addresses, EC2 latencies, random placement).
    settle_s : float
        Time between pod arrivals, at most :data:`MAX_SETTLE_S` [s].
    subnet_cidrs : mapping of str to str, optional
        Subnet id -> CIDR; default a /16 per subnet, so the subnet never binds.
    ec2_params : Ec2Params, optional
        EC2 latencies and buckets.

    Returns
    -------
    list of dict
        One row per requested count, in the order given: ``pods`` (requested), ``pods_placed``
        (min(pods, :func:`max_pods_with_ip`)), ``ips_assigned``, ``failed_pods`` (placed but
        without an IP), ``max_pods_reached``, ``enis``, ``ips_held``, ``ips_free``,
        ``ips_cooldown``,
        ``prefixes``, ``subnet_ips`` (ENI primaries included), ``branch_pods`` (0: these pods
        take pool IPs) and ``ips_per_eni``.

    Raises
    ------
    UsageError
        A pod count that is not a whole number >= 0, a ``settle_s`` that is not a finite
        number > 0, or a negative ``seed``.

    Examples
    --------
    t3.large (3 ENIs x 12 IPv4), defaults, 5 pods: 2 ENIs hold 22 IPs (ipamd-model.md, sec. 2).

    >>> spec = NodeSpec("t3.large", 3, 12, 35, "subnet-a", "subnet-a", True)
    >>> row = steady_state(spec, IpamdConfig(), [5])[0]
    >>> row["enis"], row["ips_held"], row["ips_free"]
    (2, 22, 17)
    """
    for count in pod_counts:
        check_whole(count, name="steady_state: a pod count", minimum=0)
    check_whole(seed, name="steady_state: seed", minimum=0)
    settle_s = check_finite(
        settle_s,
        name="steady_state: settle_s",
        minimum=0,
        maximum=MAX_SETTLE_S,
        above_minimum=True,
    )
    n_admitted = max_pods_with_ip(spec)
    n_simulated = min(_address_bound(spec, config) + 1, n_admitted)
    n_placed_max = min(max(pod_counts, default=0), n_simulated)
    boot_s = settle_s * max(spec.max_enis, 1)
    arrivals_s = [boot_s + settle_s * i for i in range(n_placed_max)]
    pods = PodEvents.from_arrays(
        arrivals_s, [0] * n_placed_max, [1] * n_placed_max, list(range(n_placed_max))
    )
    run = run_reference(
        [spec],
        config,
        pods,
        subnet_cidrs=_subnets(spec, subnet_cidrs),
        duration_s=boot_s + settle_s * n_placed_max,
        seed=seed,
        placement=placement,
        ec2_params=ec2_params,
        record_ticks=False,
        # just before the next pod arrives
        snapshot_s=[boot_s + settle_s * n - 1.0 for n in range(n_placed_max + 1)],
    )
    rows: list[dict[str, object]] = []
    for count in pod_counts:
        n_placed = min(count, n_admitted)
        snapshot = run.snapshots[min(n_placed, n_simulated)][0]
        n_assigned = snapshot["ips_assigned"]
        assert isinstance(n_assigned, int)
        rows.append(
            {
                "pods": count,
                "pods_placed": n_placed,
                "ips_assigned": n_assigned,
                "failed_pods": n_placed - n_assigned,
                "max_pods_reached": count >= n_admitted,
                **{k: v for k, v in snapshot.items() if k not in ("ips_assigned",)},
            }
        )
    return rows


def churn_timeline(
    spec: NodeSpec,
    config: IpamdConfig,
    n_pods: int,
    *,
    arrive_s: float = 10.0,
    leave_s: float = 130.0,
    return_s: float = 140.0,
    duration_s: float = 300.0,
    placement: Placement = "first_fit",
    seed: int = 0,
    pod_retry_interval_s: float = 10.0,
    subnet_cidrs: Mapping[str, str] | None = None,
    ec2_params: Ec2Params | None = None,
) -> list[dict[str, object]]:
    """A short churn story on one node: n pods arrive, all leave, n new pods arrive.

    The second wave comes while the released IPs are still cooling down (30 s by default):
    ipamd counts them as free, so it sees no shortage, and the new pods wait for the cooldown
    or for a refill; ENIs with cooling IPs cannot be freed.

    Parameters
    ----------
    spec : NodeSpec
        The node.
    config : IpamdConfig
        aws-node settings.
    n_pods : int
        Pods that need an address per wave (capped at :func:`max_pods_with_ip`) [pods].
    arrive_s, leave_s, return_s : float
        First wave ADD time, its DEL time, second wave ADD time [s].
    duration_s : float
        End of the timeline, at most :data:`MAX_TIMELINE_S` [s].
    placement : {"first_fit", "random"}
        Pod placement.
    seed : int
        Run seed.
    pod_retry_interval_s : float
        kubelet retry delay after a failed ADD [s].
    subnet_cidrs : mapping of str to str, optional
        Subnet id -> CIDR; default a /16 per subnet.
    ec2_params : Ec2Params, optional
        EC2 latencies and buckets.

    Returns
    -------
    list of dict
        One row per second: ``now_s``, ``pods_wanted`` (scheduled and not yet deleted),
        ``ips_assigned``, ``pods_waiting``, ``enis``, ``ips_held``, ``ips_free`` (cooling
        ones included, as ipamd counts them), ``ips_cooldown``, ``ips_available`` (free and
        out of cooldown: what a new pod can get now), ``prefixes``, ``subnet_ips``,
        ``branch_pods`` (0: these pods take pool IPs).

    Raises
    ------
    UsageError
        If the times are not finite and ordered ``0 <= arrive_s < leave_s <= return_s <=
        duration_s``, or ``n_pods`` or ``seed`` is not a whole number >= 0.
    """
    check_whole(n_pods, name="churn_timeline: n_pods", minimum=0)
    check_whole(seed, name="churn_timeline: seed", minimum=0)
    times_s = [
        check_finite(value, name=f"churn_timeline: {name}", minimum=0, maximum=MAX_TIMELINE_S)
        for name, value in (
            ("arrive_s", arrive_s),
            ("leave_s", leave_s),
            ("return_s", return_s),
            ("duration_s", duration_s),
        )
    ]
    check_finite(
        pod_retry_interval_s,
        name="churn_timeline: pod_retry_interval_s",
        minimum=0,
        above_minimum=True,
    )
    if not times_s[0] < times_s[1] <= times_s[2] <= times_s[3]:
        raise UsageError("churn_timeline needs 0 <= arrive_s < leave_s <= return_s <= duration_s")
    n = min(n_pods, max_pods_with_ip(spec))
    first = list(range(n))
    second = list(range(n, 2 * n))
    pods = PodEvents.from_arrays(
        [arrive_s] * n + [leave_s] * n + [return_s] * n,
        [0] * (3 * n),
        [1] * n + [-1] * n + [1] * n,
        first + first + second,
    )
    run = run_reference(
        [spec],
        config,
        pods,
        subnet_cidrs=_subnets(spec, subnet_cidrs),
        duration_s=duration_s,
        seed=seed,
        placement=placement,
        pod_retry_interval_s=pod_retry_interval_s,
        ec2_params=ec2_params,
    )
    rows: list[dict[str, object]] = []
    for tick in run.ticks:
        now_s = float(tick["now_s"])
        wanted = n if arrive_s <= now_s < leave_s or now_s >= return_s else 0
        row: dict[str, object] = {"now_s": now_s, "pods_wanted": wanted}
        row.update({k: v for k, v in tick.items() if k not in ("now_s", "node")})
        row["pods_waiting"] = wanted - int(tick["ips_assigned"])
        row["ips_available"] = int(tick["ips_free"]) - int(tick["ips_cooldown"])
        rows.append(row)
    return rows
