"""Compiled kernels of the cluster autoscaler's simulations: first-fit over node arrays.

The nodes are the scheduler's (:mod:`cnisim.sim._schedulerkernels` layout), and a pod fits a
node by the scheduler's own filter (``_fits``: Ready, a pods slot, CPU, memory and pod ENI
requests) and is accounted there by its ``_assume``. :mod:`cnisim.sim.autoscaler` states the
rules; this module only runs them fast.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

from cnisim.sim._schedulerkernels import ZONE, _assume, _fits


@njit(cache=True)
def _place(
    nodes: NDArray[np.int64],
    host: NDArray[np.int64],
    zones: NDArray[np.int64],
    usable: NDArray[np.bool_],
    resume: NDArray[np.int64],
    shape: int,
    cpu: int,
    mem: int,
    eni: bool,
) -> int:
    """First-fit one pod: from where its shape's walk stopped, the first usable node it fits,
    accounted there; that node, or ``nodes.shape[0]`` if none."""
    n_nodes = nodes.shape[0]
    j = resume[shape]
    while j < n_nodes and not (usable[j] and _fits(nodes, j, cpu, mem, eni)):
        j += 1
    resume[shape] = j
    if j < n_nodes:
        _assume(nodes, host, zones, j, cpu, mem, eni, 0, 1)
    return j


@njit(cache=True)
def first_fit(
    nodes: NDArray[np.int64],
    usable: NDArray[np.bool_],
    pod_cpu: NDArray[np.int64],
    pod_mem: NDArray[np.int64],
    pod_eni: NDArray[np.bool_],
    pod_shape: NDArray[np.int64],
    n_shapes: int,
    out_node: NDArray[np.int64],
) -> int:
    """Place each pod in turn on the first usable node it fits (the pods stay accounted on
    ``nodes``); ``out_node`` gets its node or -1. Returns the pods placed.

    Nodes only fill up here, so a node that did not fit a pod of one shape fits no later pod
    of it: each shape's walk resumes where it stopped.
    """
    n_nodes = nodes.shape[0]
    host = np.zeros((n_nodes, 1), dtype=np.int64)
    zones = np.zeros((max(nodes[:, ZONE].max(), 0) + 1 if n_nodes else 1, 1), dtype=np.int64)
    resume = np.zeros(n_shapes, dtype=np.int64)
    n_placed = 0
    for i in range(pod_cpu.size):
        j = _place(
            nodes, host, zones, usable, resume, pod_shape[i], pod_cpu[i], pod_mem[i], pod_eni[i]
        )
        if j == n_nodes:
            out_node[i] = -1
            continue
        out_node[i] = j
        n_placed += 1
    return n_placed


@njit(cache=True)
def removable(
    nodes: NDArray[np.int64],
    candidates: NDArray[np.int64],
    pod_start: NDArray[np.int64],
    pod_cpu: NDArray[np.int64],
    pod_mem: NDArray[np.int64],
    pod_eni: NDArray[np.bool_],
    pod_shape: NDArray[np.int64],
    n_shapes: int,
    out_removable: NDArray[np.bool_],
) -> None:
    """Which candidates could go, in turn: every pod on a candidate (its own, ``pod_start[k]``
    to ``pod_start[k + 1]``, and those the simulation moved onto it) fits first-fit on the
    nodes left. A removable candidate is gone for the later ones, its pods where the
    simulation put them; one whose pods do not all fit stays as it was.
    """
    n_nodes = nodes.shape[0]
    n_pods = pod_cpu.size
    host = np.zeros((n_nodes, 1), dtype=np.int64)
    zones = np.zeros((max(nodes[:, ZONE].max(), 0) + 1 if n_nodes else 1, 1), dtype=np.int64)
    usable = np.ones(n_nodes, dtype=np.bool_)
    resume = np.zeros(n_shapes, dtype=np.int64)
    on = np.full(n_pods, -1, dtype=np.int64)  # node a pod was moved to (-1: not moved)
    attempt = np.empty(n_pods, dtype=np.int64)
    before = np.empty(n_pods, dtype=np.int64)
    for k in range(candidates.size):
        c = candidates[k]
        usable[c] = False
        n_try = 0
        for i in range(pod_start[k]):
            if on[i] == c:
                attempt[n_try] = i
                n_try += 1
        for i in range(pod_start[k], pod_start[k + 1]):
            attempt[n_try] = i
            n_try += 1
        ok = True
        n_done = 0
        for t in range(n_try):
            i = attempt[t]
            j = _place(
                nodes, host, zones, usable, resume, pod_shape[i], pod_cpu[i], pod_mem[i], pod_eni[i]
            )
            if j == n_nodes:
                ok = False
                break
            before[t] = on[i]
            on[i] = j
            n_done += 1
        out_removable[k] = ok
        if not ok:
            # undo this candidate's moves: the nodes regain room, so every walk starts over
            for t in range(n_done):
                i = attempt[t]
                _assume(nodes, host, zones, on[i], pod_cpu[i], pod_mem[i], pod_eni[i], 0, -1)
                on[i] = before[t]
            usable[c] = True
            resume[:] = 0
