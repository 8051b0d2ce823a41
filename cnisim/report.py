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
from cnisim.sim.contract import ACTIONS, FAIL_REASONS
from cnisim.sim.ec2 import DEFAULT_BUCKETS
from cnisim.sim.karpenter import KarpenterSummary
from cnisim.sim.records import POD_OUTCOMES
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


#: A node that joined this long before the end and never got an address is reported [s].
NEVER_READY_AFTER_S: Final = 300.0


def _findings(
    result: SimulationResult,
    subnets: list[dict[str, Any]],
    pods: Mapping[str, Any],
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
    return out


def summarize(result: SimulationResult) -> dict[str, Any]:
    """The run's summary as one JSON-ready object (``cnisim simulate -o json``).

    Returns
    -------
    dict
        ``meta``, ``subnets``, ``node_groups``, ``pods``, ``ec2``, ``findings`` (what went
        wrong, in words) and ``notes``; times in seconds of simulated time, null where
        something never happened.
    """
    plan = result.plan
    subnets = _subnets(result)
    pods = _pods(result)
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
        "any_subnet_exhausted": bool(exhausted),
        "upgrades": upgrades,
        "karpenter": karpenter,
        "findings": _findings(result, subnets, pods, upgrades) + _karpenter_findings(karpenter),
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
    ec2 = summary["ec2"]
    lines += ["", f"EC2 calls (throttled: {ec2['n_throttled']:,})"]
    lines += _table(
        [
            {"action": action, "peak": n, "refill": ec2["refill_per_min"][action]}
            for action, n in ec2["calls_per_min_peak"].items()
        ],
        [("action", "action"), ("peak", "peak_per_min"), ("refill", "bucket_refill_per_min")],
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
