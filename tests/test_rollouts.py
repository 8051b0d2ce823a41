"""Rolling updates: Kubernetes' fenceposts, and the pod and address peak of a rollout by hand."""

from __future__ import annotations

import dataclasses
import json
import math
import textwrap
from pathlib import Path

import numpy as np
import pytest
from clihelp import run_cnisim
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cnisim.catalog import load_catalog
from cnisim.io import load_plan
from cnisim.plan import Plan, RollingUpdate
from cnisim.report import summarize
from cnisim.sim.rollouts import DeploymentSummary, fenceposts, resolve_fenceposts
from cnisim.sim.scenario import simulate
from cnisim.sim.scenario_result import SimulationResult

CATALOG = load_catalog()
EXAMPLES = Path(__file__).parent.parent / "examples"


def load(tmp_path: Path, text: str) -> Plan:
    path = tmp_path / "plan.yaml"
    path.write_text(textwrap.dedent(text))
    return load_plan(path, catalog=CATALOG)


def deployment(result: SimulationResult, name: str = "web") -> DeploymentSummary:
    summary = result.controllers[f"deployment/{name}"]
    assert isinstance(summary, DeploymentSummary)
    return summary


@pytest.mark.parametrize(
    ("max_surge", "max_unavailable", "replicas", "expected"),
    [
        # kubernetes pkg/controller/deployment/util/deployment_util_test.go
        # TestResolveFenceposts (its nil values written 0 here, as ValueOrDefault reads them)
        (0, 0, 0, (0, 1)),
        ("39%", "39%", 10, (4, 3)),
        (0, "39%", 10, (0, 3)),
        ("39%", 0, 10, (4, 0)),
        (0, 0, 10, (0, 1)),
        # the 25 % defaults: 2.5 -> 3 up and 2 down; 0.25 -> 1 up and 0 down; 10 and 10 of 40
        ("25%", "25%", 10, (3, 2)),
        ("25%", "25%", 1, (1, 0)),
        ("25%", "25%", 40, (10, 10)),
        # numbers are taken as they are, even above replicas
        (5, 7, 3, (5, 7)),
    ],
)
def test_fenceposts_round_as_kubernetes(
    max_surge: int | str, max_unavailable: int | str, replicas: int, expected: tuple[int, int]
) -> None:
    assert resolve_fenceposts(RollingUpdate(max_surge, max_unavailable), replicas) == expected


@given(st.integers(0, 500), st.integers(0, 100), st.integers(0, 1000).filter(lambda r: r % 7 != 0))
def test_a_percent_surge_rounds_up_and_unavailable_down(
    surge_percent: int, unavailable_percent: int, replicas: int
) -> None:
    strategy = RollingUpdate(f"{surge_percent}%", f"{unavailable_percent}%")
    surge, unavailable = fenceposts(strategy, replicas)
    exact_surge = surge_percent * replicas / 100
    exact_unavailable = unavailable_percent * replicas / 100
    assert surge == math.ceil(exact_surge)
    if surge == 0 and math.floor(exact_unavailable) == 0:
        assert unavailable == min(1, replicas)  # both 0: one pod may go, so it can proceed
    else:
        assert unavailable == math.floor(exact_unavailable) <= replicas


def example_result(engine: str) -> SimulationResult:
    """The example up to 25 min (the rollout is at 20 min), sampled every second."""
    plan = load_plan(EXAMPLES / "rolling-update.yaml", catalog=CATALOG)
    run = dataclasses.replace(plan.run, duration_s=1500.0, sample_every_s=1.0)
    return simulate(dataclasses.replace(plan, run=run), CATALOG, engine=engine)  # type: ignore[arg-type]


@pytest.mark.parametrize("engine", ["reference", "fast"])
def test_the_example_rollout_needs_a_quarter_more_addresses(engine: str) -> None:
    """40 web pods, maxSurge 25% (ceil(10) = 10), maxUnavailable 0: at 20 min 10 new pods are
    created; old pods go only as new ones are available, so the Deployment peaks at
    40 + 10 = 50 pods, all with an address; with CoreDNS's 2 the cluster's pods hold 52
    addresses at the peak and 42 before and after it."""
    result = example_result(engine)
    (rollout,) = deployment(result).rollouts
    assert (rollout.n_replicas, rollout.n_max_surge, rollout.n_max_unavailable) == (40, 10, 0)
    assert rollout.start_s == 1200.0 and rollout.outcome == "complete"
    assert 1200.0 < rollout.end_s < 1500.0
    assert rollout.n_peak_pods == rollout.n_peak_pods_with_address == 50
    assert rollout.n_peak_extra_addresses == 10
    assert rollout.n_min_available == 40  # maxUnavailable 0
    # the cluster's view: addresses assigned to pods (all nodes) at every second
    sim = result.ipamd
    times = np.unique(sim.sample_s)
    assigned = np.bincount(
        np.searchsorted(times, sim.sample_s),
        weights=sim.samples["ips_assigned"],
        minlength=times.size,
    )
    settled = (times >= 900.0) & (times < 1200.0)
    during = (times >= 1200.0) & (times <= rollout.end_s)
    after = times >= rollout.end_s + 60.0
    assert set(assigned[settled].tolist()) == {42.0}
    assert assigned[during].max() == 52.0
    assert set(assigned[after].tolist()) == {42.0}
    # every web pod alive at the end is of the new template (created at the rollout or after)
    web = result.pod_workload == result.workload_names.index("web")
    alive = web & np.isnan(result.pod_deleted_s)
    assert alive.sum() == 40 and (result.pod_created_s[alive] >= 1200.0).all()
    assert np.count_nonzero(web & (result.pod_deleted_s >= 1200.0)) == 40


SMALL = """\
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
        replicas: 4
        start: 3m
        strategy: {rollingUpdate: STRATEGY}
        rollouts: [{at: 5m}, {at: 10m}]
    run: {duration: 12m}
"""


@pytest.mark.parametrize(
    ("strategy", "peak_pods"),
    [
        # 25 % of 4: surge 1 (rounded up), unavailable 1 (rounded down): 4 + 1 pods at most
        ("{}", 5),
        # no surge, one at a time: never more than the 4 replicas
        ("{maxSurge: 0, maxUnavailable: 1}", 4),
        # surge 100 %: all 4 new pods at once, 8 pods
        ("{maxSurge: 100%, maxUnavailable: 0}", 8),
    ],
)
def test_a_rollout_stays_within_its_fenceposts(
    tmp_path: Path, strategy: str, peak_pods: int
) -> None:
    result = simulate(load(tmp_path, SMALL.replace("STRATEGY", strategy)), CATALOG)
    rollouts = deployment(result).rollouts
    assert [r.start_s for r in rollouts] == [300.0, 600.0]
    assert [r.revision for r in rollouts] == [1, 2]
    for rollout in rollouts:
        assert rollout.outcome == "complete"
        assert rollout.n_peak_pods == peak_pods
        assert rollout.n_peak_pods_with_address <= peak_pods
    web = result.pod_workload == result.workload_names.index("web")
    alive = web & np.isnan(result.pod_deleted_s)
    assert alive.sum() == 4 and (result.pod_created_s[alive] >= 600.0).all()


def test_a_second_rollout_before_the_first_ends_supersedes_it(tmp_path: Path) -> None:
    """Two rollouts 1 s apart: the first cannot finish in a second (a new pod's ADD is at the
    next tick), so it is superseded and the second completes."""
    text = SMALL.replace("STRATEGY", "{}").replace("{at: 10m}", "{at: 301s}")
    rollouts = deployment(simulate(load(tmp_path, text), CATALOG)).rollouts
    assert [r.outcome for r in rollouts] == ["superseded", "complete"]
    assert math.isnan(rollouts[0].end_s)


def test_a_rollout_with_no_room_for_its_surge_stalls_and_says_so(tmp_path: Path) -> None:
    """27 pods fill the m5.large (29 max pods, 2 of them aws-node and kube-proxy); with
    maxSurge 1 and maxUnavailable 0 the new pod has no slot and no old pod may go: the
    rollout never progresses, the old pods all stay, and the report says it had not finished."""
    text = SMALL.replace("STRATEGY", "{maxSurge: 1, maxUnavailable: 0}")
    text = text.replace("replicas: 4", "replicas: 27").replace(", {at: 10m}", "")
    result = simulate(load(tmp_path, text), CATALOG)
    (rollout,) = deployment(result).rollouts
    assert rollout.outcome == "in progress" and math.isnan(rollout.end_s)
    assert rollout.n_peak_pods == 28 and rollout.n_peak_pods_with_address == 27
    web = result.pod_workload == result.workload_names.index("web")
    assert np.count_nonzero(web & np.isnan(result.pod_deleted_s) & (result.pod_node >= 0)) == 27
    findings = summarize(result)["findings"]
    assert "the rollout of web at 0h05m00s had not finished at the end" in " ".join(findings)


def test_the_cli_reports_the_example_rollout_in_a_line_and_in_json(tmp_path: Path) -> None:
    example = str(EXAMPLES / "rolling-update.yaml")
    proc = run_cnisim("simulate", example, "--engine", "reference", "-o", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (web,) = json.loads(proc.stdout)["deployments"]
    assert web["name"] == "web" and web["replica_changes"] == []
    assert web["rollouts"] == [
        {
            "revision": 1,
            "start_s": 1200.0,
            "end_s": web["rollouts"][0]["end_s"],
            "outcome": "complete",
            "n_replicas": 40,
            "n_max_surge": 10,
            "n_max_unavailable": 0,
            "n_peak_pods": 50,
            "n_peak_pods_with_address": 50,
            "n_peak_extra_addresses": 10,
            "n_min_available": 40,
        }
    ]
    proc = run_cnisim("simulate", example, "--engine", "reference", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (line,) = [line for line in proc.stdout.splitlines() if line.startswith("rollout of web")]
    assert line.startswith("rollout of web (revision 1): 0h20m00s to 0h20m")
    assert line.endswith("peak 50 pods, 50 with an address (10 extra addresses)")


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    replicas=st.integers(1, 12),
    surge=st.sampled_from(["0%", "25%", "50%", "100%", 0, 1, 3]),
    unavailable=st.sampled_from(["0%", "25%", "50%", "100%", 0, 1, 3]),
)
def test_every_rollout_keeps_its_fenceposts_and_completes(
    tmp_path: Path, replicas: int, surge: int | str, unavailable: int | str
) -> None:
    """On a node with room for all: never more than replicas + surge pods, never fewer than
    replicas - unavailable available, and the rollout completes with only new pods."""
    strategy = RollingUpdate(surge, unavailable)
    assume(not both_written_zero(strategy))  # the plan refuses it, as Kubernetes does
    n_surge, n_unavailable = fenceposts(strategy, replicas)
    text = SMALL.replace("replicas: 4", f"replicas: {replicas}").replace(", {at: 10m}", "")
    text = text.replace("STRATEGY", f"{{maxSurge: {surge!r}, maxUnavailable: {unavailable!r}}}")
    result = simulate(load(tmp_path, text), CATALOG)
    (rollout,) = deployment(result).rollouts
    assert rollout.outcome == "complete"
    assert rollout.n_peak_pods <= replicas + n_surge
    assert rollout.n_min_available >= replicas - n_unavailable
    web = result.pod_workload == result.workload_names.index("web")
    alive = web & np.isnan(result.pod_deleted_s)
    assert alive.sum() == replicas and (result.pod_created_s[alive] >= 300.0).all()


def both_written_zero(strategy: RollingUpdate) -> bool:
    """Both fields written as 0 (or 0%): Kubernetes' validation and the plan refuse it."""
    return all(str(v).rstrip("%") == "0" for v in (strategy.max_surge, strategy.max_unavailable))
