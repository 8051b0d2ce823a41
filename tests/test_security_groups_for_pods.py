"""Security groups for pods end to end in ``simulate``: ENABLE_POD_ENI, the trunk ENI, branch
ENIs (one subnet address each, outside the warm pool), ``vpc.amazonaws.com/pod-eni`` in the
scheduler, and a rollout of SGP pods waiting for the branch ENIs' cool-down."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from cnisim.catalog import load_catalog
from cnisim.io import load_plan
from cnisim.report import summarize
from cnisim.sim.rollouts import DeploymentSummary
from cnisim.sim.scenario import simulate
from cnisim.sim.scenario_result import SimulationResult

CATALOG = load_catalog()

PLAN = """\
    apiVersion: cnisim/v1
    kind: Plan
    vpc:
      cidrs: [10.0.0.0/16]
      subnets: [{id: subnet-a, az: us-east-1a, cidr: 10.0.0.0/24}]
    awsNode:
      env: {ENABLE_POD_ENI: "true"}
    nodeGroups:
      - {name: ng, instanceTypes: [m5.large], minSize: 2, desiredCapacity: 2, maxSize: 2}
    coreDNS: false
    workloads:
      - {kind: Deployment, name: sgp, replicas: 20, securityGroups: true, start: 3m}
    run: {duration: 10m}
"""


def run(tmp_path: Path, text: str, engine: str = "reference") -> SimulationResult:
    path = tmp_path / "plan.yaml"
    path.write_text(textwrap.dedent(text))
    return simulate(load_plan(path, catalog=CATALOG), CATALOG, engine=engine)  # type: ignore[arg-type]


@pytest.mark.parametrize("engine", ["reference", "fast"])
def test_sgp_pods_get_branch_enis_up_to_the_types_limit(tmp_path: Path, engine: str) -> None:
    """m5.large: 3 ENIs x 10 IPv4, 9 branch ENIs. The trunk takes one ENI slot, so max pods is
    (3 - 1) x 9 + 2 = 20, and each node takes 9 SGP pods (vpc.amazonaws.com/pod-eni: 9); the
    other 2 stay Pending for it. Per node in the subnet: the primary ENI (node IP + 9
    secondaries, the warm pool: no SGP pod draws on it, so WARM_ENI_TARGET=1 is met) 10, the
    trunk 1, the 9 branch ENIs 9: 20, 40 for the two."""
    result = run(tmp_path, PLAN, engine)
    sgp = result.pod_workload == result.workload_names.index("sgp")
    bound = sgp & (result.pod_node >= 0)
    assert np.bincount(result.pod_node[bound]).tolist() == [9, 9]
    assert result.node_max_pods.tolist() == [20, 20]
    summary = summarize(result)
    assert summary["pods"]["pending_at_end_by_reason"] == {
        "0/2 nodes are available: 2 Insufficient vpc.amazonaws.com/pod-eni.": 2
    }
    assert summary["subnets"][0]["n_peak_used_ips"] == 40
    sim = result.ipamd
    last = sim.sample_s == sim.sample_s.max()
    assert sim.samples["branch_pods"][last].tolist() == [9, 9]
    assert sim.samples["ips_assigned"][last].tolist() == [0, 0]  # outside the warm pool
    assert sim.samples["enis"][last].tolist() == [2, 2]  # the primary ENI and the trunk


def test_without_enable_pod_eni_sgp_pods_stay_pending(tmp_path: Path) -> None:
    """No trunk, no vpc.amazonaws.com/pod-eni on any node: every SGP pod stays Pending."""
    result = run(tmp_path, PLAN.replace('{ENABLE_POD_ENI: "true"}', "{}"))
    sgp = result.pod_workload == result.workload_names.index("sgp")
    assert not (result.pod_node[sgp] >= 0).any()
    (reason,) = summarize(result)["pods"]["pending_at_end_by_reason"]
    assert "Insufficient vpc.amazonaws.com/pod-eni" in reason


def test_an_sgp_rollout_waits_for_the_branch_enis_cool_down(tmp_path: Path) -> None:
    """18 SGP pods fill both nodes' 9 branch ENIs. A rollout (25 %: surge 5, unavailable 4)
    deletes 4 old pods at a time to make room, but a deleted pod's branch ENI still counts
    against the node's limit for the controller's 60 s cool-down, so each group's replacements
    wait for it (then for the kubelet's next retry, within 10 s): ceil(18 / 4) = 5 rounds of
    60 to 70 s, and never more than the 18 branch ENIs in use."""
    text = PLAN.replace("replicas: 20", "replicas: 18, rollouts: [{at: 5m}]")
    result = run(tmp_path, text.replace("duration: 10m", "duration: 20m"))
    summary = result.controllers["deployment/sgp"]
    assert isinstance(summary, DeploymentSummary)
    (rollout,) = summary.rollouts
    assert (rollout.n_max_surge, rollout.n_max_unavailable) == (5, 4)
    assert rollout.outcome == "complete"
    assert 5 * 60.0 <= rollout.end_s - rollout.start_s <= 5 * 72.0
    assert rollout.n_peak_pods == 18 + 5
    assert rollout.n_peak_pods_with_address == 18
    failed = summarize(result)["pods"]["failed_ip_adds_by_reason"]
    assert set(failed) == {"branch_at_limit"}  # the only reason any ADD failed
