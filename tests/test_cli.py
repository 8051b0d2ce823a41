"""``cnisim maxpods``, ``describe`` and ``warmpool`` as a user runs them.

Published numbers carry their source. The CLI is driven through typer's CliRunner, and a few
cases through the installed console script as a real subprocess.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from clihelp import assert_one_line_error, run_cnisim
from typer.testing import CliRunner

from cnisim.catalog import load_catalog
from cnisim.cli import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


# EKS user guide (choosing-instance-type) and the amazon-eks-ami calculator tests
# (templates/test/cases/max-pods-cni-*.sh before b22890309): what max-pods-calculator.sh prints.
CALCULATOR_CASES = [
    (["t3.large"], "35"),  # the mission statement's number
    (["c5.large"], "29"),
    (["m5.large"], "29"),
    (["m5.large", "--cni-custom-networking-enabled"], "20"),
    (["m5.large", "--cni-prefix-delegation-enabled"], "110"),
    (["m5.8xlarge", "--cni-version", "1.11.2"], "234"),
    (["m5.8xlarge", "--cni-version", "1.11.2", "--cni-prefix-delegation-enabled"], "250"),
    (["c6in.32xlarge", "--cni-version", "1.18.0", "--show-max-allowed"], "394"),
    (["m4.xlarge", "--cni-version", "1.7.5"], "58"),
    (["t3.nano"], "4"),
    # docs/max-pods.md worked table: the calculator caps the classic value.
    (["m5.4xlarge"], "110"),
    (["m5.4xlarge", "--show-max-allowed"], "234"),
    (["m5.24xlarge"], "250"),
    (["p5.48xlarge"], "100"),
    # karpenter-provider-aws #6102: the calculator gives 98 on c7g.medium with PD.
    (["c7g.medium", "--cni-prefix-delegation-enabled"], "98"),
]


@pytest.mark.parametrize(("args", "expected"), CALCULATOR_CASES)
def test_maxpods_prints_what_the_calculator_prints(args: list[str], expected: str) -> None:
    code, stdout, stderr = run("maxpods", *args)
    assert (code, stdout, stderr) == (0, expected + "\n", "")


def test_max_eni_and_override() -> None:
    # MAX_ENI=2 on m5.large: 2 x (10 - 1) + 2 = 20.
    assert run("maxpods", "m5.large", "--cni-max-eni", "2")[1] == "20\n"
    assert run("maxpods", "m5.large", "--max-pods", "17")[1] == "17\n"


def test_security_groups_for_pods_takes_a_slot_and_ipv6_is_policy() -> None:
    # The trunk ENI takes one of m5.large's 3 slots: 2 x 9 + 2 = 20 non-branch pods.
    assert run("maxpods", "m5.large", "--security-groups-for-pods")[1] == "20\n"
    # IPv6: a /80 per ENI, the managed-node-group value is the 110 cap.
    assert run("maxpods", "m5.large", "--ipv6")[1] == "110\n"


def test_several_types_give_a_table_and_json_a_list() -> None:
    code, stdout, _ = run("maxpods", "t3.large", "c5.large")
    assert code == 0
    header, *rows = stdout.splitlines()
    assert header.split()[0] == "type" and "max_pods" in header.split()
    column = header.split().index("max_pods")
    assert {r.split()[0]: r.split()[column] for r in rows} == {"t3.large": "35", "c5.large": "29"}

    code, stdout, _ = run("maxpods", "t3.large", "c5.large", "-o", "json")
    records = json.loads(stdout)
    assert [(r["instance_type"], r["max_pods"]) for r in records] == [
        ("t3.large", 35),
        ("c5.large", 29),
    ]
    # m5.large-like reservation numbers for t3.large: 11 x 35 + 255 = 640 MiB, 70 m.
    assert records[0]["kube_reserved_memory_mib"] == 640
    assert records[0]["kube_reserved_cpu_millicores"] == 70


def test_json_follows_the_flags() -> None:
    stdout = run("maxpods", "m5.large", "--cni-prefix-delegation-enabled", "-o", "json")[1]
    (record,) = json.loads(stdout)
    assert (record["max_pods"], record["max_pods_uncapped"], record["prefix_delegation"]) == (
        110,
        434,  # 3 x (10 - 1) x 16 + 2
        True,
    )


def test_all_with_filters_matches_the_catalog() -> None:
    cat = load_catalog()
    code, stdout, _ = run(
        "maxpods", "--all", "--family", "m7g,c7g", "--min-vcpus", "4", "--max-memory-gib", "32",
        "-o", "csv",
    )  # fmt: skip
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(stdout)))
    expected = (
        np.isin(cat["family"], ["m7g", "c7g"]) & (cat["vcpus"] >= 4) & (cat["memory_mib"] <= 32768)
    )
    assert sorted(r["instance_type"] for r in rows) == sorted(cat.instance_types[expected])
    assert all(int(r["vcpus"]) >= 4 for r in rows)
    arm = json.loads(run("maxpods", "--all", "--arch", "arm64", "-o", "json")[1])
    assert len(arm) == int((cat["arch"] == "arm64").sum())


def test_pod_profile_says_how_many_fit_and_what_binds() -> None:
    # m5.large: allocatable 8192 - 574 - 100 = 7518 MiB and 2000 - 70 = 1930 m.
    stdout = run("maxpods", "m5.large", "--pod-cpu", "250m", "--pod-memory", "512Mi", "-o", "json")
    (record,) = json.loads(stdout[1])
    assert (record["pods_fit"], record["binding_resource"]) == (7, "cpu")  # 1930 // 250
    stdout = run("maxpods", "m5.large", "--pod-cpu", "10m", "--pod-memory", "1Gi", "-o", "json")
    (record,) = json.loads(stdout[1])
    assert (record["pods_fit"], record["binding_resource"]) == (7, "memory")  # 7518 // 1024
    stdout = run("maxpods", "m5.large", "--pod-cpu", "10m", "--pod-memory", "64Mi", "-o", "json")
    (record,) = json.loads(stdout[1])
    assert (record["pods_fit"], record["binding_resource"]) == (29, "pods")


def test_unknown_type_names_the_closest() -> None:
    code, stdout, stderr = run("maxpods", "t3.larg")
    assert code == 2 and stdout == ""
    assert_one_line_error(stderr, "t3.larg", "t3.large")


def test_prefix_delegation_on_xen_falls_back_with_a_warning() -> None:
    # t2.large (Xen): the CNI ignores ENABLE_PREFIX_DELEGATION: 3 x (12 - 1) + 2 = 35.
    code, stdout, stderr = run("maxpods", "t2.large", "--cni-prefix-delegation-enabled")
    assert (code, stdout) == (0, "35\n")
    assert "warning" in stderr and "t2.large" in stderr and "secondary IPs" in stderr


def test_bare_metal_prefix_delegation_rules() -> None:
    # The calculator has no hypervisor value on metal, so secondary IPs (capped 250); the
    # CNI >= 1.10.3 does use prefixes on metal: 15 x 49 x 16 + 2 = 11762 uncapped.
    code, stdout, stderr = run("maxpods", "m5.metal", "--cni-prefix-delegation-enabled")
    assert (code, stdout) == (0, "250\n")
    assert "bare metal" in stderr
    args = ["m5.metal", "--cni-prefix-delegation-enabled", "--show-max-allowed"]
    code, stdout, stderr = run("maxpods", *args, "--prefix-delegation-rule", "cni")
    assert (code, stdout, stderr) == (0, "11762\n", "")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["m5.large", "--ipv6", "--cni-custom-networking-enabled"], ["IPv6", "custom"]),
        (["m5.large", "--pod-cpu", "lots"], ["lots", "250m"]),
        (["m5.large", "--pod-memory", "5Qi"], ["Qi"]),
        (["m5.large", "--cni-version", "latest"], ["latest"]),
        (["m5.large", "--reservation-basis", "al2"], ["al2", "nodeadm"]),
        (["--all", "--family", "nosuch"], ["no instance type matches"]),
        (["m5.large", "--all"], ["not both"]),
        ([], ["--all"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], fragments: list[str]) -> None:
    code, stdout, stderr = run("maxpods", *args)
    assert code == 2 and stdout == ""
    assert_one_line_error(stderr, *fragments)


def test_missing_snapshot_names_the_file_and_the_fix(tmp_path: Path) -> None:
    code, stdout, stderr = run("maxpods", "t3.large", "--catalog", str(tmp_path))
    assert code == 1 and stdout == ""
    assert_one_line_error(stderr, str(tmp_path), "cnisim catalog refresh")


def test_describe_shows_every_mode_and_tool() -> None:
    code, stdout, _ = run("describe", "m5.large", "-o", "json")
    assert code == 0
    (info,) = json.loads(stdout)
    assert all(not isinstance(v, dict | list) and k == k.lower() for k, v in info.items())
    assert info["mode_secondary_ips_max_pods_uncapped"] == 29
    assert info["mode_custom_networking_max_pods_uncapped"] == 20
    assert info["mode_prefix_delegation_max_pods_uncapped"] == 434
    assert info["mode_prefix_delegation_max_pods_capped"] == 110
    # mikestef9, containers-roadmap #138: custom networking + PD = 2 ENIs x 9 x 16 (+2).
    assert info["mode_custom_networking_prefix_delegation_max_pods_uncapped"] == 290
    assert info["branch_eni_pods"] == 9  # vpc-cni README: m5.large 9 branch ENIs
    assert info["kube_reserved_memory_mib"] == 574  # docs/max-pods.md worked example
    assert info["kube_reserved_cpu_millicores"] == 70
    tools = {k for k in info if k.startswith("tool_")}
    assert tools >= {f"tool_{t}_max_pods" for t in ("calculator", "nodeadm", "karpenter")}
    assert info["tool_kubelet_default_max_pods"] == 110

    text = run("describe", "m5.large")[1]
    assert "max pods with these settings: 29" in text
    assert "kube-reserved memory 574 MiB, cpu 70 m" in text


def test_describe_csv_has_the_json_columns() -> None:
    (info,) = json.loads(run("describe", "m5.large", "-o", "json")[1])
    code, stdout, _ = run("describe", "m5.large", "-o", "csv")
    (row,) = csv.DictReader(io.StringIO(stdout))
    assert code == 0 and list(row) == list(info)
    assert row["max_pods"] == "29" and row["mode_prefix_delegation_max_pods_capped"] == "110"


def test_describe_multi_card_type() -> None:
    # p5.48xlarge: 2 ENIs on card 0 of 64 -> 100 (amazon-eks-ami #1392).
    (info,) = json.loads(run("describe", "p5.48xlarge", "-o", "json")[1])
    assert info["max_pods"] == 100
    assert info["mode_all_network_cards_max_pods_uncapped"] == 3138


def test_describe_old_cni_refuses_ipv6_row_but_answers() -> None:
    (info,) = json.loads(run("describe", "m5.large", "--cni-version", "1.9.0", "-o", "json")[1])
    assert info["mode_ipv6_refused"]
    assert info["max_pods"] == 29


# aws/amazon-vpc-cni-k8s docs/eni-and-ip-target.md (t3.small: 3 ENIs x 4 IPv4).
WARM_IP_1_1 = ["--set", "WARM_IP_TARGET=1", "--set", "MINIMUM_IP_TARGET=1"]
WARM_IP_2_5 = ["--set", "WARM_IP_TARGET=2", "--set", "MINIMUM_IP_TARGET=5"]
WARM_POOL_CASES = [
    ([], [(0, 1, 3), (5, 3, 9), (9, 3, 9)]),
    (WARM_IP_1_1, [(0, 1, 1), (5, 2, 6), (9, 3, 9)]),
    (WARM_IP_2_5, [(0, 2, 5), (5, 3, 7), (9, 3, 9)]),
]


@pytest.mark.parametrize(("settings", "expected"), WARM_POOL_CASES)
def test_warmpool_reproduces_the_cni_docs(
    settings: list[str], expected: list[tuple[int, int, int]]
) -> None:
    code, stdout, _ = run("warmpool", "t3.small", "--pods", "0,5,9", *settings, "-o", "json")
    assert code == 0
    rows = json.loads(stdout)
    assert [(r["pods_needing_ip"], r["enis"], r["ips_held"]) for r in rows] == expected
    for r in rows:
        assert r["ips_free"] == r["ips_held"] - r["ips_assigned"]
        assert r["subnet_ips"] == r["ips_held"] + r["enis"]  # each ENI's primary IP too


def test_warmpool_prefix_delegation_table() -> None:
    # docs/prefix-and-ip-target.md, t3.small, WARM_PREFIX_TARGET=1: pods -> prefixes / free IPs.
    args = ["t3.small", "--set", "ENABLE_PREFIX_DELEGATION=true", "--pods", "0,5,16,17"]
    rows = json.loads(run("warmpool", *args, "-o", "json")[1])
    assert [(r["prefixes"], r["ips_free"]) for r in rows] == [(1, 16), (2, 27), (2, 16), (3, 31)]


def test_warmpool_churn_timeline_shows_cooldown() -> None:
    code, stdout, _ = run("warmpool", "m5.large", "--churn", "20", "--every", "10", "-o", "json")
    assert code == 0
    rows = json.loads(stdout)
    assert [r["now_s"] for r in rows] == list(range(0, 301, 10))
    # All 20 pods leave at 130 s: their IPs cool down for 30 s and still count as held, but
    # not as free now: the 20 new pods at 140 s find only the 7 out of cooldown.
    at_130 = next(r for r in rows if r["now_s"] == 130)
    assert at_130["ips_assigned"] == 0 and at_130["ips_cooling"] == 20
    assert at_130["ips_free_now"] == at_130["ips_held"] - 20 == 7
    at_150 = next(r for r in rows if r["now_s"] == 150)
    assert (at_150["ips_assigned"], at_150["pods_waiting"], at_150["ips_free_now"]) == (7, 13, 0)
    for r in rows:
        assert r["ips_free_now"] + r["ips_cooling"] + r["ips_assigned"] == r["ips_held"]


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["t3.small", "--set", "WARM_IP_TARGT=3"], ["WARM_IP_TARGT", "WARM_IP_TARGET"]),
        (["t3.small", "--set", "WARM_IP_TARGET"], ["NAME=VALUE"]),
        (["t3.small", "--pods", "a,b"], ["--pods"]),
        (["t3.small", "--pods", "-1"], ["--pods"]),
        (["t3.smal"], ["t3.small"]),
        (["t3.small", "-o", "plain"], ["plain"]),
        (["t3.small", "--churn", "5", "--pods", "5"], ["--churn", "--pods"]),
        (["t3.small", "--every", "5"], ["--every", "--churn"]),
        (["t3.small", "--seed", "-1"], ["--seed"]),
        (["t3.small", "--max-pods", "9" * 30], ["--max-pods", "out of range"]),
        (
            ["t3.small", "--set", "ENABLE_IPv6=true", "--set", "ENABLE_IPv4=false",
             "--set", "ENABLE_PREFIX_DELEGATION=true",
             "--set", "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG=true"],
            ["custom"],
        ),
    ],
)  # fmt: skip
def test_warmpool_bad_input(args: list[str], fragments: list[str]) -> None:
    code, stdout, stderr = run("warmpool", *args)
    assert code == 2 and stdout == ""
    assert_one_line_error(stderr, *fragments)


def test_warmpool_coerced_setting_warns() -> None:
    # ipamd getWarmENITarget: a negative WARM_ENI_TARGET gives 1, with the default pool.
    code, stdout, stderr = run("warmpool", "t3.small", "--set", "WARM_ENI_TARGET=-4", "-o", "json")
    assert code == 0 and "WARM_ENI_TARGET" in stderr
    assert [r["enis"] for r in json.loads(stdout)] == [1, 3, 3]


def test_security_groups_for_pods_get_one_answer_on_types_that_do_not_trunk() -> None:
    # Karpenter vpclimits: no t-family type is trunking-compatible, so ENABLE_POD_ENI takes no
    # trunk slot (ipamd.go hasRoomForEni, awsutils.go IsTrunkingCompatible): t3.large keeps 35.
    code, stdout, stderr = run("maxpods", "t3.large", "--security-groups-for-pods")
    assert (code, stdout) == (0, "35\n") and "not trunking-compatible" in stderr
    code, stdout, stderr = run("describe", "t3.large", "--security-groups-for-pods", "-o", "json")
    assert code == 0 and "not trunking-compatible" in stderr
    assert json.loads(stdout)[0]["max_pods"] == 35
    sgp = ["--set", "ENABLE_POD_ENI=true", "--pods", "33", "-o", "json"]
    code, stdout, stderr = run("warmpool", "t3.large", *sgp)
    assert code == 0 and "not trunking-compatible" in stderr
    (row,) = json.loads(stdout)
    assert (row["ips_assigned"], row["failed_pods"], row["enis"]) == (33, 0, 3)


def test_max_eni_1_gives_one_answer() -> None:
    # MAX_ENI=1 on t3.large: 1 x (12 - 1) + 2 = 13 max pods, 11 of them with an address, all
    # of which the primary ENI holds.
    assert run("maxpods", "t3.large", "--cni-max-eni", "1")[1] == "13\n"
    one_eni = ["--set", "MAX_ENI=1", "--pods", "11", "-o", "json"]
    code, stdout, _ = run("warmpool", "t3.large", *one_eni)
    (row,) = json.loads(stdout)
    assert code == 0 and (row["ips_assigned"], row["failed_pods"], row["enis"]) == (11, 0, 1)


def test_warmpool_at_max_pods_counts_only_pods_that_need_an_address() -> None:
    # t3.large: max pods 35 includes aws-node and kube-proxy on the host network: 33 pods
    # take an address, all get one; asking for 35 warns and shows 33.
    code, stdout, stderr = run("warmpool", "t3.large", "--pods", "33,35", "-o", "json")
    assert code == 0 and "33 pods with an address" in stderr
    assert [(r["pods_needing_ip"], r["failed_pods"]) for r in json.loads(stdout)] == [
        (33, 0),
        (33, 0),
    ]


def test_installed_command_answers_from_any_directory(tmp_path: Path) -> None:
    done = run_cnisim("maxpods", "t3.large", cwd=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "35\n", "")
    done = run_cnisim("maxpods", "t3.larg", cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert_one_line_error(done.stderr, "t3.large")
    done = run_cnisim("warmpool", "t3.small", "--pods", "5", "-o", "csv", cwd=tmp_path)
    assert done.returncode == 0
    (row,) = csv.DictReader(io.StringIO(done.stdout))
    assert (row["enis"], row["ips_held"]) == ("3", "9")


def test_quick_answer_imports_no_pandas_boto3_or_matplotlib(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from cnisim.cli import main\n"
        "sys.argv = ['cnisim', 'maxpods', 't3.large']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('pandas', 'boto3', 'botocore', 'matplotlib')\n"
        "print('heavy', sorted(m for m in heavy if m in sys.modules))\n"
    )  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.splitlines() == ["35", "heavy []"], done.stderr


def test_all_sorts_by_family_then_size() -> None:
    # Issue 7: c7g.12xlarge sorted before c7g.2xlarge by name.
    code, stdout, _ = run("maxpods", "--all", "--family", "c7g", "-o", "json")
    names = [r["instance_type"] for r in json.loads(stdout)]
    assert code == 0
    assert names.index("c7g.2xlarge") < names.index("c7g.12xlarge") < names.index("c7g.16xlarge")
    assert names[0] == "c7g.medium"
    families = [r["instance_type"] for r in json.loads(run("maxpods", "--all", "-o", "json")[1])]
    assert [n.split(".")[0] for n in families] == sorted(n.split(".")[0] for n in families)


def test_a_pod_profile_for_one_type_prints_the_table() -> None:
    # Issue 7: the profile was dropped and the bare integer printed.
    code, stdout, _ = run("maxpods", "m5.large", "--pod-cpu", "250m", "--pod-memory", "512Mi")
    header, row = stdout.splitlines()
    assert code == 0 and "fit" in header.split() and "binds" in header.split()
    assert row.split()[header.split().index("fit")] == "7"  # README example: cpu binds at 7
    code, stdout, stderr = run("maxpods", "m5.large", "--pod-cpu", "250m", "-o", "plain")
    assert (code, stdout) == (0, "29\n") and "pod profile" in stderr


def test_table_headers_are_explained_in_help() -> None:
    text = run("maxpods", "--help")[1]
    for header in ("rsv_m", "alloc_m", "fit", "binds", "cap", "pd"):
        assert f"{header} =" in " ".join(text.split())


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        # Nitro type, CNI older than 1.9.0: the version is the reason, not the hypervisor.
        (["m5.large", "--cni-prefix-delegation-enabled", "--cni-version", "1.8.0"], "1.8.0"),
        (["m4.large", "--cni-prefix-delegation-enabled"], "needs a Nitro instance"),
    ],
)
def test_prefix_delegation_fallback_names_the_real_cause(args: list[str], fragment: str) -> None:
    code, stdout, stderr = run("maxpods", *args)
    assert code == 0 and stdout in ("29\n", "20\n")
    (line,) = stderr.splitlines()
    assert fragment in line
    if "1.8.0" in args:
        assert "Nitro instance" not in line


@pytest.mark.parametrize(
    "args",
    [
        ["maxpods", "t3.large", "--max-pods", str(2**63)],
        ["maxpods", "t3.large", "--cni-max-eni", "9" * 30],
        ["maxpods", "t3.large", "--cni-max-eni", "0"],
        ["maxpods", "t3.large", "--vm-overhead", "nan"],
        ["maxpods", "t3.large", "--vm-overhead", "inf"],
        ["maxpods", "t3.large", "--pod-memory", "9" * 30 + "Ei"],
        ["maxpods", "--all", "--min-vcpus", str(2**64)],
        ["maxpods", "--all", "--max-memory-gib", "-inf"],
        ["describe", "m5.large", "--max-pods", "-1"],
        ["warmpool", "t3.small", "--seed", "-1"],
        ["warmpool", "t3.small", "--pods", f"1,{2**63}"],
        ["warmpool", "t3.small", "--churn", "0"],
        ["warmpool", "t3.small", "--max-pods", "2001"],
        ["maxpods", "t3.large", "--catalog", ""],
        ["maxpods", "t3.large", "--bogus"],
    ],
)
def test_numbers_out_of_range_are_one_usage_line(args: list[str]) -> None:
    code, stdout, stderr = run(*args)
    assert code == 2 and stdout == ""
    assert_one_line_error(stderr)


def test_options_that_change_nothing_say_so() -> None:
    code, stdout, stderr = run("maxpods", "m5.large", "--max-pods", "50", "--show-max-allowed")
    assert (code, stdout) == (0, "50\n") and "--show-max-allowed is ignored" in stderr
    code, stdout, stderr = run("maxpods", "m5.metal", "--prefix-delegation-rule", "cni")
    assert code == 0 and "nothing without --cni-prefix-delegation-enabled" in stderr


def test_warmpool_json_is_flat() -> None:
    rows = json.loads(run("warmpool", "t3.large", "--pods", "0,15", "-o", "json")[1])
    assert all(isinstance(v, int | str) for row in rows for v in row.values())
    assert rows[1]["ips_per_eni"] == "11/11/11"


def stderr_on_a_terminal(*args: str) -> tuple[int, str, str]:
    """Run the installed cnisim with stderr on a pseudo-terminal and stdout on a pipe."""
    import os
    import pty

    from clihelp import CNISIM

    master, slave = pty.openpty()
    done = subprocess.run(
        [str(CNISIM), *args], stdout=subprocess.PIPE, stderr=slave, text=True, timeout=120
    )
    os.close(slave)
    seen = b""
    try:
        while chunk := os.read(master, 65536):
            seen += chunk
    except OSError:  # EIO once the terminal's last writer is gone
        pass
    os.close(master)
    return done.returncode, done.stdout, seen.decode(errors="replace")


def test_progress_and_legend_on_a_terminal_only() -> None:
    code, stdout, terminal = stderr_on_a_terminal("warmpool", "t3.large", "--pods", "5")
    assert code == 0 and "simulating" in terminal
    assert stdout.splitlines()[0].split()[0] == "pods_needing_ip"  # stdout stays clean
    code, stdout, terminal = stderr_on_a_terminal("maxpods", "t3.large", "m5.large")
    assert code == 0 and "rsv_m = kube-reserved CPU [millicores]" in terminal
    # Piped (CliRunner): neither.
    assert run("warmpool", "t3.large", "--pods", "5")[2] == ""
    assert run("maxpods", "t3.large", "m5.large")[2] == ""


def test_warmpool_help_offers_only_what_it_has() -> None:
    text = " ".join(run("warmpool", "--help")[1].split())
    assert "--reservation-basis" not in text and "plain" not in text
    assert "table (default), json (a list of objects) or csv" in text
