"""``cnisim simulate`` as a user runs it: the examples, the report formats, --out and bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from clihelp import assert_one_line_error, run_cnisim
from typer.testing import CliRunner

from cnisim.cli import EXIT_EXHAUSTED, app

EXAMPLES = Path(__file__).parent.parent / "examples"
ENGINE = ("--engine", "reference")
runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["simulate", *args])
    return result.exit_code, result.stdout, result.stderr


def summary(*args: str) -> dict:
    code, out, err = run(*args, "-o", "json", *ENGINE)
    assert code == 0, err
    return json.loads(out)


def test_every_example_runs() -> None:
    for path in sorted(EXAMPLES.glob("*.yaml")):
        code, out, err = run(str(path), *ENGINE, "--duration", "10m")
        assert code == 0, (path, err)
        assert "node groups" in out and "subnets" in out, path


def test_the_three_az_example_runs_dry_and_its_fix_does_not() -> None:
    """Under WARM_ENI_TARGET=1 a node with 10 pods holds 30 addresses and a zone of 10 nodes
    asks 300 of a /24's 251; WARM_IP_TARGET=2 needs 14 per node."""
    plan = str(EXAMPLES / "three-az-24.yaml")
    dry = summary(plan)
    assert all(s["exhausted_at_s"] is not None for s in dry["subnets"])
    assert all(s["exhausted_at_s"] >= 300 for s in dry["subnets"])  # the pods start at 5 min
    assert dry["pods"]["n_failed_ip_adds"] > 0
    fixed = summary(plan, "--set", "WARM_IP_TARGET=2")
    assert all(s["exhausted_at_s"] is None for s in fixed["subnets"])
    assert fixed["pods"]["n_waiting_for_ip_at_end"] == 0
    assert all(s["n_peak_used_ips"] <= 150 for s in fixed["subnets"])  # 10 nodes x 14, and slack


def test_fail_on_exhaustion_exits_3_only_when_a_subnet_ran_dry() -> None:
    plan = str(EXAMPLES / "three-az-24.yaml")
    code, out, _ = run(plan, *ENGINE, "--fail-on-exhaustion")
    assert code == EXIT_EXHAUSTED == 3
    assert "ran_out_at" in out  # the summary is still printed
    code, _, _ = run(plan, *ENGINE, "--fail-on-exhaustion", "--set", "WARM_IP_TARGET=2")
    assert code == 0


def test_prefix_delegation_on_a_fragmented_subnet_and_with_a_reservation() -> None:
    """Secondary-IP nodes scatter their addresses over a /23 before the prefix-delegation
    nodes boot: no aligned /28 is left (InsufficientCidrBlocks) though addresses are; a
    prefix reservation keeps /28s for them."""
    fragmented = summary(str(EXAMPLES / "prefix-fragmented.yaml"))
    (subnet,) = fragmented["subnets"]
    assert subnet["prefix_exhausted_at_s"] is not None
    assert subnet["n_min_free_ips"] > 100
    reserved = summary(str(EXAMPLES / "prefix-reserved.yaml"))
    assert reserved["subnets"][0]["prefix_exhausted_at_s"] is None
    # without a /28 the prefix-delegation nodes never get an address: never Ready, no pods
    assert {g["name"]: g for g in fragmented["node_groups"]}["pd"]["pods_per_node_mean"] is None
    assert {g["name"]: g for g in reserved["node_groups"]}["pd"]["pods_per_node_mean"] > 0


def test_json_has_every_field_the_issue_names() -> None:
    out = summary(str(EXAMPLES / "t3-large.yaml"), "--duration", "10m", "--seed", "3")
    assert out["meta"]["seed"] == 3 and out["meta"]["duration_s"] == 600
    assert {"cnisim_version", "plan_sha256", "seed", "cni_version", "duration_s"} <= set(
        out["meta"]
    )
    assert {
        "id", "az", "cidr", "n_usable_ips", "n_peak_used_ips", "n_min_free_ips",
        "n_min_free_prefixes", "exhausted_at_s", "prefix_exhausted_at_s",
    } <= set(out["subnets"][0])  # fmt: skip
    assert {
        "name", "n_nodes_min", "n_nodes_max", "pods_per_node_mean", "memory_mib_per_pod",
        "cpu_millicores_per_pod", "idle_ips_per_node_mean",
    } <= set(out["node_groups"][0])  # fmt: skip
    assert {
        "n_started", "n_unschedulable_max", "ip_wait_p50_s", "ip_wait_p99_s", "ip_wait_max_s",
        "n_failed_ip_adds", "failed_ip_adds_by_reason",
    } <= set(out["pods"])  # fmt: skip
    assert {"calls_per_min_peak", "n_throttled"} <= set(out["ec2"])
    # t3.large, as `cnisim maxpods t3.large` prints it: 35 max pods; allocatable memory
    # 8,192 - (255 + 11 x 35 kube-reserved) - 100 eviction = 7,452 MiB, 212.9 MiB per pod;
    # CPU 2,000 - 70 = 1,930 m, 55.1 m per pod
    (group,) = out["node_groups"]
    assert group["max_pods_per_node"] == 35
    assert group["memory_mib_per_pod"] == pytest.approx(7452 / 35, abs=0.001)
    assert group["cpu_millicores_per_pod"] == pytest.approx(1930 / 35, abs=0.001)


def test_desired_and_duration_override_the_plan() -> None:
    out = summary(str(EXAMPLES / "t3-large.yaml"), "--desired", "ng-t3-large=5", "--duration", "5m")
    assert out["node_groups"][0]["n_nodes_max"] == 5
    assert out["meta"]["duration_s"] == 300


def test_out_writes_series_plots_and_one_self_contained_page(tmp_path: Path) -> None:
    out_dir = tmp_path / "report"
    code, _, err = run(
        str(EXAMPLES / "t3-large.yaml"), *ENGINE, "--duration", "10m", "--out", str(out_dir)
    )
    assert code == 0, err
    names = {p.name for p in out_dir.iterdir()}
    assert {"report.html", "summary.json", "subnets.csv", "nodes.csv", "pod_waits.csv"} <= names
    assert {"subnet_usage.png", "held_vs_assigned.png", "pending_pods.png"} <= names
    assert {"wait_distribution.png", "nodes_per_group.png", "cluster.csv"} <= names
    page = (out_dir / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 5
    assert 'src="http' not in page and "href=" not in page  # nothing fetched from elsewhere
    assert json.loads((out_dir / "summary.json").read_text())["meta"]["duration_s"] == 600
    header = (out_dir / "subnets.csv").read_text().splitlines()[0]
    assert header == "now_s,subnet,n_free_ips,n_free_prefix_blocks"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_out_that_cannot_be_written_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "a-file"
    target.write_text("keep me")
    proc = run_cnisim("simulate", str(EXAMPLES / "t3-large.yaml"), *ENGINE, "--duration", "2m",
                      "--out", str(target / "report"), cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 1
    assert_one_line_error(proc.stderr, "cannot write the report", "writable directory")
    assert target.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_on_stdout_is_one_line(tmp_path: Path) -> None:
    with open("/dev/full", "w") as full:
        import subprocess

        from clihelp import CNISIM

        proc = subprocess.run(
            [str(CNISIM), "simulate", str(EXAMPLES / "t3-large.yaml"), *ENGINE, "--duration", "2m"],
            stdout=full, stderr=subprocess.PIPE, text=True, timeout=120, cwd=tmp_path,
        )  # fmt: skip
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["missing.yaml"], ["missing.yaml"]),
        ([str(EXAMPLES / "t3-large.yaml"), "--desired", "nogroup"], ["--desired", "NAME=VALUE"]),
        ([str(EXAMPLES / "t3-large.yaml"), "--desired", "nope=3"], ["nope"]),
        ([str(EXAMPLES / "t3-large.yaml"), "--desired", "ng-t3-large=x"], ["ng-t3-large"]),
        ([str(EXAMPLES / "t3-large.yaml"), "--duration", "soon"], ["soon"]),
        ([str(EXAMPLES / "t3-large.yaml"), "--set", "WARM_IP_TARGET"], ["NAME=VALUE"]),
        ([str(EXAMPLES / "t3-large.yaml"), "--set", "NOT_A_VAR=1"], ["NOT_A_VAR"]),
        ([str(EXAMPLES / "t3-large.yaml"), "--seed", "-1"], ["seed"]),
    ],
)
def test_bad_input_is_one_line(args: list[str], fragments: list[str], tmp_path: Path) -> None:
    proc = run_cnisim("simulate", *args, *ENGINE, cwd=tmp_path)
    assert proc.returncode in (1, 2), proc.stderr
    assert_one_line_error(proc.stderr, *fragments)
    assert proc.stdout == ""


def test_workload_files_add_to_the_plan(tmp_path: Path) -> None:
    """An eksctl ClusterConfig has no workloads: --workload brings them (repeatable)."""
    web = tmp_path / "web.yaml"
    web.write_text("workloads:\n  - {kind: Deployment, name: web, replicas: 20}\n")
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(
        "workloads:\n  - kind: JobStream\n    name: batch\n    arrivalsPerMinute: 6\n"
        "    lifetime: {distribution: fixed, mean: 60s}\n"
    )
    base = summary(str(EXAMPLES / "eksctl-t3-large.yaml"), "--duration", "10m")
    more = summary(
        str(EXAMPLES / "eksctl-t3-large.yaml"), "--duration", "10m",
        "--workload", str(web), "--workload", str(jobs),
    )  # fmt: skip
    # 20 web pods and about 6 x 10 Jobs more than CoreDNS and the DaemonSets alone
    assert more["pods"]["n_created"] - base["pods"]["n_created"] > 20 + 40
    assert more["pods"]["n_started"] > base["pods"]["n_started"] + 20


@pytest.mark.parametrize("where", ["plan", "--workload", "--out"])
def test_a_nul_byte_in_a_path_is_one_line(where: str) -> None:
    """(A NUL cannot reach a real process's argv; typer's own Path type tracebacks on it.)"""
    args = {
        "plan": ["\x00"],
        "--workload": [str(EXAMPLES / "t3-large.yaml"), "--workload", "\x00"],
        "--out": [str(EXAMPLES / "t3-large.yaml"), "--out", "\x00"],
    }[where]
    code, out, err = run(*args, *ENGINE)
    assert code == 2 and out == ""
    assert_one_line_error(err, "is not a file name")


def test_findings_say_in_words_what_went_wrong() -> None:
    dry = summary(str(EXAMPLES / "three-az-24.yaml"))
    assert [f for f in dry["findings"] if "ran out of addresses at 0h05m14s" in f] == [
        f"subnet subnet-{z} ran out of addresses at 0h05m14s (InsufficientFreeAddressesInSubnet)"
        for z in "abc"
    ]
    fragmented = summary(str(EXAMPLES / "prefix-fragmented.yaml"))
    assert (
        "3 nodes of group pd never became Ready: ipamd got no address for them"
        in (fragmented["findings"])
    )
    assert any("no aligned /28 left" in f for f in fragmented["findings"])
    assert summary(str(EXAMPLES / "prefix-reserved.yaml"))["findings"] == []
    cpu_bound = summary(str(EXAMPLES / "t3-large.yaml"))
    assert cpu_bound["findings"] == [
        "11 pods were still Pending at the end: 0/3 nodes are available: 3 Insufficient cpu."
    ]
    code, out, _ = run(str(EXAMPLES / "t3-large.yaml"), *ENGINE)
    assert code == 0 and "finding: 11 pods were still Pending at the end" in out


def test_an_alb_and_fargate_pods_tip_the_shared_node_subnets_over() -> None:
    """Each /25 has 128 - 5 = 123 usable addresses. Besides the two nodes of its zone it holds a
    control-plane ENI (1), the web Service's ALB (8) and the shared ALB (8): 17; the 160 batch
    pods on Fargate take one address each, spread over both subnets, until none are left. At
    20 min the shared ALB asks for 40 per subnet, 32 more, and cannot grow."""
    out = summary(str(EXAMPLES / "alb-fargate-shared-subnets.yaml"))
    assert all(s["n_min_free_ips"] == 0 and s["exhausted_at_s"] is not None for s in out["subnets"])
    by_subnet: dict[str, int] = {}
    for row in out["holders"]:
        by_subnet[row["subnet"]] = by_subnet.get(row["subnet"], 0) + row["n_ips_at_end"]
        if row["kind"] != "fargate":
            assert row["n_ips_at_end"] == {"eks-control-plane": 1, "alb": 8}[row["kind"]]
    for subnet in out["subnets"]:
        # what the holders hold is in the subnet's own count, next to the nodes' addresses
        assert 17 < by_subnet[subnet["id"]] < subnet["n_peak_used_ips"] == 123
    (batch,) = out["fargate"]
    fargate_ips = sum(r["n_ips_at_end"] for r in out["holders"] if r["kind"] == "fargate")
    assert batch["n_pods"] == 160 and batch["n_started"] == fargate_ips
    assert batch["n_pending_at_end"] == 160 - fargate_ips > 0
    assert [(f["name"], f["at_s"], f["error"]) for f in out["holder_failures"]] == [
        ("shared-ingress", 1200.0, "InsufficientFreeAddressesInSubnet")
    ] * 2
    assert any(
        f.startswith("Fargate profile batch: pods found no free address") for f in out["findings"]
    )
    assert any("could not grow to 40 addresses" in f for f in out["findings"])
