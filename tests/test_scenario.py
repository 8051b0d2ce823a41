"""Cluster runs end to end: numbers derived by hand, queueing theory, the scheduler's limits.

Each plan here is small enough for the reference engine; the same plans run on the fast
engine in ``test_scenario_engines.py``.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnisim.catalog import load_catalog
from cnisim.io import apply_overrides, load_plan
from cnisim.report import summarize
from cnisim.sim import scenario
from cnisim.sim.scenario import ClusterRun, simulate
from cnisim.sim.scenario_result import SimulationResult

CATALOG = load_catalog()


def plan_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def run(tmp_path: Path, text: str, engine: str = "reference") -> SimulationResult:
    plan = load_plan(plan_file(tmp_path, text), catalog=CATALOG)
    return simulate(plan, CATALOG, engine=engine)  # type: ignore[arg-type]


def end_state(result: SimulationResult) -> tuple[int, int]:
    """(subnet addresses in use, addresses ipamd holds unassigned) at the last sample."""
    sim = result.ipamd
    last = sim.sample_s == sim.sample_s.max()
    held = sim.samples["ips_held"][last].sum() - sim.samples["ips_assigned"][last].sum()
    used = sum(
        row["n_usable_ips"] - int(sim.subnet_samples["n_free_ips"][-1, j])
        for j, row in enumerate(summarize(result)["subnets"])
    )
    return used, int(held)


BEST_PRACTICES = """\
    apiVersion: cnisim/v1
    kind: Plan
    vpc:
      cidrs: [10.0.0.0/16]
      subnets: [{id: subnet-a, az: us-east-1a, cidr: 10.0.0.0/20}]
    nodeGroups:
      - {name: ng, instanceTypes: [c5.large], minSize: 3, desiredCapacity: 3, maxSize: 3}
    coreDNS: false
    workloads:
      - kind: Deployment
        name: coredns
        replicas: 2
        requests: {cpu: 100m, memory: 70Mi}
        start: 5m
    run: {duration: 10m}
"""


def test_aws_best_practices_three_c5_large_with_coredns(tmp_path: Path) -> None:
    """3 x c5.large (3 ENIs x 10 IPv4), WARM_ENI_TARGET=1, two CoreDNS pods: 50 addresses in
    use, 43 of them warm.

    By hand: a node without pods holds its primary ENI (node IP + 9 secondaries: 10
    addresses); a node with one pod has 8 free < 9, so ipamd attaches a second ENI (20
    addresses). The scheduler spreads the two pods (LeastAllocated, the soft host spread), so
    20 + 20 + 10 = 50 in use, of which 9 + 8 + 9 + 8 + 9 = 43 are warm (50 minus 2 pods minus
    5 ENI primaries). Source: aws/aws-eks-best-practices, VPC CNI page (its "49" corrected in
    its PR #660), ``docs/cluster-model.md`` sec. 8.
    """
    result = run(tmp_path, BEST_PRACTICES)
    assert end_state(result) == (50, 43)
    assert sorted(np.bincount(result.pod_node[result.pod_needs_address], minlength=3)) == [0, 1, 1]


def test_t3_large_node_with_seven_pods_holds_two_enis(tmp_path: Path) -> None:
    """One t3.large (3 ENIs x 12 IPv4): 5 pods and CoreDNS's 2 need 7 of the primary ENI's 11
    secondaries; 4 free < 11, so a second ENI: 22 IPs held, 24 subnet addresses (2 ENI
    primaries), 15 warm. aws-node and kube-proxy are host-network: a pods slot each, no address.
    """
    result = run(
        tmp_path,
        """\
        apiVersion: cnisim/v1
        kind: Plan
        vpc:
          cidrs: [10.0.0.0/16]
          subnets: [{id: subnet-a, az: us-east-1a, cidr: 10.0.0.0/24}]
        nodeGroups:
          - {name: ng, instanceTypes: [t3.large], minSize: 1, desiredCapacity: 1, maxSize: 1}
        workloads:
          - {kind: Deployment, name: web, replicas: 5, start: 3m}
        run: {duration: 6m}
        """,
    )
    assert end_state(result) == (24, 15)
    on_node = result.pod_node >= 0
    assert on_node.sum() == 7 + 2  # with aws-node and kube-proxy
    assert (~result.pod_needs_address[on_node]).sum() == 2
    summary = summarize(result)
    (group,) = summary["node_groups"]
    assert group["max_pods_per_node"] == 35  # 3 x (12 - 1) + 2, eni-max-pods.txt
    assert summary["pods"]["n_started"] == 9


def test_a_subnet_runs_dry_and_the_report_says_when(tmp_path: Path) -> None:
    """Two m5.large in a /27 (27 usable): 10 pods each need 3 ENIs (30 addresses) per node
    under WARM_ENI_TARGET=1, so the subnet runs out; under WARM_IP_TARGET=2 it does not."""
    text = """\
        apiVersion: cnisim/v1
        kind: Plan
        vpc:
          cidrs: [10.0.0.0/16]
          subnets: [{id: subnet-a, az: us-east-1a, cidr: 10.0.0.0/26}]
        awsNode: {env: {WARM_ENI_TARGET: "1"}}
        nodeGroups:
          - {name: ng, instanceTypes: [m5.large], minSize: 2, desiredCapacity: 2, maxSize: 2}
        coreDNS: false
        workloads:
          - {kind: Deployment, name: web, replicas: 20, start: 3m}
        run: {duration: 8m}
        """
    dry = summarize(run(tmp_path, text))
    (subnet,) = dry["subnets"]
    assert subnet["n_usable_ips"] == 59
    assert subnet["exhausted_at_s"] is not None and subnet["exhausted_at_s"] >= 180
    assert dry["any_subnet_exhausted"]
    fixed = summarize(run(tmp_path, text.replace('WARM_ENI_TARGET: "1"', 'WARM_IP_TARGET: "2"')))
    assert fixed["subnets"][0]["exhausted_at_s"] is None
    assert fixed["pods"]["n_waiting_for_ip_at_end"] == 0
    # by hand: 2 nodes x (1 node IP + 10 pods + 2 warm) = 26, one ENI each (9 slots) is too
    # few for 12 IPs, so 2 ENIs per node: 2 more primaries
    assert fixed["subnets"][0]["n_peak_used_ips"] == 28


def test_littles_law_on_a_job_stream(tmp_path: Path) -> None:
    """Jobs arrive at 0.5 per second and live 60 s on average (exponential): with room for
    every pod, the mean number running is 0.5 x 60 = 30 (Little's law), within the sampling
    error of 1,800 s of samples."""
    result = run(
        tmp_path,
        """\
        apiVersion: cnisim/v1
        kind: Plan
        vpc:
          cidrs: [10.0.0.0/16]
          subnets: [{id: subnet-a, az: us-east-1a, cidr: 10.0.0.0/18}]
        awsNode: {env: {WARM_IP_TARGET: "30", MINIMUM_IP_TARGET: "30"}}
        nodeGroups:
          - {name: ng, instanceTypes: [m5.4xlarge], minSize: 4, desiredCapacity: 4, maxSize: 4,
             bootTime: {median: 20s, p95: 30s}}
        coreDNS: false
        workloads:
          - kind: JobStream
            name: jobs
            arrivalsPerMinute: 30
            lifetime: {distribution: exponential, mean: 60s}
            start: 60s
        scheduler: {scoring: LeastAllocated}
        run: {duration: 2h, sampleEvery: 10s}
        """,
    )
    steady = result.sample_s >= 600
    jobs = result.n_pods_by_group[steady, 0] - 2 * 4  # aws-node and kube-proxy on each node
    assert abs(jobs.mean() - 30.0) < 3.0
    assert result.n_unschedulable.max() == 0


@st.composite
def small_plans(draw: st.DrawFn) -> str:
    types = draw(
        st.lists(
            st.sampled_from(["t3.medium", "m5.large", "c5.large"]),
            min_size=1,
            max_size=2,
            unique=True,
        )
    )
    n_nodes = draw(st.integers(1, 4))
    replicas = draw(st.integers(0, 60))
    cpu = draw(st.sampled_from(["0", "50m", "250m", "700m"]))
    memory = draw(st.sampled_from(["0", "64Mi", "512Mi", "1500Mi"]))
    rate = draw(st.sampled_from([0.0, 0.05, 0.2]))
    scoring = draw(st.sampled_from(["LeastAllocated", "MostAllocated"]))
    jobs = (
        f"""
  - kind: JobStream
    name: jobs
    arrivalsPerMinute: {rate * 60}
    lifetime: {{distribution: exponential, mean: 90s}}
    requests: {{cpu: {cpu}, memory: {memory}}}"""
        if rate
        else ""
    )
    return f"""\
apiVersion: cnisim/v1
kind: Plan
vpc:
  cidrs: [10.0.0.0/16]
  subnets:
    - {{id: subnet-a, az: us-east-1a, cidr: 10.0.0.0/22}}
    - {{id: subnet-b, az: us-east-1b, cidr: 10.0.4.0/22}}
nodeGroups:
  - {{name: ng, instanceTypes: [{", ".join(types)}], minSize: {n_nodes}, desiredCapacity: {n_nodes},
     maxSize: {n_nodes}, subnets: [subnet-a, subnet-b]}}
scheduler: {{scoring: {scoring}}}
workloads:
  - kind: Deployment
    name: web
    replicas: {replicas}
    requests: {{cpu: {cpu}, memory: {memory}}}{jobs}
run: {{duration: 15m, seed: {draw(st.integers(0, 1000))}}}
"""


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=small_plans())
def test_the_scheduler_never_exceeds_a_node(tmp_path: Path, text: str) -> None:
    """At every moment, the pods bound to a node fit its pods, CPU and memory allocatable, and
    no pod is bound before its node is Ready."""
    result = run(tmp_path, text)
    plan = result.plan
    requests = {w.name: w.requests for w in plan.all_workloads}
    cpu = np.array(
        [requests[n].cpu_millicores if n in requests else 0 for n in result.workload_names]
    )
    names = np.array(result.workload_names)
    ds_cpu = {"aws-node": 50.0, "kube-proxy": 100.0}
    cpu = np.array([ds_cpu.get(n, c) for n, c in zip(names, cpu, strict=True)])
    memory = np.array(
        [requests[n].memory_mib if n in requests else 0 for n in result.workload_names]
    )
    bound = result.pod_node >= 0
    ready_s = result.ipamd.node_ready_s
    assert np.all(result.pod_bound_s[bound] >= ready_s[result.pod_node[bound]])
    for node in range(result.node_group.size):
        mine = np.flatnonzero(result.pod_node == node)
        ends = np.where(np.isnan(result.pod_deleted_s[mine]), np.inf, result.pod_deleted_s[mine])
        for t_s in result.pod_bound_s[mine]:
            running = mine[(result.pod_bound_s[mine] <= t_s) & (ends > t_s)]
            assert running.size <= result.node_max_pods[node]
            assert (
                cpu[result.pod_workload[running]].sum()
                <= result.node_allocatable_cpu_millicores[node]
            )
            assert (
                memory[result.pod_workload[running]].sum()
                <= result.node_allocatable_memory_mib[node]
            )


def test_same_seed_same_result_and_another_seed_differs(tmp_path: Path) -> None:
    text = BEST_PRACTICES.replace("run: {duration: 10m}", "run: {duration: 10m, seed: 7}")
    first, second = summarize(run(tmp_path, text)), summarize(run(tmp_path, text))
    assert first == second
    other = run(tmp_path, text.replace("seed: 7", "seed: 8"))
    assert not np.array_equal(other.node_kubelet_ready_s, run(tmp_path, text).node_kubelet_ready_s)


def test_the_eksctl_example_and_its_native_plan_agree(tmp_path: Path) -> None:
    """The eksctl ClusterConfig (eksctl's own VPC cut, no workloads: they come with
    ``--workload``) gives the run its native twin gives."""
    examples = Path(__file__).parent.parent / "examples"
    native = load_plan(examples / "t3-large.yaml", catalog=CATALOG)
    workloads = tmp_path / "web.yaml"
    workloads.write_text(
        "workloads:\n  - {kind: Deployment, name: web, replicas: 60,"
        " requests: {cpu: 100m, memory: 128Mi}}\n"
    )
    eksctl = apply_overrides(
        load_plan(examples / "eksctl-t3-large.yaml", (workloads,), catalog=CATALOG),
        duration_s=native.run.duration_s,
    )
    a = summarize(simulate(native, CATALOG, engine="reference"))
    b = summarize(simulate(eksctl, CATALOG, engine="reference"))
    for summary in (a, b):
        summary.pop("meta")
        summary.pop("notes")
    assert a == b


@pytest.mark.parametrize("engine", ["nonsense"])
def test_an_unknown_engine_is_refused(tmp_path: Path, engine: str) -> None:
    from cnisim.errors import UsageError

    plan = load_plan(plan_file(tmp_path, BEST_PRACTICES), catalog=CATALOG)
    with pytest.raises(UsageError, match="unknown engine"):
        simulate(plan, CATALOG, engine=engine)  # type: ignore[arg-type]


def test_an_ipv6_cluster_takes_only_node_addresses(tmp_path: Path) -> None:
    """ipFamily IPv6: each node takes one IPv4 address (its node IP) and its pods none (a /80
    per node); the pods still need a pods slot, CPU and memory."""
    result = run(
        tmp_path,
        """\
        apiVersion: eksctl.io/v1alpha5
        kind: ClusterConfig
        metadata: {name: v6, region: us-west-2}
        kubernetesNetworkConfig: {ipFamily: IPv6}
        managedNodeGroups:
          - {name: ng, instanceType: m5.large, desiredCapacity: 3, privateNetworking: true}
        """,
    )
    summary = summarize(result)
    assert sum(s["n_peak_used_ips"] for s in summary["subnets"]) == 3
    assert summary["pods"]["n_started"] == 2 + 3 * 2  # CoreDNS, aws-node and kube-proxy
    assert summary["pods"]["n_failed_ip_adds"] == 0
    assert any("IPv6" in note for note in summary["notes"])


class _Scripted:
    """A controller that runs one action on the run at ``at_s`` (the controller seam)."""

    name = "scripted"

    def __init__(self, at_s: float, action: object) -> None:
        self.at_s, self.action, self.done = at_s, action, False

    def next_due_s(self, now_s: float) -> float:
        return math.inf if self.done else max(self.at_s, now_s)

    def step(self, run: ClusterRun, now_s: float) -> bool:
        self.done = True
        self.action(run, now_s)  # type: ignore[operator]
        return True

    def summary(self) -> object:
        return self.done


SEAM_PLAN = """\
    apiVersion: cnisim/v1
    kind: Plan
    vpc:
      cidrs: [10.0.0.0/16]
      subnets: [{id: subnet-a, az: us-east-1a, cidr: 10.0.0.0/24}]
    nodeGroups:
      - {name: ng, instanceTypes: [c5.large], minSize: 1, desiredCapacity: 1, maxSize: 3}
    coreDNS: false
    workloads:
      - {kind: Deployment, name: web, replicas: 40}
    run: {duration: 10m}
"""


@pytest.mark.parametrize("engine", ["reference", "fast"])
def test_a_controller_deletes_bound_and_pending_pods(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str
) -> None:
    """One c5.large holds 29 pods, 27 of them web (aws-node and kube-proxy take two slots);
    the other 13 stay Pending. A controller deletes all 40 at 5 min: the queue empties, the
    node's requests are freed and every address goes back to the warm pool."""

    def delete_web(run: ClusterRun, now_s: float) -> None:
        web = run.pods.workload_names.index("web")
        run.delete_pods(np.flatnonzero(run.pods["workload"] == web), now_s)

    controller = _Scripted(300.0, delete_web)
    monkeypatch.setattr(scenario, "make_controllers", lambda plan, run: [controller])
    result = run(tmp_path, SEAM_PLAN, engine)
    web = result.pod_workload == result.workload_names.index("web")
    assert web.sum() == 40
    assert (result.pod_deleted_s[web] == 300.0).all()
    assert (result.pod_node[web] >= 0).sum() == 27
    assert result.n_pending[(result.sample_s > 120) & (result.sample_s < 300)].max() == 13
    assert result.n_pending[-1] == result.n_unschedulable[-1] == 0
    sim = result.ipamd
    assert sim.samples["ips_assigned"][sim.sample_s == sim.sample_s.max()].sum() == 0
    assert result.controllers == {"scripted": True}


@pytest.mark.parametrize("engine", ["reference", "fast"])
def test_a_controller_resizes_a_group_and_terminates_a_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str
) -> None:
    """Desired 1 -> 3 at 1 min places the 13 Pending web pods; then terminating one node with
    ShouldDecrementDesiredCapacity leaves two nodes, whose 50 slots hold the 40 web pods again
    (the lost node's pods are recreated)."""

    def grow_then_shrink(run: ClusterRun, now_s: float) -> None:
        change = run.set_group_desired(0, 5, now_s)
        assert (change.requested, change.desired) == (5, 3)  # clamped to maxSize

    def terminate_first(run: ClusterRun, now_s: float) -> None:
        run.terminate_node(0, now_s, decrement_desired=True)

    controllers = [_Scripted(60.0, grow_then_shrink), _Scripted(480.0, terminate_first)]
    monkeypatch.setattr(scenario, "make_controllers", lambda plan, run: controllers)
    result = run(tmp_path, SEAM_PLAN, engine)
    assert result.n_nodes_by_group.max() == 3
    assert result.n_nodes_by_group[-1, 0] == 2
    assert result.pod_deleted_s[result.pod_node == 0].min() == 480.0
    web = result.pod_workload == result.workload_names.index("web")
    alive = web & np.isnan(result.pod_deleted_s) & (result.pod_node >= 0)
    assert alive.sum() == 40
    assert result.n_pending[-1] == 0
