"""The cluster run's compiled ticks (``cnisim.sim._scenariokernels``) against one tick at a time.

Between its stops a run lets compiled code do every tick at which pods only end, arrive and
are scheduled and samples are taken, and the engine runs only when the scenario reads it. A
controller that is due at every tick and runs the engine up to it makes every tick a stop, so
Python does each tick's pod ends and the compiled code one tick's arrivals, scheduling and
sample at a time, with ipamd run tick by tick: the two runs must agree exactly, pod by pod,
on every example plan and on random ones.
"""

from __future__ import annotations

import dataclasses
import math
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnisim.catalog import load_catalog
from cnisim.io import load_plan
from cnisim.plan import Plan
from cnisim.sim import _scenariokernels as _k
from cnisim.sim import scenario
from cnisim.sim.scenario import ClusterRun
from cnisim.sim.scenario_result import SimulationResult

CATALOG = load_catalog()
EXAMPLES = sorted(Path(__file__).parent.parent.joinpath("examples").glob("*.yaml"))


class _EveryTick:
    """A controller due at every tick that only runs ipamd up to it, first of all: every
    tick becomes a stop, and the engine, which otherwise catches up lazily, has run each tick
    before any other controller acts in it."""

    name = "every-tick"

    def __init__(self) -> None:
        self.n_steps = 0

    def next_due_s(self, now_s: float) -> float:
        return now_s

    def step(self, run: ClusterRun, now_s: float) -> bool:
        run.catch_up(now_s)
        self.n_steps += 1
        return False

    def summary(self) -> object:
        return None


def _run(
    plan: Plan, monkeypatch: pytest.MonkeyPatch, *, every_tick: bool, engine: str = "fast"
) -> ClusterRun:
    original = scenario.make_controllers
    with monkeypatch.context() as patch:
        if every_tick:
            patch.setattr(
                scenario, "make_controllers", lambda p, r: [_EveryTick(), *original(p, r)]
            )
        run = ClusterRun(plan, CATALOG, engine)  # type: ignore[arg-type]
        run.run(None)
    return run


def _same(a: SimulationResult, b: SimulationResult) -> None:
    """Field by field, but for the extra controller's summary."""
    for name in (
        "pod_workload",
        "pod_created_s",
        "pod_bound_s",
        "pod_deleted_s",
        "pod_node",
        "pod_unschedulable_reason",
        "sample_s",
        "n_pending",
        "n_unschedulable",
        "n_nodes_by_group",
        "n_ready_by_group",
        "n_pods_by_group",
        "n_ip_waiting",
        "node_launch_s",
        "node_kubelet_ready_s",
        "node_subnet",
    ):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    for name in ("pod_outcome", "node_ready_s", "subnet_exhausted_at_s", "pod_add_s"):
        if hasattr(a.ipamd, name):
            np.testing.assert_array_equal(
                getattr(a.ipamd, name), getattr(b.ipamd, name), err_msg=f"ipamd.{name}"
            )
    assert a.notes == b.notes
    b_controllers = {k: v for k, v in b.controllers.items() if k != "every-tick"}
    assert a.controllers.keys() == b_controllers.keys()
    for name, summary in a.controllers.items():
        np.testing.assert_equal(  # NaN equals NaN here
            dataclasses.asdict(summary), dataclasses.asdict(b_controllers[name]), err_msg=name
        )


def _check_node_lists(run: ClusterRun) -> None:
    """Each node's pod list holds exactly its bound pods still running."""
    pods = run.pods
    running = (pods["node"] >= 0) & np.isnan(pods["deleted_s"])
    for node in range(len(run.pods_on)):
        expected = set(np.flatnonzero(running & (pods["node"] == node)).tolist())
        assert run.pods_on[node] == expected


@pytest.mark.parametrize("engine", ["fast", "reference"])
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_runs_the_same_one_tick_at_a_time(
    path: Path, engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = load_plan(path, catalog=CATALOG)
    windowed = _run(plan, monkeypatch, every_tick=False, engine=engine)
    one_by_one = _run(plan, monkeypatch, every_tick=True, engine=engine)
    assert one_by_one.controllers[0].n_steps >= plan.run.duration_s / plan.run.tick_s
    _same(windowed.result(), one_by_one.result())
    _check_node_lists(windowed)


PLAN = """\
apiVersion: cnisim/v1
kind: Plan
vpc:
  cidrs: [10.0.0.0/16]
  subnets:
    - {{id: subnet-a, az: us-east-1a, cidr: 10.0.0.0/{prefix}}}
    - {{id: subnet-b, az: us-east-1b, cidr: 10.0.64.0/{prefix}}}
nodeGroups:
  - {{name: ng, instanceTypes: [{itype}], minSize: 1, desiredCapacity: {n}, maxSize: 8}}
{autoscaler}
workloads:
  - {{kind: Deployment, name: web, replicas: {web}, requests: {{cpu: {cpu}m, memory: 128Mi}}}}
  - kind: JobStream
    name: jobs
    arrivalsPerMinute: {rate}
    lifetime: {lifetime}
    requests: {{cpu: 50m, memory: 64Mi}}
run: {{duration: {minutes}m, tick: {tick}s, sampleEvery: {sample}s, seed: {seed}}}
"""


@settings(max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(1, 4),
    itype=st.sampled_from(["t3.small", "c5.large", "m5.large"]),
    web=st.integers(0, 60),
    cpu=st.sampled_from([0, 100, 400]),
    rate=st.sampled_from([0.5, 3, 20, 60]),
    fixed=st.booleans(),
    autoscaled=st.booleans(),
    prefix=st.sampled_from([18, 26]),
    tick=st.sampled_from([1, 2]),
    sample=st.sampled_from([30, 60]),
    seed=st.integers(0, 3),
)
def test_random_plans_run_the_same_one_tick_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **draw: Any
) -> None:
    """Full subnets, unschedulable pods and their retries, Job lives ending on a tick (fixed
    lifetimes) or between ticks, with and without the cluster autoscaler."""
    fixed, autoscaled = draw.pop("fixed"), draw.pop("autoscaled")
    lifetime = (
        "{distribution: fixed, mean: 3m}" if fixed else "{distribution: exponential, mean: 2m}"
    )
    text = PLAN.format(
        lifetime=lifetime,
        autoscaler="autoscaler: {kind: cluster-autoscaler}" if autoscaled else "",
        minutes=12,
        **draw,
    )
    path = tmp_path / "plan.yaml"
    path.write_text(textwrap.dedent(text))
    plan = load_plan(path, catalog=CATALOG)
    windowed = _run(plan, monkeypatch, every_tick=False)
    one_by_one = _run(plan, monkeypatch, every_tick=True)
    _same(windowed.result(), one_by_one.result())
    _check_node_lists(windowed)


@given(st.lists(st.tuples(st.sampled_from([0.0, 1.0, 2.5, math.inf]), st.integers(0, 50))))
def test_the_ends_heap_pops_in_end_then_pod_order(entries: list[tuple[float, int]]) -> None:
    heap_s = np.zeros(len(entries) + 1)
    heap_pod = np.zeros(len(entries) + 1, dtype=np.int64)
    ctr = np.zeros(_k.N_CTR, dtype=np.int64)
    for t, pod in entries:
        _k.heap_push(heap_s, heap_pod, ctr, t, pod)
    popped = []
    while ctr[_k.HEAP_N]:
        t = float(heap_s[0])
        popped.append((t, _k.heap_pop(heap_s, heap_pod, ctr)))
    assert popped == sorted(entries)
