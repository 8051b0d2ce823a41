"""The cluster autoscaler in a cluster run: scale-ups and scale-downs derived by hand, its
limits, the pods it cannot see (bound, waiting for an address), and its plan fields' bad input.

Node groups here boot in exactly 60 s (``bootTime: {median: 60s, p95: 60s}``), and ipamd's
first address comes within the next few seconds (an EC2 AssignPrivateIpAddresses, median
0.3 s), so a node launched at 0 s is Ready before the autoscaler's loop at 70 s. The loops run
at 0 s, 10 s, 20 s, ... (``scanInterval`` 10 s); the scheduler tries new pods in the tick they
are created, after the autoscaler's loop, so the loop at 10 s is the first to see them
unschedulable. c5.large: 2 vCPUs, allocatable 1,930m; m5.large the same CPU. Most run on
the compiled engine; a scale-up and a drain also on the reference model.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from clihelp import assert_one_line_error, run_cnisim
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnisim.catalog import load_catalog
from cnisim.errors import PlanError
from cnisim.io import load_plan
from cnisim.plan import Autoscaler
from cnisim.sim.autoscaler import IP_WAIT_UNSEEN_NOTE, AutoscalerSummary, ScaleEvent
from cnisim.sim.scenario import simulate
from cnisim.sim.scenario_result import SimulationResult

CATALOG = load_catalog()
ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "autoscaled-full-subnet.yaml"
BOOT = "bootTime: {median: 60s, p95: 60s}"

HEAD = """\
apiVersion: cnisim/v1
kind: Plan
vpc:
  cidrs: [10.0.0.0/16]
  subnets: [{id: subnet-a, az: us-east-1a, cidr: 10.0.0.0/20}]
coreDNS: false
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def run(tmp_path: Path, text: str, engine: str = "fast") -> SimulationResult:
    plan = load_plan(write(tmp_path, text), catalog=CATALOG)
    return simulate(plan, CATALOG, engine=engine)  # type: ignore[arg-type]


def events(result: SimulationResult) -> list[ScaleEvent]:
    summary = result.controllers["cluster-autoscaler"]
    assert isinstance(summary, AutoscalerSummary)
    return list(summary.events)


def scale_up_plan(max_size: int) -> str:
    return HEAD + textwrap.dedent(
        f"""\
        nodeGroups:
          - {{name: ng, instanceTypes: [c5.large], minSize: 1, desiredCapacity: 1,
              maxSize: {max_size}, {BOOT}}}
        workloads:
          - {{kind: Deployment, name: web, replicas: 12, requests: {{cpu: 500m}}}}
        autoscaler: {{kind: cluster-autoscaler}}
        run: {{duration: 20m}}
        """
    )


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_scales_up_for_unschedulable_pods_by_the_nodes_they_need(
    tmp_path: Path, engine: str
) -> None:
    """A c5.large's 1,930m less aws-node's 50m and kube-proxy's 100m leaves 1,780m: three
    500m pods. The 12 web pods are unschedulable at 0 s (no node Ready); the loop at 10 s
    counts the booting node as upcoming (it takes 3) and asks ceil(9 / 3) = 3 more nodes.
    From then on the 4 upcoming nodes take all 12, so it never scales up again; at 3 x 500 +
    150 = 1,650m of 1,930m (85 %) no node is unneeded."""
    result = run(tmp_path, scale_up_plan(max_size=5), engine)
    assert events(result) == [ScaleEvent(10.0, "ng", "scale-up", 3)]
    assert result.n_nodes_by_group[:, 0].max() == 4
    assert result.n_pending[-1] == 0


def test_a_scale_up_stops_at_max_size_and_the_rest_stay_pending(tmp_path: Path) -> None:
    """maxSize 3: room for 2 nodes, 6 pods; 3 stay Pending and no group can help them."""
    result = run(tmp_path, scale_up_plan(max_size=3))
    assert events(result) == [ScaleEvent(10.0, "ng", "scale-up", 2)]
    assert result.n_nodes_by_group[:, 0].max() == 3
    assert result.n_unschedulable[-1] == 3


@pytest.mark.parametrize(
    ("requests", "expected"),
    [
        # 500m, 256Mi: 3 per node on either (CPU binds), 4 nodes. Idle CPU after them 1 - 6,000
        # / 8,000 = 0.25 on both; idle memory 1 - 3,072 / 16,384 = 0.81 on c5.large (4 GiB)
        # against 1 - 3,072 / 65,536 = 0.95 on r5.large (16 GiB): c5.large wastes less.
        ("{cpu: 500m, memory: 256Mi}", ScaleEvent(10.0, "compute", "scale-up", 4)),
        # 100m, 3Gi: one per c5.large (3,422 MiB allocatable), 12 nodes, idle 0.95 + 0.25 =
        # 1.2; five per r5.large (15,710 MiB), 3 nodes, idle 0.8 + 0.25 = 1.05: r5.large.
        ("{cpu: 100m, memory: 3Gi}", ScaleEvent(10.0, "memory", "scale-up", 3)),
    ],
)
def test_least_waste_picks_the_group_with_the_least_idle_cpu_and_memory(
    tmp_path: Path, requests: str, expected: ScaleEvent
) -> None:
    """12 pods, two empty groups; least-waste weighs the pods against each option's new nodes'
    capacity (vCPUs x 1,000, memory), their count from the binpacking estimate."""
    result = run(
        tmp_path,
        HEAD
        + textwrap.dedent(
            f"""\
            nodeGroups:
              - {{name: compute, instanceTypes: [c5.large], minSize: 0, desiredCapacity: 0,
                  maxSize: 12, {BOOT}}}
              - {{name: memory, instanceTypes: [r5.large], minSize: 0, desiredCapacity: 0,
                  maxSize: 12, {BOOT}}}
            workloads:
              - {{kind: Deployment, name: web, replicas: 12, requests: {requests}}}
            autoscaler: {{kind: cluster-autoscaler}}
            run: {{duration: 5m}}
            """
        ),
    )
    assert events(result) == [expected]
    assert result.n_pending[-1] == 0


def test_a_scale_up_not_ready_in_time_backs_the_group_off_doubling(tmp_path: Path) -> None:
    """maxNodeProvisionTime 30s, shorter than the 60 s boot: every scale-up fails. The loop
    at 10 s adds the node the 3 pods beyond the first node need; at 40 s it is not Ready: it is
    removed and the group backed off 5 min, to 340 s. There the same happens (not Ready at
    370 s), now for 10 min (to 970 s), then 20 min: 1,000 + 1,200 = 2,200 s, failing at
    2,230 s. The first node, launched before any scale-up, stays."""
    text = (
        scale_up_plan(max_size=5)
        .replace(
            "{kind: cluster-autoscaler}", "{kind: cluster-autoscaler, maxNodeProvisionTime: 30s}"
        )
        .replace("replicas: 12", "replicas: 6")
        .replace("20m", "40m")
    )
    result = run(tmp_path, text)
    expected = []
    for up_s in (10.0, 340.0, 970.0, 2200.0):
        expected += [
            ScaleEvent(up_s, "ng", "scale-up", 1),
            ScaleEvent(up_s + 30.0, "ng", "scale-up-failed", 1),
        ]
    assert events(result) == expected
    assert result.n_ready_by_group[-1, 0] == 1 and result.n_unschedulable[-1] == 3


def scale_down_plan(big_start: str) -> str:
    """Two empty m5.large nodes (group idle) and a 3,000m pod at ``big_start`` that only a
    c5.xlarge (4 vCPUs) of group big can hold."""
    return HEAD + textwrap.dedent(
        f"""\
        nodeGroups:
          - {{name: idle, instanceTypes: [m5.large], minSize: 0, desiredCapacity: 2,
              maxSize: 2, {BOOT}}}
          - {{name: big, instanceTypes: [c5.xlarge], minSize: 0, desiredCapacity: 0,
              maxSize: 2, {BOOT}}}
        workloads:
          - {{kind: Deployment, name: big, replicas: 1, requests: {{cpu: 3000m}},
              start: {big_start}}}
        autoscaler: {{kind: cluster-autoscaler}}
        run: {{duration: 30m}}
        """
    )


def test_empty_nodes_go_10_minutes_after_the_loop_that_first_found_them_unneeded(
    tmp_path: Path,
) -> None:
    """The idle nodes are Ready before 70 s with only their DaemonSet pods (150m of 1,930m,
    8 %: below 0.5). The loop at 70 s first finds them unneeded; 600 s later, at 670 s, both
    go at once (empty nodes, up to 10 at a time; minSize 0). The big pod (here after the
    run) never comes."""
    result = run(tmp_path, scale_down_plan(big_start="1h"))
    assert events(result) == [ScaleEvent(670.0, "idle", "scale-down", 2)]
    assert result.n_nodes_by_group[-1].tolist() == [0, 0]


def test_no_scale_down_within_10_minutes_of_a_scale_up(tmp_path: Path) -> None:
    """The big pod comes at 300 s: the loop at 310 s grows group big by one (a m5.large cannot
    hold 3,000m). Scale-down waits until 310 + 600 = 910 s, when the idle nodes, unneeded
    since 70 s, go; the big node (3,150m of its allocatable) is needed."""
    result = run(tmp_path, scale_down_plan(big_start="300s"))
    assert events(result) == [
        ScaleEvent(310.0, "big", "scale-up", 1),
        ScaleEvent(910.0, "idle", "scale-down", 2),
    ]
    assert result.n_nodes_by_group[-1].tolist() == [0, 1]


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_non_empty_nodes_are_drained_one_at_a_time(tmp_path: Path, engine: str) -> None:
    """Three nodes share four 100m pods (8-13 % used): each is unneeded if its pods fit on the
    others, but the pass removes them in turn: the first's pods go to the second or third, the
    second's to the third, and the third's have nowhere left: two unneeded from 70 s. At 670 s
    one non-empty node goes (one at a time); the next loop, after the scan interval (the
    delay after a delete), takes the second at 680 s; minSize 1 keeps the third."""
    result = run(
        tmp_path,
        HEAD
        + textwrap.dedent(
            f"""\
            nodeGroups:
              - {{name: ng, instanceTypes: [m5.large], minSize: 1, desiredCapacity: 3,
                  maxSize: 3, {BOOT}}}
            workloads:
              - {{kind: Deployment, name: web, replicas: 4, requests: {{cpu: 100m}}, start: 65s}}
            autoscaler: {{kind: cluster-autoscaler}}
            run: {{duration: 20m}}
            """
        ),
        engine,
    )
    assert events(result) == [
        ScaleEvent(670.0, "ng", "scale-down", 1),
        ScaleEvent(680.0, "ng", "scale-down", 1),
    ]
    assert result.n_nodes_by_group[-1, 0] == 1
    assert result.n_pending[-1] == 0  # the drained pods run on the last node


def test_daemonset_pods_count_in_utilization_unless_ignored(tmp_path: Path) -> None:
    """Two 850m pods, one per m5.large: (850 + 150) / 1,930 = 0.52 with the DaemonSet pods,
    so neither node is unneeded. Without them, 850 / 1,930 = 0.44: the first node's pod fits
    beside the second's (850 + 850 + 150 = 1,850m), so it goes at 670 s; the second's pod
    would have nowhere to go."""
    text = HEAD + textwrap.dedent(
        f"""\
        nodeGroups:
          - {{name: ng, instanceTypes: [m5.large], minSize: 0, desiredCapacity: 2,
              maxSize: 2, {BOOT}}}
        workloads:
          - {{kind: Deployment, name: web, replicas: 2, requests: {{cpu: 850m}}, start: 65s}}
        autoscaler: {{kind: cluster-autoscaler, IGNORE}}
        run: {{duration: 20m}}
        """
    )
    counted = run(tmp_path, text.replace("IGNORE", "ignoreDaemonsetsUtilization: false"))
    ignored = run(tmp_path, text.replace("IGNORE", "ignoreDaemonsetsUtilization: true"))
    assert events(counted) == []
    assert events(ignored) == [ScaleEvent(670.0, "ng", "scale-down", 1)]
    assert ignored.n_nodes_by_group[-1, 0] == 1 and ignored.n_pending[-1] == 0


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sizes=st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2)),
    replicas=st.integers(0, 30),
    cpu_millicores=st.sampled_from([100, 500, 1000]),
    start_s=st.sampled_from([0, 120, 600]),
)
def test_stays_within_min_and_max(
    tmp_path: Path,
    sizes: tuple[int, int, int],
    replicas: int,
    cpu_millicores: int,
    start_s: int,
) -> None:
    min_size = sizes[0]
    desired = min_size + sizes[1]
    max_size = desired + sizes[2]
    result = run(
        tmp_path,
        HEAD
        + textwrap.dedent(
            f"""\
            nodeGroups:
              - {{name: ng, instanceTypes: [c5.large], minSize: {min_size},
                  desiredCapacity: {desired}, maxSize: {max_size}}}
            workloads:
              - {{kind: Deployment, name: web, replicas: {replicas},
                  requests: {{cpu: {cpu_millicores}m}}, start: {start_s}s}}
            autoscaler: {{kind: cluster-autoscaler, scaleDownUnneededTime: 2m,
              scaleDownDelayAfterAdd: 2m}}
            run: {{duration: 20m}}
            """
        ),
    )
    n_nodes = result.n_nodes_by_group[:, 0]
    assert (min_size <= n_nodes).all() and (n_nodes <= max_size).all()
    for event in events(result):
        assert event.n_nodes >= 1 and event.kind != "scale-up-failed"


def test_never_scales_up_for_pods_waiting_for_an_address(tmp_path: Path) -> None:
    """The example's /27s run dry while its nodes have CPU to spare: pods are bound and wait
    for an address, nothing is Pending for long, and the autoscaler does nothing, as the
    report says in words (run as a user runs it)."""
    proc = run_cnisim("simulate", str(EXAMPLE), "-o", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    autoscaler = summary["autoscaler"]
    assert autoscaler["kind"] == "cluster-autoscaler"
    assert [e for e in autoscaler["events"] if e["kind"] == "scale-up"] == []
    assert autoscaler["node_groups"][0]["n_nodes_added"] == 0
    assert summary["pods"]["n_waiting_for_ip_at_end"] > 0
    assert all(s["exhausted_at_s"] is not None for s in summary["subnets"])
    # the web pods come at 5 min; the first loop after the next sample sees them waiting
    assert 300 <= autoscaler["ip_wait_unseen_s"] <= 370
    assert IP_WAIT_UNSEEN_NOTE in summary["notes"]
    table = run_cnisim("simulate", str(EXAMPLE), "--duration", "10m", cwd=tmp_path)
    assert "cluster-autoscaler (scale-ups and scale-downs)" in table.stdout
    assert f"note: {IP_WAIT_UNSEEN_NOTE}" in table.stdout


def test_the_cli_flag_overrides_the_plan(tmp_path: Path) -> None:
    """--autoscaler none turns the example's autoscaler off; an eksctl ClusterConfig has none
    (eksctl installs none) until the flag asks for it."""
    off = run_cnisim(
        "simulate", str(EXAMPLE), "--autoscaler", "none", "-o", "json", "--duration", "2m",
        cwd=tmp_path,
    )  # fmt: skip
    assert off.returncode == 0, off.stderr
    assert json.loads(off.stdout)["autoscaler"] is None
    eksctl = ROOT / "examples" / "eksctl-t3-large.yaml"
    assert load_plan(eksctl, catalog=CATALOG).autoscaler == Autoscaler()
    on = run_cnisim(
        "simulate", str(eksctl), "--autoscaler", "cluster-autoscaler", "-o", "json",
        "--duration", "2m", cwd=tmp_path,
    )  # fmt: skip
    assert on.returncode == 0, on.stderr
    assert json.loads(on.stdout)["autoscaler"]["kind"] == "cluster-autoscaler"


def test_a_bad_autoscaler_flag_is_one_line(tmp_path: Path) -> None:
    proc = run_cnisim("simulate", str(EXAMPLE), "--autoscaler", "karpenter", cwd=tmp_path)
    assert proc.returncode == 2
    assert_one_line_error(proc.stderr, "--autoscaler", "'karpenter' is not one of")
    assert proc.stdout == ""


GROUP = "nodeGroups: [{name: ng}]\n"


@pytest.mark.parametrize(
    ("field", "fragment"),
    [
        (
            "kind: karpenter",
            "autoscaler.kind: 'karpenter' is not one of none, cluster-autoscaler",
        ),
        (
            "scanInterval: 0s",
            "autoscaler.scanInterval: 0 s is not positive",
        ),
        (
            "scanIntervall: 10s",
            "autoscaler.scanIntervall: unknown field in autoscaler: did you mean scanInterval?",
        ),
        (
            "scaleDownEnabled: 'yes'",
            "autoscaler.scaleDownEnabled: is 'yes': write true or false",
        ),
        (
            "scaleDownUnneededTime: -10m",
            "autoscaler.scaleDownUnneededTime:",
        ),
        (
            "scaleDownUtilizationThreshold: 1.5",
            "autoscaler.scaleDownUtilizationThreshold: 1.5 is outside 0 to 1",
        ),
        (
            "scaleDownUtilizationThreshold: half",
            "autoscaler.scaleDownUtilizationThreshold: is 'half': write a number",
        ),
        (
            "scaleDownDelayAfterAdd: soon",
            "autoscaler.scaleDownDelayAfterAdd:",
        ),
        (
            "maxNodeProvisionTime: -1s",
            "autoscaler.maxNodeProvisionTime:",
        ),
        (
            "expander: priority",
            "autoscaler.expander: 'priority' is not one of least-waste, random",
        ),
        (
            "maxEmptyBulkDelete: 0",
            "autoscaler.maxEmptyBulkDelete: 0 is out of range: use 1 to",
        ),
        (
            "ignoreDaemonsetsUtilization: 1",
            "autoscaler.ignoreDaemonsetsUtilization: is 1: write true or false",
        ),
        (
            "initialNodeGroupBackoffDuration: 0s",
            "autoscaler.initialNodeGroupBackoffDuration: 0 s is not positive",
        ),
        (
            "maxNodeGroupBackoffDuration: 1m",
            "maxNodeGroupBackoffDuration: longest node group backoff 60 s is below the first",
        ),
    ],
)
def test_bad_autoscaler_fields_are_one_line_errors(
    tmp_path: Path, field: str, fragment: str
) -> None:
    path = write(tmp_path, HEAD + GROUP + f"autoscaler: {{{field}}}\n")
    with pytest.raises(PlanError) as info:
        load_plan(path, catalog=CATALOG)
    message = str(info.value)
    assert "\n" not in message and info.value.exit_code == 2
    assert message.startswith(f"{path}:8: "), message
    assert fragment in message, message
    proc = run_cnisim("simulate", str(path), cwd=tmp_path)
    assert proc.returncode == 2
    assert_one_line_error(proc.stderr, fragment.split(":")[0])
