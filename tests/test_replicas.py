"""Replicas on a schedule or a diurnal curve: the counts at given times by hand, end to end."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnisim.catalog import load_catalog
from cnisim.io import load_plan
from cnisim.plan import Deployment, Diurnal, Steps
from cnisim.sim.replicas import ReplicaScheduleSummary, curve_value, replicas_at
from cnisim.sim.scenario import simulate
from cnisim.sim.scenario_result import SimulationResult

CATALOG = load_catalog()
HOUR_S = 3600.0


def test_the_diurnal_cosine_by_hand() -> None:
    """low 10, high 100, peak at 14h, a day: value = 10 + 90 (1 + cos(2 pi (t - 14h) / 24h)) / 2.
    At the peak 100; 12 h away (2h) 10; 6 h away (8h, 20h) 55; 3 h away (11h) the cosine is
    cos(pi / 4) = 0.7071, so 10 + 45 x 1.7071 = 86.82; a day later the same again."""
    day = Diurnal(10.0, 100.0, 14 * HOUR_S)
    hours = np.array([14.0, 2.0, 8.0, 20.0, 11.0, 38.0])
    expected = [100.0, 10.0, 55.0, 55.0, 10 + 45 * (1 + 2**-0.5), 100.0]
    assert curve_value(day, hours * HOUR_S) == pytest.approx(expected)


def test_a_step_schedule_holds_each_value_from_its_time_on() -> None:
    steps = Steps((600.0, 1200.0), (4.0, 1.0))
    values = curve_value(steps, [0.0, 599.0, 600.0, 1199.0, 1200.0, 1e6], before=7.0)
    assert values.tolist() == [7.0, 7.0, 4.0, 4.0, 1.0, 1.0]


@given(
    low=st.integers(0, 1000),
    span=st.integers(0, 1000),
    peak_at_s=st.floats(0, 86_400),
    t_s=st.floats(0, 10 * 86_400),
)
def test_the_diurnal_curve_stays_between_its_bounds(
    low: int, span: int, peak_at_s: float, t_s: float
) -> None:
    day = Diurnal(float(low), float(low + span), peak_at_s)
    (value,) = curve_value(day, [t_s]).tolist()
    assert low - 1e-9 <= value <= low + span + 1e-9
    # symmetric about the peak
    (mirror,) = curve_value(day, [2 * peak_at_s - t_s]).tolist()
    assert value == pytest.approx(mirror, abs=1e-6)


# min 2, max 10, peak at 30 min, an hour's period, every 5 min: 2 + 4 (1 + cos(2 pi (t - 30) / 60))
# t = 0: cos(-pi) = -1 -> 2; 5: cos(-150 deg) = -0.866 -> 2.54 -> 3; 10: -0.5 -> 4; 15: 0 -> 6;
# 20: 0.5 -> 8; 25: 0.866 -> 9.46 -> 9; 30: 10; then the same backwards to 2 at 60.
DIURNAL_BY_HAND = [2, 3, 4, 6, 8, 9, 10, 9, 8, 6, 4, 3, 2]


def test_diurnal_replicas_every_five_minutes_by_hand() -> None:
    web = Deployment("web", 2, diurnal=Diurnal(2.0, 10.0, 1800.0, 3600.0, 300.0))
    at_s = np.arange(13) * 300.0
    assert replicas_at(web, at_s).tolist() == DIURNAL_BY_HAND
    # between two evaluations the replicas hold
    assert replicas_at(web, at_s[:-1] + 299.0).tolist() == DIURNAL_BY_HAND[:-1]


def test_schedule_replicas_before_the_start_and_between_entries() -> None:
    web = Deployment("web", 5, start_s=600.0, schedule=Steps((0.0, 1200.0), (10.0, 40.0)))
    # before the start: its replicas; from the start: the entry in force (10), then 40
    assert replicas_at(web, [0.0, 599.0, 600.0, 1199.0, 1200.0]).tolist() == [5, 5, 10, 10, 40]


PLAN = """\
    apiVersion: cnisim/v1
    kind: Plan
    vpc:
      cidrs: [10.0.0.0/16]
      subnets: [{id: subnet-a, az: us-east-1a, cidr: 10.0.0.0/24}]
    nodeGroups:
      - {name: ng, instanceTypes: [m5.large], minSize: 1, desiredCapacity: 1, maxSize: 1}
    coreDNS: false
    workloads:
      - kind: Deployment
        name: web
        replicas: 2
        SOURCE
    run: {duration: 1h, sampleEvery: 5m}
"""


def run(tmp_path: Path, source: str) -> SimulationResult:
    path = tmp_path / "plan.yaml"
    path.write_text(textwrap.dedent(PLAN).replace("SOURCE", source))
    return simulate(load_plan(path, catalog=CATALOG), CATALOG)


def alive_at(result: SimulationResult, t_s: float) -> int:
    """Web pods created by ``t_s`` and not deleted by then."""
    web = result.pod_workload == result.workload_names.index("web")
    created = result.pod_created_s <= t_s
    deleted = result.pod_deleted_s <= t_s  # NaN compares False: not deleted
    return int(np.count_nonzero(web & created & ~deleted))


def test_a_diurnal_deployment_follows_the_curve_end_to_end(tmp_path: Path) -> None:
    result = run(tmp_path, "diurnal: {minReplicas: 2, maxReplicas: 10, peakAt: 30m, period: 1h}")
    summary = result.controllers["diurnal/web"]
    assert isinstance(summary, ReplicaScheduleSummary)
    # the replicas start at 2 (the curve's value at 0): the changes are the other evaluations
    # (the run includes its last second, 1 h: the curve is back at 2 then)
    changes = [(t, n) for t, n in zip(range(0, 3601, 300), DIURNAL_BY_HAND, strict=True) if t]
    assert list(zip(summary.change_s.tolist(), summary.replicas.tolist(), strict=True)) == [
        (float(t), n) for t, n in changes
    ]
    for t_s, n in changes:
        assert alive_at(result, t_s) == n
    # scale-downs delete the newest pods first: the pod deleted at 35 min (10 -> 9) is the
    # one created at 30 min (9 -> 10)
    web = result.pod_workload == result.workload_names.index("web")
    assert result.pod_created_s[web & (result.pod_deleted_s == 2100.0)].tolist() == [1800.0]


def test_a_scheduled_deployment_scales_up_and_down_end_to_end(tmp_path: Path) -> None:
    result = run(tmp_path, "schedule: [{at: 10m, replicas: 12}, {at: 20m, replicas: 3}]")
    summary = result.controllers["schedule/web"]
    assert isinstance(summary, ReplicaScheduleSummary)
    assert summary.change_s.tolist() == [600.0, 1200.0]
    assert summary.replicas.tolist() == [12, 3]
    assert [alive_at(result, t) for t in (599.0, 600.0, 1199.0, 1200.0, 3600.0)] == [
        2,
        12,
        12,
        3,
        3,
    ]
    # the run's pods: 12 web pods at most, 9 of them deleted at 20 min
    web = result.pod_workload == result.workload_names.index("web")
    assert web.sum() == 12 and np.count_nonzero(result.pod_deleted_s[web] == 1200.0) == 9


def test_a_scale_down_counts_the_pods_recreated_after_a_node_loss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """12 web pods from 3 min, spread over two nodes; at 5 min the node with the most is
    terminated and its pods are recreated under new ids (the ReplicaSet's replacements); at
    10 min the schedule asks for 3: the controller finds the replacements too, so exactly 3
    pods are left."""
    from cnisim.sim import scenario
    from cnisim.sim.scenario import ClusterRun

    class Terminate:
        name = "terminate"
        done = False

        def next_due_s(self, now_s: float) -> float:
            return float("inf") if self.done else 300.0

        def step(self, run: ClusterRun, now_s: float) -> bool:
            self.done = True
            busiest = max(range(len(run.pods_on)), key=lambda node: len(run.pods_on[node]))
            self.node = busiest
            run.terminate_node(busiest, now_s, decrement_desired=False)
            return True

        def summary(self) -> object:
            return self.done

    make, terminate = scenario.make_controllers, Terminate()
    monkeypatch.setattr(
        scenario, "make_controllers", lambda plan, run: [terminate, *make(plan, run)]
    )
    text = PLAN.replace("desiredCapacity: 1", "desiredCapacity: 2").replace(
        "maxSize: 1", "maxSize: 2"
    )
    path = tmp_path / "plan.yaml"
    path.write_text(
        textwrap.dedent(text).replace(
            "SOURCE", "start: 3m\n    schedule: [{at: 0s, replicas: 12}, {at: 10m, replicas: 3}]"
        )
    )
    result = simulate(load_plan(path, catalog=CATALOG), CATALOG)
    web = result.pod_workload == result.workload_names.index("web")
    lost = web & (result.pod_deleted_s == 300.0) & (result.pod_node == terminate.node)
    assert 0 < lost.sum() < 12  # some pods were on the lost node and were recreated
    assert np.count_nonzero(web & (result.pod_created_s == 300.0)) == lost.sum()
    assert alive_at(result, 599.0) == 12 and alive_at(result, 600.0) == 3


def test_a_scale_down_deletes_pending_pods_before_bound_ones(tmp_path: Path) -> None:
    """The m5.large holds 27 web pods (29 max pods, aws-node and kube-proxy take two): at
    5 min 40 are asked for, 13 stay Pending; at 10 min 30: the 10 deleted are Pending ones,
    every bound pod stays."""
    result = run(tmp_path, "schedule: [{at: 5m, replicas: 40}, {at: 10m, replicas: 30}]")
    web = result.pod_workload == result.workload_names.index("web")
    deleted = web & (result.pod_deleted_s == 600.0)
    assert deleted.sum() == 10
    assert np.isnan(result.pod_bound_s[deleted]).all()
    assert np.count_nonzero(web & np.isnan(result.pod_deleted_s) & (result.pod_node >= 0)) == 27
