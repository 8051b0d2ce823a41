"""Plots of a cluster simulation: each draws on the Axes it is given and returns it.

Nothing here calls ``show`` or ``savefig``; the CLI (``--out``) and notebooks do. Times are
drawn in hours of simulated time.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Final

import numpy as np

from cnisim.report import AWS_RESERVED_IPS_PER_SUBNET
from cnisim.sim.records import POD_OUTCOMES
from cnisim.sim.scenario_result import SimulationResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from cnisim.recommend import Recommendation

__all__ = [
    "PLOTS",
    "plot_held_vs_assigned",
    "plot_nodes_per_group",
    "plot_pending_pods",
    "plot_subnet_usage",
    "plot_tradeoff",
    "plot_wait_distribution",
]

_HOUR_S: Final = 3600.0


def plot_subnet_usage(ax: Axes, result: SimulationResult) -> Axes:
    """Addresses in use per subnet over time, each against its usable size (dashed)."""
    sim = result.ipamd
    hours = sim.subnet_sample_s / _HOUR_S
    cidrs = {subnet.id: subnet.cidr for subnet in result.plan.vpc.subnets}
    for j, subnet_id in enumerate(sim.subnet_ids):
        usable = ipaddress.ip_network(cidrs[subnet_id]).num_addresses - AWS_RESERVED_IPS_PER_SUBNET
        (line,) = ax.plot(hours, usable - sim.subnet_samples["n_free_ips"][:, j], label=subnet_id)
        ax.axhline(usable, color=line.get_color(), linestyle="--", linewidth=0.8)
    ax.set_xlabel("time [h]")
    ax.set_ylabel("addresses in use")
    ax.set_title("subnet addresses in use (dashed: usable size)")
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_held_vs_assigned(ax: Axes, result: SimulationResult) -> Axes:
    """Addresses ipamd holds for pods against those assigned to pods, over all nodes."""
    sim = result.ipamd
    times, index = np.unique(sim.sample_s, return_inverse=True)
    for metric, label in (("ips_held", "held by ipamd"), ("ips_assigned", "assigned to pods")):
        ax.plot(times / _HOUR_S, np.bincount(index, sim.samples[metric], times.size), label=label)
    ax.set_xlabel("time [h]")
    ax.set_ylabel("addresses")
    ax.set_title("warm pool: held vs assigned")
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_pending_pods(ax: Axes, result: SimulationResult) -> Axes:
    """Pods pending (not scheduled) and pods bound but waiting for an address."""
    hours = result.sample_s / _HOUR_S
    ax.plot(hours, result.n_pending, label="pending (not bound)")
    ax.plot(hours, result.n_unschedulable, label="unschedulable")
    ax.plot(hours, result.n_ip_waiting, label="waiting for an address")
    ax.set_xlabel("time [h]")
    ax.set_ylabel("pods")
    ax.set_title("pods pending and waiting")
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_wait_distribution(ax: Axes, result: SimulationResult) -> Axes:
    """The distribution of pods' waits for an address (ECDF; waits still running included)."""
    sim = result.ipamd
    waits = np.sort(sim.wait_s[sim.pod_outcome != POD_OUTCOMES.index("cancelled")])
    if waits.size:
        ax.step(waits, np.arange(1, waits.size + 1) / waits.size, where="post")
    ax.set_xlabel("wait for an address [s]")
    ax.set_ylabel("fraction of pods")
    ax.set_title("address waits (ECDF)")
    return ax


def plot_nodes_per_group(ax: Axes, result: SimulationResult) -> Axes:
    """Nodes running per node group (and Karpenter NodePool) over time (solid) and those
    Ready (dotted)."""
    hours = result.sample_s / _HOUR_S
    for g, name in enumerate(result.group_names):
        (line,) = ax.plot(hours, result.n_nodes_by_group[:, g], label=name)
        ax.plot(hours, result.n_ready_by_group[:, g], color=line.get_color(), linestyle=":")
    ax.set_xlabel("time [h]")
    ax.set_ylabel("nodes")
    ax.set_title("nodes per group (dotted: Ready)")
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_tradeoff(ax: Axes, rec: Recommendation) -> Axes:
    """``cnisim recommend``'s trade-off: idle addresses per node against the p99 address wait,
    one point per setting (filled: Pareto-optimal; x: a subnet ran out in a seed), the
    recommendation ringed, the plan's current settings a square, the wait limit dashed."""
    for candidate in rec.candidates:
        x, y = candidate.idle_ips_per_node_mean, candidate.ip_wait_p99_s
        if candidate.exhausted_subnets:
            ax.scatter(x, y, marker="x", color="tab:red")
        else:
            ax.scatter(
                x, y, color="tab:blue", facecolors="tab:blue" if candidate.pareto else "none"
            )
    if rec.recommended is not None:
        best = rec.recommended
        ax.scatter(
            best.idle_ips_per_node_mean,
            best.ip_wait_p99_s,
            s=250,
            facecolors="none",
            edgecolors="tab:green",
            linewidths=2,
            label="recommended",
        )
    ax.scatter(
        rec.current.idle_ips_per_node_mean,
        rec.current.ip_wait_p99_s,
        marker="s",
        facecolors="none",
        edgecolors="black",
        label="current settings",
    )
    ax.axhline(
        rec.max_wait_p99_s,
        color="gray",
        linestyle="--",
        linewidth=0.8,
        label=f"wait limit ({rec.max_wait_p99_s:g} s)",
    )
    ax.set_xlabel("idle addresses per node (mean over seeds)")
    ax.set_ylabel("p99 wait for an address [s]")
    ax.set_title("warm-pool settings (filled: Pareto-optimal, x: a subnet ran out)")
    ax.legend(loc="best", fontsize="small")
    return ax


#: The plots ``--out`` writes, by file stem.
PLOTS: Final = {
    "subnet_usage": plot_subnet_usage,
    "held_vs_assigned": plot_held_vs_assigned,
    "pending_pods": plot_pending_pods,
    "wait_distribution": plot_wait_distribution,
    "nodes_per_group": plot_nodes_per_group,
}
