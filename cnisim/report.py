"""The summary of a cluster simulation: one JSON-ready object, a text table and an HTML page.

:func:`summarize` reads a :class:`~cnisim.sim.scenario_result.SimulationResult` and returns the
object ``cnisim simulate -o json`` prints; :func:`format_summary` renders it as the text the
table output shows; :func:`report_html` makes the self-contained page ``--out`` writes.

Meanings (the plan reference, ``docs/plan-reference.md``, repeats them):

- ``subnets[].n_usable_ips``: the CIDR's size minus the 5 addresses AWS reserves in every
  subnet; ``n_peak_used_ips`` and ``n_min_free_ips`` are over the subnet samples (every
  ``run.sampleEvery``, and the end of the run), so a peak shorter than that may be missed;
  ``exhausted_at_s`` is exact: the simulated time of the first request in that subnet refused
  with InsufficientFreeAddressesInSubnet, even if a smaller retry then succeeded (null if never),
  ``prefix_exhausted_at_s`` the same for InsufficientCidrBlocks.
- ``upgrades[]``: each scheduled version update; per subnet ``n_peak_used_ips`` and
  ``n_min_free_ips`` are read at every tick of the update (exact, unlike the samples),
  ``n_refused`` the requests refused with InsufficientFreeAddressesInSubnet meanwhile,
  ``ran_out`` the subnets that had no free address or refused a request then.
- ``karpenter``: null without Karpenter; its NodePools are also rows of ``node_groups``.
- ``node_groups[].idle_ips_per_node_mean``: node-time-weighted mean over the group's nodes, from
  ipamd's start on each to its end, of addresses ipamd holds for pods (cooling ones included)
  minus those assigned to pods (node samples every ``run.sampleEvery``);
  ``memory_mib_per_pod`` and ``cpu_millicores_per_pod`` are allocatable over max pods (as
  ``cnisim maxpods`` prints them), averaged over the group's nodes; ``pods_per_node_mean`` is
  observed: pods bound per Ready node, averaged over the samples with a Ready node;
  ``n_nodes_min`` and ``n_nodes_max`` count instances launched and not terminated (booting
  ones included).
- ``pods.ip_wait_*``: from a pod's first ADD to the one that got an address; pods still waiting
  at the end count with their wait so far.
- ``autoscaler``: null without one; else its ``kind``, per node group the scale-ups (events and
  nodes added), scale-downs (events and nodes removed) and failed scale-ups, and every
  ``events[]`` entry (``time_s``, ``group``, ``kind`` scale-up, scale-down or
  scale-up-failed, ``n_nodes``); ``ip_wait_unseen_s`` is the first loop that had nothing to
  scale up while bound pods waited for an address and CPU was free (null if never).
- ``holders[]``: per address holder other than nodes (load balancers, endpoints, NAT gateways,
  the control plane's ENIs, Fargate profiles) and subnet: ``n_ips_max`` the most it held at
  once, ``n_ips_at_end`` what it held at the end; these addresses are in the subnets' own
  figures above. ``holder_failures[]``: holders that could not get addresses, with the AWS
  error. ``fargate[]``: per profile, its pods, those started and those still Pending.
- ``deployments[]``: the Deployments that move (rollouts, a replica schedule or curve, an HPA).
  ``rollouts[].n_peak_pods`` counts old and new pods (pending ones too),
  ``n_peak_pods_with_address`` those holding an address, ``n_peak_extra_addresses`` that minus
  the replicas (what the rollout needed beyond the Deployment's own addresses), all observed
  at every tick of the rollout, and ``n_min_available`` the fewest pods available;
  ``end_s`` is null unless it completed (``outcome``).
  ``replica_changes[]``: each change of replicas, with its source.

References
----------
Amazon VPC User Guide, "Subnet CIDR blocks" (the first four addresses and the last one of every
subnet are reserved).
"""

from __future__ import annotations

import base64
import html
import ipaddress
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np

from cnisim import __version__
from cnisim.sim.autoscaler import AutoscalerSummary
from cnisim.sim.contract import ACTIONS, FAIL_REASONS
from cnisim.sim.ec2 import DEFAULT_BUCKETS
from cnisim.sim.fargate import FargateSummary
from cnisim.sim.holders import (
    EKS_MIN_FREE_IPS,
    EKS_RECOMMENDED_FREE_IPS,
    EKS_UPGRADE_FREE_IPS,
    HoldersSummary,
)
from cnisim.sim.hpa import HpaSummary
from cnisim.sim.karpenter import KarpenterSummary
from cnisim.sim.records import POD_OUTCOMES
from cnisim.sim.replicas import ReplicaScheduleSummary
from cnisim.sim.rollouts import DeploymentSummary
from cnisim.sim.scenario_result import SimulationResult
from cnisim.sim.upgrades import UpgradeSummary

__all__ = ["AWS_RESERVED_IPS_PER_SUBNET", "format_summary", "report_html", "summarize"]

#: Addresses AWS reserves in every subnet (network, router, DNS, future use, broadcast).
AWS_RESERVED_IPS_PER_SUBNET: Final = 5


def _num(value: float) -> float | None:
    """A float for JSON: None for NaN (JSON has no NaN)."""
    return None if math.isnan(value) else round(float(value), 3)


def _subnets(result: SimulationResult) -> list[dict[str, Any]]:
    sim = result.ipamd
    by_id = {subnet.id: subnet for subnet in result.plan.vpc.subnets}
    rows = []
    free = sim.subnet_samples["n_free_ips"]
    blocks = sim.subnet_samples["n_free_prefix_blocks"]
    for j, subnet_id in enumerate(sim.subnet_ids):
        subnet = by_id[subnet_id]
        n_usable = ipaddress.ip_network(subnet.cidr).num_addresses - AWS_RESERVED_IPS_PER_SUBNET
        n_min_free = int(free[:, j].min()) if free.shape[0] else n_usable
        rows.append(
            {
                "id": subnet_id,
                "az": subnet.az,
                "cidr": subnet.cidr,
                "n_usable_ips": n_usable,
                "n_peak_used_ips": n_usable - n_min_free,
                "n_min_free_ips": n_min_free,
                "n_min_free_prefixes": int(blocks[:, j].min()) if blocks.shape[0] else None,
                "exhausted_at_s": _num(sim.subnet_exhausted_at_s[j]),
                "prefix_exhausted_at_s": _num(sim.subnet_prefix_exhausted_at_s[j]),
            }
        )
    return rows


def _node_groups(result: SimulationResult) -> list[dict[str, Any]]:
    sim = result.ipamd
    idle = sim.samples["ips_held"] - sim.samples["ips_assigned"]
    sample_group = result.node_group[sim.sample_node] if sim.sample_node.size else sim.sample_node
    rows = []
    for g, name in enumerate(result.group_names):
        mine = result.node_group == g
        n_nodes = result.n_nodes_by_group[:, g]
        n_ready = result.n_ready_by_group[:, g]
        pods = result.n_pods_by_group[:, g]
        running = n_ready > 0
        max_pods = result.node_max_pods[mine].astype(np.float64)
        idle_g = idle[sample_group == g]
        rows.append(
            {
                "name": name,
                "instance_types": sorted(set(result.node_instance_type[mine].tolist())),
                "n_nodes_launched": int(mine.sum()),
                "n_nodes_min": int(n_nodes.min()) if n_nodes.size else 0,
                "n_nodes_max": int(n_nodes.max()) if n_nodes.size else 0,
                "max_pods_per_node": int(result.node_max_pods[mine].max()) if mine.any() else None,
                "pods_per_node_mean": (
                    _num(float(np.mean(pods[running] / n_ready[running])))
                    if running.any()
                    else None
                ),
                "memory_mib_per_pod": (
                    _num(float(np.mean(result.node_allocatable_memory_mib[mine] / max_pods)))
                    if mine.any()
                    else None
                ),
                "cpu_millicores_per_pod": (
                    _num(float(np.mean(result.node_allocatable_cpu_millicores[mine] / max_pods)))
                    if mine.any()
                    else None
                ),
                "idle_ips_per_node_mean": _num(float(idle_g.mean())) if idle_g.size else None,
            }
        )
    return rows


def _upgrades(result: SimulationResult) -> list[dict[str, Any]]:
    """Each version update the plan scheduled: its nodes, and its peak per subnet."""
    rows = []
    for summary in result.controllers.values():
        if not isinstance(summary, UpgradeSummary):
            continue
        rows.append(
            {
                "upgrade": summary.upgrade,
                "start_s": summary.start_s,
                "end_s": _num(summary.end_s),
                "n_surge_nodes": summary.n_surge_nodes,
                "n_replaced_nodes": summary.n_replaced_nodes,
                "subnets": [
                    {
                        "id": subnet_id,
                        "n_peak_used_ips": peak,
                        "n_min_free_ips": least,
                        "n_free_ips_before": before,
                        "n_refused": refused,
                    }
                    for subnet_id, peak, least, before, refused in zip(
                        summary.subnet_ids,
                        summary.n_peak_used_ips,
                        summary.n_min_free_ips,
                        summary.n_free_ips_before,
                        summary.n_refused,
                        strict=True,
                    )
                ],
                "ran_out": list(summary.ran_out),
                "failure": summary.failure,
            }
        )
    return rows


def _karpenter(result: SimulationResult) -> dict[str, Any] | None:
    """What Karpenter launched, refused and consolidated; None without Karpenter."""
    summary = result.controllers.get("karpenter")
    if not isinstance(summary, KarpenterSummary):
        return None
    return {
        "node_pools": [
            {"name": name, "n_nodes_launched": n}
            for name, n in zip(summary.node_pools, summary.n_nodes_launched, strict=True)
        ],
        "n_batches": summary.n_batches,
        "refused": [{"time_s": t, "subnet": subnet} for t, subnet in summary.refused],
        "n_registration_timeouts": summary.n_registration_timeouts,
        "n_pods_over_limits": summary.n_pods_over_limits,
        "n_consolidated": summary.n_consolidated,
        "n_replaced": summary.n_replaced,
    }


def _karpenter_findings(karpenter: Mapping[str, Any] | None) -> list[str]:
    if karpenter is None:
        return []
    out = []
    refused = Counter(row["subnet"] for row in karpenter["refused"])
    for subnet, n in refused.items():
        first = min(row["time_s"] for row in karpenter["refused"] if row["subnet"] == subnet)
        out.append(
            f"Karpenter's launches into subnet {subnet} were refused {n:,} times from "
            f"{_when(first)} (InsufficientFreeAddressesInSubnet): it skips the subnet 3 min "
            "each time"
        )
    if karpenter["n_registration_timeouts"]:
        out.append(
            f"{karpenter['n_registration_timeouts']:,} Karpenter nodes were not Ready 15 min "
            "after launch and were terminated (no address for ipamd in their subnet?)"
        )
    if karpenter["n_pods_over_limits"]:
        out.append(
            f"Karpenter's NodePool limits left up to {karpenter['n_pods_over_limits']:,} pods "
            "Pending (the most in one batch)"
        )
    return out


def _percentile(values: np.ndarray, q: float) -> float | None:
    return _num(float(np.percentile(values, q))) if values.size else None


def _pods(result: SimulationResult) -> dict[str, Any]:
    sim = result.ipamd
    failed = sim.n_failed_by_reason.sum(axis=0)
    waits = sim.wait_s[sim.pod_outcome != POD_OUTCOMES.index("cancelled")]
    never_bound = np.isnan(result.pod_bound_s)
    # pods still Pending at the end, by the scheduler's last word on each
    reasons = Counter(r for r in result.pod_unschedulable_reason[never_bound].tolist() if r)
    return {
        "n_created": result.n_pods,
        "n_started": int(np.count_nonzero(~never_bound)),
        "n_never_scheduled": int(np.count_nonzero(never_bound)),
        "n_unschedulable_max": int(result.n_unschedulable.max())
        if result.n_unschedulable.size
        else 0,
        "pending_at_end_by_reason": dict(reasons.most_common()),
        "n_waiting_for_ip_at_end": int(
            np.count_nonzero(sim.pod_outcome == POD_OUTCOMES.index("waiting"))
        ),
        "ip_wait_p50_s": _percentile(waits, 50),
        "ip_wait_p99_s": _percentile(waits, 99),
        "ip_wait_max_s": _num(float(waits.max())) if waits.size else None,
        "n_failed_ip_adds": int(failed.sum()),
        "failed_ip_adds_by_reason": {
            reason: int(n) for reason, n in zip(FAIL_REASONS, failed.tolist(), strict=True) if n
        },
    }


def _ec2(result: SimulationResult) -> dict[str, Any]:
    sim = result.ipamd
    per_minute = sim.calls_per_minute
    peak = per_minute.max(axis=0) if per_minute.shape[0] else np.zeros(len(ACTIONS), np.int64)
    return {
        "calls_per_min_peak": {a: int(n) for a, n in zip(ACTIONS, peak.tolist(), strict=True) if n},
        "refill_per_min": {
            a: round(DEFAULT_BUCKETS[a].refill_per_s * 60)
            for a, n in zip(ACTIONS, peak.tolist(), strict=True)
            if n
        },
        "n_calls": {a: n for a, n in sim.n_calls_by_action.items() if n},
        "n_throttled": int(sum(sim.n_throttled_by_action.values())),
        "n_throttled_by_action": {a: n for a, n in sim.n_throttled_by_action.items() if n},
    }


def _peak_held(start_s: np.ndarray, stop_s: np.ndarray) -> tuple[int, int]:
    """The most intervals open at once, and those still open at the end (stop NaN)."""
    if not start_s.size:
        return 0, 0
    times = np.concatenate([start_s, np.where(np.isnan(stop_s), np.inf, stop_s)])
    steps = np.concatenate([np.ones(start_s.size), -np.ones(stop_s.size)])
    order = np.lexsort((steps, times))  # a release before a take at the same time
    return int(np.cumsum(steps[order]).max()), int(np.count_nonzero(np.isnan(stop_s)))


def _holders(result: SimulationResult) -> dict[str, list[dict[str, Any]]]:
    """Holders per subnet (the control plane, load balancers, ..., Fargate), their failures
    and the Fargate profiles."""
    rows: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    profiles: list[dict[str, Any]] = []
    holders = result.controllers.get("holders")
    if isinstance(holders, HoldersSummary):
        rows += [
            {
                "subnet": r.subnet,
                "name": r.name,
                "kind": r.kind,
                "n_ips_max": r.n_addresses_max,
                "n_ips_at_end": r.n_addresses_at_end,
                "created_at_s": _num(r.created_s),
                "deleted_at_s": _num(r.deleted_s),
            }
            for r in holders.records
        ]
        failures += [
            {
                "name": f.name,
                "kind": f.kind,
                "subnet": f.subnet,
                "at_s": _num(f.at_s),
                "error": f.error,
                "message": f.message,
            }
            for f in holders.failures
        ]
    fargate = result.controllers.get("fargate")
    if isinstance(fargate, FargateSummary):
        for p, name in enumerate(fargate.profile_names):
            mine = fargate.pod_profile == p
            started = ~np.isnan(fargate.pod_started_s[mine])
            deleted = ~np.isnan(result.pod_deleted_s[fargate.pod[mine]])
            profiles.append(
                {
                    "name": name,
                    "n_pods": int(mine.sum()),
                    "n_started": int(started.sum()),
                    "n_pending_at_end": int(np.count_nonzero(~started & ~deleted)),
                    "n_failed_attempts": int(fargate.n_failed_attempts_by_profile[p]),
                    "first_failure_at_s": _num(fargate.first_failure_s_by_profile[p]),
                }
            )
            for subnet_id in dict.fromkeys(fargate.pod_subnet[mine].tolist()):
                if not subnet_id:
                    continue
                here = mine & (fargate.pod_subnet == subnet_id)
                n_max, n_end = _peak_held(fargate.pod_address_s[here], fargate.pod_released_s[here])
                rows.append(
                    {
                        "subnet": subnet_id,
                        "name": name,
                        "kind": "fargate",
                        "n_ips_max": n_max,
                        "n_ips_at_end": n_end,
                        "created_at_s": _num(float(np.min(fargate.pod_address_s[here]))),
                        "deleted_at_s": None,
                    }
                )
    order = {subnet_id: j for j, subnet_id in enumerate(result.ipamd.subnet_ids)}
    rows.sort(key=lambda row: order.get(row["subnet"], len(order)))
    return {"holders": rows, "holder_failures": failures, "fargate": profiles}


def _deployments(result: SimulationResult) -> list[dict[str, Any]]:
    """The Deployments that move: their rollouts and replica changes (see the module doc)."""
    changes: dict[str, list[dict[str, Any]]] = {}
    for summary in result.controllers.values():
        if isinstance(summary, ReplicaScheduleSummary | HpaSummary):
            source = summary.source if isinstance(summary, ReplicaScheduleSummary) else "hpa"
            changes.setdefault(summary.workload, []).extend(
                {"at_s": _num(at_s), "replicas": n, "source": source}
                for at_s, n in zip(
                    summary.change_s.tolist(), summary.replicas.tolist(), strict=True
                )
            )
    rows = []
    for summary in result.controllers.values():
        if not isinstance(summary, DeploymentSummary):
            continue
        rollouts = [
            {
                "revision": r.revision,
                "start_s": _num(r.start_s),
                "end_s": _num(r.end_s),
                "outcome": r.outcome,
                "n_replicas": r.n_replicas,
                "n_max_surge": r.n_max_surge,
                "n_max_unavailable": r.n_max_unavailable,
                "n_peak_pods": r.n_peak_pods,
                "n_peak_pods_with_address": r.n_peak_pods_with_address,
                "n_peak_extra_addresses": r.n_peak_extra_addresses,
                "n_min_available": r.n_min_available,
            }
            for r in summary.rollouts
        ]
        rows.append(
            {
                "name": summary.workload,
                "n_replicas_at_end": summary.n_replicas_at_end,
                "rollouts": rollouts,
                "replica_changes": changes.get(summary.workload, []),
            }
        )
    return rows


#: A node that joined this long before the end and never got an address is reported [s].
NEVER_READY_AFTER_S: Final = 300.0


def _holder_findings(
    result: SimulationResult, subnets: list[dict[str, Any]], holders: Mapping[str, Any]
) -> list[str]:
    """Holders that failed, Fargate pods that found no address, short cluster subnets."""
    out = [
        f"{f['message']} at {_when(f['at_s'])} ({f['error']})" for f in holders["holder_failures"]
    ]
    for profile in holders["fargate"]:
        if profile["n_failed_attempts"]:
            out.append(
                f"Fargate profile {profile['name']}: pods found no free address in its subnets"
                f" from {_when(profile['first_failure_at_s'])} (InsufficientFreeAddressesInSubnet);"
                f" {profile['n_pending_at_end']:,} still Pending at the end"
            )
    summary = result.controllers.get("holders")
    if isinstance(summary, HoldersSummary):
        for row in subnets:
            if row["id"] in summary.cluster_subnets and row["n_min_free_ips"] < EKS_MIN_FREE_IPS:
                out.append(
                    f"cluster subnet {row['id']} had {row['n_min_free_ips']:,} free addresses at"
                    f" its lowest: EKS requires {EKS_MIN_FREE_IPS} in each cluster subnet"
                    f" ({EKS_RECOMMENDED_FREE_IPS} recommended) and a cluster upgrade needs up to"
                    f" {EKS_UPGRADE_FREE_IPS} for the control plane's new ENIs"
                )
    return out


def _findings(
    result: SimulationResult,
    subnets: list[dict[str, Any]],
    pods: Mapping[str, Any],
    deployments: Sequence[Mapping[str, Any]],
    upgrades: list[dict[str, Any]],
) -> list[str]:
    """What went wrong, in words: subnets that ran out, nodes that never became Ready, and why
    pods waited or stayed Pending."""
    out = []
    sim = result.ipamd
    if sim.node_join_s.size:  # IPv6 runs have no ipamd nodes
        stuck = (
            (sim.node_join_s <= sim.end_s - NEVER_READY_AFTER_S)
            & np.isnan(sim.node_ready_s)
            & ~sim.node_launch_failed
        )
        for g, name in enumerate(result.group_names):
            n = int(np.count_nonzero(stuck & (result.node_group == g)))
            if n:
                out.append(
                    f"{n:,} nodes of group {name} never became Ready: ipamd got no address for them"
                )
    for row in subnets:
        if row["exhausted_at_s"] is not None:
            out.append(
                f"subnet {row['id']} ran out of addresses at {_when(row['exhausted_at_s'])} "
                "(InsufficientFreeAddressesInSubnet)"
            )
        if row["prefix_exhausted_at_s"] is not None:
            out.append(
                f"subnet {row['id']} had no aligned /28 left at "
                f"{_when(row['prefix_exhausted_at_s'])} with {row['n_min_free_ips']:,} "
                "addresses still free at its lowest (InsufficientCidrBlocks: fragmented)"
            )
    for row in upgrades:
        for subnet_id in row["ran_out"]:
            out.append(
                f"subnet {subnet_id} ran out of addresses during the update of {row['upgrade']} "
                f"at {_when(row['start_s'])}"
            )
        if row["failure"]:
            out.append(
                f"the update of {row['upgrade']} at {_when(row['start_s'])}: {row['failure']}"
            )
    failed = pods["failed_ip_adds_by_reason"]
    if failed.get("no_ip_throttled"):
        out.append(
            f"{failed['no_ip_throttled']:,} pod ADDs found no address while EC2 throttled "
            "ipamd's calls (RequestLimitExceeded): many nodes grew their pools at once"
        )
    if failed.get("no_ip_subnet_full") or failed.get("no_ip_no_free_prefix"):
        n = failed.get("no_ip_subnet_full", 0) + failed.get("no_ip_no_free_prefix", 0)
        out.append(f"{n:,} pod ADDs found no address because the node's subnet was short")
    if pods["n_waiting_for_ip_at_end"]:
        out.append(
            f"{pods['n_waiting_for_ip_at_end']:,} pods were bound but still had no address at "
            "the end (not Pending: no autoscaler sees them)"
        )
    for reason, n in list(pods["pending_at_end_by_reason"].items())[:3]:
        out.append(f"{n:,} pods were still Pending at the end: {reason}")
    for deployment in deployments:
        for rollout in deployment["rollouts"]:
            if rollout["outcome"] == "in progress":
                out.append(
                    f"the rollout of {deployment['name']} at {_when(rollout['start_s'])} had "
                    "not finished at the end: its new pods were Pending or had no address"
                )
    return out


def _autoscaler(result: SimulationResult) -> dict[str, Any] | None:
    """The cluster autoscaler's scale-ups and scale-downs per node group, and its events."""
    summary = result.controllers.get("cluster-autoscaler")
    if not isinstance(summary, AutoscalerSummary):
        return None
    groups = []
    for group in result.plan.node_groups:
        mine = [e for e in summary.events if e.group == group.name]
        ups = [e.n_nodes for e in mine if e.kind == "scale-up"]
        downs = [e.n_nodes for e in mine if e.kind == "scale-down"]
        groups.append(
            {
                "name": group.name,
                "n_scale_ups": len(ups),
                "n_nodes_added": sum(ups),
                "n_scale_downs": len(downs),
                "n_nodes_removed": sum(downs),
                "n_failed_scale_ups": sum(e.kind == "scale-up-failed" for e in mine),
            }
        )
    return {
        "kind": result.plan.autoscaler.kind,
        "node_groups": groups,
        "events": [
            {"time_s": e.time_s, "group": e.group, "kind": e.kind, "n_nodes": e.n_nodes}
            for e in summary.events
        ],
        "ip_wait_unseen_s": _num(summary.ip_wait_unseen_s),
    }


def summarize(result: SimulationResult) -> dict[str, Any]:
    """The run's summary as one JSON-ready object (``cnisim simulate -o json``).

    Returns
    -------
    dict
        ``meta``, ``subnets``, ``node_groups``, ``pods``, ``ec2``, ``autoscaler`` (null
        without one), ``holders``, ``holder_failures``, ``fargate``, ``deployments``
        (rollouts and replica changes), ``findings`` (what went wrong, in words) and
        ``notes``; times in seconds of simulated time, null where something never happened.
    """
    plan = result.plan
    subnets = _subnets(result)
    pods = _pods(result)
    holders = _holders(result)
    deployments = _deployments(result)
    exhausted = [row for row in subnets if row["exhausted_at_s"] is not None]
    upgrades = _upgrades(result)
    karpenter = _karpenter(result)
    return {
        "meta": {
            "cnisim_version": __version__,
            "plan": plan.source,
            "plan_sha256": plan.sha256,
            "seed": plan.run.seed,
            "cni_version": plan.cni_version,
            "duration_s": plan.run.duration_s,
            "engine": result.engine_name,
        },
        "subnets": subnets,
        "node_groups": _node_groups(result),
        "pods": pods,
        "ec2": _ec2(result),
        "autoscaler": _autoscaler(result),
        **holders,
        "deployments": deployments,
        "any_subnet_exhausted": bool(exhausted),
        "upgrades": upgrades,
        "karpenter": karpenter,
        "findings": _findings(result, subnets, pods, deployments, upgrades)
        + _holder_findings(result, subnets, holders)
        + _karpenter_findings(karpenter),
        "notes": list(plan.notes) + list(result.notes),
    }


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(rows: Sequence[Mapping[str, Any]], columns: list[tuple[str, str]]) -> list[str]:
    header = [title for _, title in columns]
    body = [[_fmt(row[key]) for key, _ in columns] for row in rows]
    widths = [max(len(cell) for cell in col) for col in zip(header, *body, strict=True)]
    # text left, numbers right
    left = [bool(rows) and isinstance(rows[0][key], str | list) for key, _ in columns]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    for cells in body:
        line = "  ".join(
            c.ljust(w) if is_left else c.rjust(w)
            for c, w, is_left in zip(cells, widths, left, strict=True)
        )
        lines.append(line.rstrip())
    return lines


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{int(hours)}h{int(minutes):02d}m{int(secs):02d}s"


def format_summary(summary: Mapping[str, Any]) -> str:
    """The summary as text tables (``cnisim simulate``'s default output)."""
    meta = summary["meta"]
    lines = [
        f"{meta['plan']}: {_when(meta['duration_s'])} simulated, seed {meta['seed']}, "
        f"VPC CNI {meta['cni_version']}",
        "",
        "node groups",
    ]
    lines += _table(
        summary["node_groups"],
        [
            ("name", "name"),
            ("instance_types", "types"),
            ("n_nodes_min", "nodes_min"),
            ("n_nodes_max", "nodes_max"),
            ("max_pods_per_node", "max_pods"),
            ("pods_per_node_mean", "pods_per_node"),
            ("memory_mib_per_pod", "mib_per_pod"),
            ("cpu_millicores_per_pod", "millicores_per_pod"),
            ("idle_ips_per_node_mean", "idle_ips_per_node"),
        ],
    )
    lines += ["", "subnets"]
    rows = [
        {
            **row,
            "ran_out": _when(row["exhausted_at_s"]),
            "no_prefix": _when(row["prefix_exhausted_at_s"]),
        }
        for row in summary["subnets"]
    ]
    lines += _table(
        rows,
        [
            ("id", "id"),
            ("az", "az"),
            ("cidr", "cidr"),
            ("n_usable_ips", "usable_ips"),
            ("n_peak_used_ips", "peak_used"),
            ("n_min_free_ips", "least_free"),
            ("n_min_free_prefixes", "least_free_/28s"),
            ("ran_out", "ran_out_at"),
            ("no_prefix", "no_/28_at"),
        ],
    )
    pods = summary["pods"]
    lines += [
        "",
        f"pods: {pods['n_started']:,} started of {pods['n_created']:,} created; "
        f"{pods['n_unschedulable_max']:,} unschedulable at most",
        f"wait for an address: p50 {_fmt(pods['ip_wait_p50_s'])} s, p99 "
        f"{_fmt(pods['ip_wait_p99_s'])} s, max {_fmt(pods['ip_wait_max_s'])} s; "
        f"{pods['n_waiting_for_ip_at_end']:,} still waiting at the end",
        f"failed ADDs: {pods['n_failed_ip_adds']:,}"
        + "".join(f"; {r} {n:,}" for r, n in pods["failed_ip_adds_by_reason"].items()),
    ]
    if summary["holders"]:
        lines += ["", "address holders (counted in the subnets above)"]
        lines += _table(
            [
                {
                    **row,
                    "created": _when(row["created_at_s"]),
                    "deleted": _when(row["deleted_at_s"]),
                }
                for row in summary["holders"]
            ],
            [
                ("subnet", "subnet"),
                ("name", "name"),
                ("kind", "kind"),
                ("n_ips_max", "ips_max"),
                ("n_ips_at_end", "ips_at_end"),
                ("created", "created_at"),
                ("deleted", "deleted_at"),
            ],
        )
    lines += _deployment_lines(summary["deployments"])
    ec2 = summary["ec2"]
    lines += ["", f"EC2 calls (throttled: {ec2['n_throttled']:,})"]
    lines += _table(
        [
            {"action": action, "peak": n, "refill": ec2["refill_per_min"][action]}
            for action, n in ec2["calls_per_min_peak"].items()
        ],
        [("action", "action"), ("peak", "peak_per_min"), ("refill", "bucket_refill_per_min")],
    )
    autoscaler = summary.get("autoscaler")
    if autoscaler is not None:
        lines += ["", f"{autoscaler['kind']} (scale-ups and scale-downs)"]
        lines += _table(
            autoscaler["node_groups"],
            [
                ("name", "name"),
                ("n_scale_ups", "scale_ups"),
                ("n_nodes_added", "nodes_added"),
                ("n_scale_downs", "scale_downs"),
                ("n_nodes_removed", "nodes_removed"),
                ("n_failed_scale_ups", "failed_scale_ups"),
            ],
        )
    lines += _upgrade_lines(summary["upgrades"])
    karpenter = summary["karpenter"]
    if karpenter is not None:
        pools = ", ".join(f"{p['name']} {p['n_nodes_launched']:,}" for p in karpenter["node_pools"])
        lines += [
            "",
            f"karpenter: nodes launched {pools}; {karpenter['n_batches']:,} batches; "
            f"{len(karpenter['refused']):,} launches refused for addresses; "
            f"{karpenter['n_consolidated']:,} nodes consolidated "
            f"({karpenter['n_replaced']:,} replaced)",
        ]
    lines += [f"finding: {finding}" for finding in summary["findings"]]
    lines += [f"note: {note}" for note in summary["notes"]]
    return "\n".join(lines)


def _deployment_lines(deployments: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per rollout (start, end, peak pods and extra addresses), one per Deployment
    whose replicas changed."""
    lines = []
    for deployment in deployments:
        name = deployment["name"]
        for r in deployment["rollouts"]:
            span = (
                f"{_when(r['start_s'])} to {_when(r['end_s'])}"
                if r["outcome"] == "complete"
                else f"{_when(r['start_s'])}, {r['outcome']} at the end"
                if r["outcome"] == "in progress"
                else f"{_when(r['start_s'])}, {r['outcome']}"
            )
            lines.append(
                f"rollout of {name} (revision {r['revision']}): {span}, "
                f"{r['n_replicas']:,} replicas, surge {r['n_max_surge']:,}, unavailable "
                f"{r['n_max_unavailable']:,}; peak {r['n_peak_pods']:,} pods, "
                f"{r['n_peak_pods_with_address']:,} with an address "
                f"({r['n_peak_extra_addresses']:,} extra addresses)"
            )
        changes = deployment["replica_changes"]
        if changes:
            counts = [c["replicas"] for c in changes]
            sources = ", ".join(dict.fromkeys(c["source"] for c in changes))
            lines.append(
                f"replicas of {name} ({sources}): {len(changes):,} changes, {min(counts):,} to "
                f"{max(counts):,}, {deployment['n_replicas_at_end']:,} at the end"
            )
    return ["", *lines] if lines else []


def _upgrade_lines(upgrades: Sequence[Mapping[str, Any]]) -> list[str]:
    """The updates table: per update, the subnets whose use it raised."""
    rows = [
        {
            "upgrade": row["upgrade"],
            "start": _when(row["start_s"]),
            "end": _when(row["end_s"]),
            "surge": row["n_surge_nodes"],
            "replaced": row["n_replaced_nodes"],
            **subnet,
        }
        for row in upgrades
        for subnet in row["subnets"]
        if subnet["n_min_free_ips"] < subnet["n_free_ips_before"]
    ]
    if not rows:
        return []
    table = _table(
        rows,
        [
            ("upgrade", "upgrade"),
            ("start", "start"),
            ("end", "end"),
            ("surge", "surge_nodes"),
            ("replaced", "replaced_nodes"),
            ("id", "subnet"),
            ("n_free_ips_before", "free_before"),
            ("n_peak_used_ips", "peak_used"),
            ("n_min_free_ips", "least_free"),
            ("n_refused", "refused"),
        ],
    )
    return ["", "upgrades (subnets whose use rose during each)", *table]


def report_html(summary: Mapping[str, Any], plots_png: Mapping[str, bytes]) -> str:
    """One self-contained HTML page: the summary tables and the plots (embedded PNGs)."""
    title = html.escape(f"cnisim: {summary['meta']['plan']}")
    images = "\n".join(
        f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode()}"><figcaption>{html.escape(name)}</figcaption></figure>'
        for name, png in plots_png.items()
    )
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{title}</title>"
        "<style>body{font-family:sans-serif;margin:2em}pre{background:#f6f6f6;padding:1em}"
        "img{max-width:100%}</style></head><body>"
        f"<h1>{title}</h1><pre>{html.escape(format_summary(summary))}</pre>{images}"
        "</body></html>\n"
    )
