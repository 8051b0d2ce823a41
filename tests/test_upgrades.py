"""Version updates as plan events: the surge rule, the address peak it causes, bad input."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
from clihelp import assert_one_line_error
from typer.testing import CliRunner

from cnisim.catalog import load_catalog
from cnisim.cli import app
from cnisim.errors import PlanError
from cnisim.io import load_plan
from cnisim.report import format_summary, summarize
from cnisim.sim.scenario import simulate
from cnisim.sim.scenario_result import SimulationResult
from cnisim.sim.upgrades import UpgradeSummary, surge_nodes

CATALOG = load_catalog()
runner = CliRunner()

SUBNETS = """\
    apiVersion: cnisim/v1
    kind: Plan
    vpc:
      cidrs: [10.0.0.0/16]
      subnets:
        - {id: subnet-a, az: us-east-1a, cidr: 10.0.0.0/24}
        - {id: subnet-b, az: us-east-1b, cidr: 10.0.1.0/24}
        - {id: subnet-c, az: us-east-1c, cidr: 10.0.2.0/24}
    coreDNS: false
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def run(tmp_path: Path, text: str, engine: str = "reference") -> SimulationResult:
    plan = load_plan(write(tmp_path, text), catalog=CATALOG)
    return simulate(plan, CATALOG, engine=engine)  # type: ignore[arg-type]


def only_upgrade(result: SimulationResult) -> UpgradeSummary:
    (summary,) = result.controllers.values()
    assert isinstance(summary, UpgradeSummary)
    return summary


@pytest.mark.parametrize(
    ("n_zones", "max_unavailable", "expected"),
    # EKS: the larger of twice the zones and maxUnavailable
    [(1, 1, 2), (1, 4, 4), (3, 1, 6), (3, 4, 6), (5, 1, 10), (3, 7, 7)],
)
def test_the_surge_is_the_larger_of_twice_the_zones_and_max_unavailable(
    n_zones: int, max_unavailable: int, expected: int
) -> None:
    assert surge_nodes(n_zones, max_unavailable) == expected


@pytest.mark.parametrize(
    ("subnets", "max_unavailable", "n_surge"),
    [("[subnet-a]", 1, 2), ("[subnet-a]", 4, 4), ("[subnet-a, subnet-b, subnet-c]", 1, 6)],
)
def test_a_group_update_surges_then_replaces_every_old_node(
    tmp_path: Path, subnets: str, max_unavailable: int, n_surge: int
) -> None:
    """3 nodes; the group grows by the surge, every old node is replaced, and the group is back
    at 3 nodes, all launched after the update started, with every web pod running."""
    plan = SUBNETS + textwrap.indent(
        textwrap.dedent(f"""\
        nodeGroups:
          - name: ng
            instanceTypes: [c5.large]
            subnets: {subnets}
            desiredCapacity: 3
            updateConfig: {{maxUnavailable: {max_unavailable}}}
        workloads:
          - {{kind: Deployment, name: web, replicas: 30}}
        events:
          - {{at: 5m, upgrade: nodeGroup/ng}}
        run: {{duration: 30m}}
        """),
        "    ",
    )
    result = run(tmp_path, plan)
    summary = only_upgrade(result)
    assert summary.n_surge_nodes == n_surge
    assert summary.n_replaced_nodes == 3
    assert summary.failure is None and 300 < summary.end_s < 1800
    assert result.n_nodes_by_group.max() == 3 + n_surge
    assert result.n_nodes_by_group[-1, 0] == 3
    alive = np.isnan(result.pod_deleted_s) & (result.pod_node >= 0)
    assert (result.node_launch_s[np.unique(result.pod_node[alive])] > 300).all()
    web = result.pod_workload == result.workload_names.index("web")
    assert (web & alive).sum() == 30
    deleted_s = result.pod_deleted_s[web]
    deleted_s = deleted_s[~np.isnan(deleted_s)]
    assert deleted_s.size >= 30 and (deleted_s >= 300).all()  # the old nodes' pods, recreated


TINY = (
    SUBNETS
    + """\
    nodeGroups:
      - {name: ng, instanceTypes: [c5.large], subnets: [subnet-a], desiredCapacity: 1}
    events:
      - {at: 5m, upgrade: nodeGroup/ng}
      - {at: 20m, upgrade: cluster}
    run: {duration: 40m}
"""
)


@pytest.mark.parametrize("engine", ["reference", "fast"])
def test_the_address_peak_of_an_update_derived_by_hand(tmp_path: Path, engine: str) -> None:
    """One c5.large with no pods holds its primary ENI: its node IP and 9 secondary IPs
    (WARM_ENI_TARGET=1, 10 IPv4 per ENI; `cnisim warmpool c5.large --pods 0`: subnet_ips 10),
    so subnet-a has 251 - 10 = 241 free. The update (1 zone, maxUnavailable 1) surges by 2:
    3 nodes, 30 addresses, 221 free at the least. The cluster update then adds 2 control-plane
    ENIs, one in each of the first two private subnets: 11 used in subnet-a, 1 in subnet-b."""
    result = run(tmp_path, TINY, engine)
    group, cluster = result.controllers.values()
    assert isinstance(group, UpgradeSummary) and isinstance(cluster, UpgradeSummary)
    assert group.subnet_ids == ("subnet-a", "subnet-b", "subnet-c")
    assert group.n_free_ips_before == (241, 251, 251)
    assert group.n_peak_used_ips == (30, 0, 0)
    assert group.n_min_free_ips == (221, 251, 251)
    assert group.ran_out == () and group.n_refused == (0, 0, 0)
    assert cluster.n_peak_used_ips == (11, 1, 0)
    assert cluster.end_s == 1200 + 600  # the default 10 min
    summary = summarize(result)
    assert [row["upgrade"] for row in summary["upgrades"]] == ["nodeGroup/ng", "cluster"]
    text = format_summary(summary)
    assert "upgrades (subnets whose use rose during each)" in text
    # the subnet table samples every minute and can miss the surge's peak; the update's own
    # reading (every tick) does not
    assert summary["subnets"][0]["n_peak_used_ips"] <= 30


def test_an_update_into_a_small_subnet_runs_it_dry(tmp_path: Path) -> None:
    """A /27 (27 usable) holds 2 c5.large of 10 addresses: 7 free. The surge of 2 asks 20:
    the second surge node finds the subnet short, and the report says so."""
    plan = TINY.replace("10.0.0.0/24", "10.0.0.0/27").replace(
        "desiredCapacity: 1", "desiredCapacity: 2"
    )
    plan = plan.replace("      - {at: 20m, upgrade: cluster}\n", "")
    result = run(tmp_path, plan)
    summary = only_upgrade(result)
    assert summary.n_free_ips_before[0] == 7
    assert summary.ran_out == ("subnet-a",)
    assert summary.n_refused[0] > 0 and summary.n_refused[1:] == (0, 0)
    findings = summarize(result)["findings"]
    assert any("ran out of addresses during the update of nodeGroup/ng" in f for f in findings)


def test_a_cluster_update_needs_five_free_addresses_in_each_cluster_subnet(
    tmp_path: Path,
) -> None:
    """A /28 has 11 usable addresses; one c5.large takes 10, leaving 1 < 5: EKS refuses."""
    plan = TINY.replace("10.0.0.0/24", "10.0.0.0/28").replace(
        "      - {at: 5m, upgrade: nodeGroup/ng}\n", ""
    )
    summary = only_upgrade(run(tmp_path, plan))
    assert summary.failure is not None and "subnet-a had 1 free addresses" in summary.failure
    assert summary.n_peak_used_ips == (10, 0, 0)


BAD = [
    ("[{at: 5m, upgrade: nodegroup/ng}]", "write nodeGroup/<name> or cluster"),
    ("[{at: 5m, upgrade: nodeGroup/}]", "write nodeGroup/<name> or cluster"),
    ("[{at: 5m, upgrade: nodeGroup/general}]", "names node group general, which the plan"),
    ("[{at: -5m, upgrade: cluster}]", "events[0].at"),
    ("[{at: 5m, upgrade: cluster, duration: 0s}]", "not positive"),
    ("[{at: 5m}]", "needs 'upgrade'"),
    ("[{upgrade: cluster}]", "needs 'at'"),
    ("[{at: 5m, upgrade: cluster, when: 1h}]", "when"),
    ("{at: 5m, upgrade: cluster}", "events"),
]


@pytest.mark.parametrize(("events", "fragment"), BAD)
def test_bad_events_are_one_line_errors(tmp_path: Path, events: str, fragment: str) -> None:
    text = TINY.split("    events:")[0] + f"    events: {events}\n    run: {{duration: 40m}}\n"
    with pytest.raises(PlanError) as info:
        load_plan(write(tmp_path, text), catalog=CATALOG)
    assert "\n" not in str(info.value) and fragment in str(info.value)
    result = runner.invoke(app, ["simulate", str(tmp_path / "plan.yaml")])
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, fragment)


def test_a_self_managed_group_cannot_be_updated(tmp_path: Path) -> None:
    text = TINY.replace("desiredCapacity: 1}", "desiredCapacity: 1, managed: false}")
    with pytest.raises(PlanError, match="self-managed: EKS updates managed node groups only"):
        load_plan(write(tmp_path, text), catalog=CATALOG)


def test_the_json_report_lists_each_update(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["simulate", str(write(tmp_path, TINY)), "-o", "json", "--engine", "reference"]
    )
    assert result.exit_code == 0, result.stderr
    (group, cluster) = json.loads(result.stdout)["upgrades"]
    assert group["n_surge_nodes"] == 2 and group["subnets"][0]["n_peak_used_ips"] == 30
    assert cluster["failure"] is None and cluster["ran_out"] == []


def test_a_group_maximum_below_its_minimum_is_refused() -> None:
    from cnisim.errors import UsageError
    from cnisim.plan import NodeGroup, Subnet
    from cnisim.sim.nodegroups import AutoScalingGroup

    group = NodeGroup("ng", ("m5.large",), 2, 2, 4, ("subnet-a",))
    asg = AutoScalingGroup(
        group, [Subnet("subnet-a", "us-east-1a", "10.0.0.0/24")], np.random.default_rng(0)
    )
    asg.set_max_size(0.0, 10)
    assert asg.set_desired(0.0, 12).desired == 10  # clamped to the raised maximum
    with pytest.raises(UsageError, match="maxSize 1 of node group 'ng' is below its minSize 2"):
        asg.set_max_size(0.0, 1)


def test_an_update_after_the_end_of_a_shortened_run_is_noted(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["simulate", str(write(tmp_path, TINY)), "--duration", "10m", "--engine", "reference"],
    )
    assert result.exit_code == 0, result.stderr
    assert "note: cluster: the update at 1200 s is after the run's end" in result.stdout
    assert "nodeGroup/ng  0h05m00s" in result.stdout


def test_the_readme_figures_of_the_upgrade_example() -> None:
    """README: six m5.large over three /25s (123 usable each); the surge of 2 x 3 zones adds
    6 nodes; subnet-b goes from 63 free (60 used) to 23 free (100 used) at the peak, where the
    subnet table's minute samples saw 90."""
    example = Path(__file__).parent.parent / "examples" / "upgrade.yaml"
    result = simulate(load_plan(example, catalog=CATALOG), CATALOG, engine="fast")
    group = result.controllers["upgrade nodeGroup/general at 600s"]
    assert isinstance(group, UpgradeSummary)
    assert (group.n_surge_nodes, group.n_replaced_nodes) == (6, 6)
    b = group.subnet_ids.index("subnet-b")
    assert (group.n_free_ips_before[b], group.n_min_free_ips[b], group.n_peak_used_ips[b]) == (
        63,
        23,
        100,
    )
    sampled = {row["id"]: row for row in summarize(result)["subnets"]}["subnet-b"]
    assert sampled["n_usable_ips"] == 123 and sampled["n_peak_used_ips"] == 90
