"""The notebooks in notebooks/ run from top to bottom against the installed library."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_code_cells_run(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(path.parent)  # as Jupyter runs a notebook: in its own folder
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    notebook = json.loads(path.read_text())
    namespace: dict[str, object] = {"__name__": "__notebook__"}
    cells = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert cells, f"{path.name} has no code"
    for index, cell in enumerate(cells):
        source = "".join(cell["source"])
        exec(compile(source, f"{path.name}[{index}]", "exec"), namespace)
    drawn = [plt.figure(number) for number in plt.get_fignums()]
    plt.close("all")
    assert drawn and all(figure.axes for figure in drawn), f"{path.name} draws no plot"
    CHECKS[path.name](namespace)


def _check_choosing_an_instance_type(namespace: dict[str, object]) -> None:
    import pandas as pd

    max_pods = namespace["max_pods"]
    assert isinstance(max_pods, pd.DataFrame)
    # aws/amazon-vpc-cni-k8s misc/eni-max-pods.txt (tests/data/eni-max-pods.tsv).
    published = {"t3.medium": 17, "t3.large": 35, "c5.large": 29, "m5.large": 29, "m5.xlarge": 58}
    assert max_pods.loc[list(published), "secondary IPs"].to_dict() == published
    # Custom networking drops the primary ENI: 2 x 9 + 2 = 20; prefix delegation 3 x 9 x 16 + 2
    # = 434, capped at 110 (EKS user guide, max-pods-calculator.sh).
    assert max_pods.loc["m5.large"].to_dict() == {
        "secondary IPs": 29,
        "custom networking": 20,
        "prefix delegation": 110,
        "prefix delegation, uncapped": 434,
    }
    # More than 30 vCPUs: the 250 cap (m5.24xlarge has 96).
    assert max_pods.loc["m5.24xlarge", "prefix delegation"] == 250
    # m5.large allocatable 7518 MiB and 1930 m (docs/max-pods.md: 8192 - 574 - 100 MiB,
    # 2000 - 70 m) over 29 pods.
    fits = namespace["fits"]
    assert isinstance(fits, dict)
    m5_large = fits["secondary IPs"].loc["m5.large"]
    assert (m5_large.allocatable_memory_mib, m5_large.allocatable_cpu_millicores) == (7518, 1930)
    assert (m5_large.pods_fit, m5_large.binding_resource) == (29, "pods")
    assert (fits["prefix delegation"].loc["m5.large", "pods_fit"]) == 38  # 1930 m // 50 m
    # ipamd at 15 pods, WARM_ENI_TARGET=1: three ENIs of 10 addresses (cnisim warmpool).
    warm = namespace["warm"]
    assert isinstance(warm, pd.DataFrame)
    assert warm.loc[15, "defaults (WARM_ENI_TARGET=1)"] == 30


def _check_sizing_subnets(namespace: dict[str, object]) -> None:
    import pandas as pd

    sweep = namespace["sweep"]
    assert isinstance(sweep, pd.DataFrame)
    # Amazon VPC User Guide, "Subnet CIDR blocks": AWS keeps 5 addresses of every subnet.
    usable = sweep.drop_duplicates("prefix").set_index("prefix").usable_ips_per_subnet
    assert usable.to_dict() == {"/26": 59, "/25": 123, "/24": 251, "/23": 507, "/22": 1019}
    # A full subnet never shows more in use than it has; a roomy one never runs out.
    assert (sweep.peak_used_per_subnet <= sweep.usable_ips_per_subnet).all()
    assert sweep[sweep.prefix == "/22"].first_ran_out_at_min.isna().all()
    # WARM_ENI_TARGET=1: 13 pods on m5.large need 2 ENIs of 9, plus one warm: 3 x 10 addresses
    # (DescribeInstanceTypes: 3 ENIs, 10 IPv4 each), 10 nodes a zone: 300 > a /24's 251.
    surge = namespace["surge"]
    assert isinstance(surge, pd.DataFrame)
    default = surge.set_index("setting").loc["WARM_ENI_TARGET=1 (default)"]
    assert (default.ips_per_surge_node, default.peak_per_subnet) == (30, 300)
    assert namespace["smallest"] == {
        "WARM_ENI_TARGET=1 (default)": "/23",
        "WARM_IP_TARGET=2, MINIMUM_IP_TARGET=8": "/24",
    }
    # EKS user guide, managed node update behavior: max(2 x 3 AZs, maxUnavailable 1) new nodes.
    assert namespace["surge_nodes"] == 6
    # examples/prefix-fragmented.yaml: addresses free, no aligned /28 (InsufficientCidrBlocks).
    table = namespace["prefix_table"]
    assert isinstance(table, pd.DataFrame)
    assert table.loc["prefix-fragmented", "least free addresses"] > 0
    assert table.loc["prefix-fragmented", "least free aligned /28s"] == 0
    assert table.loc["prefix-reserved", "least free aligned /28s"] > 0


def _check_tuning_the_warm_pool(namespace: dict[str, object]) -> None:
    import pandas as pd

    frame = namespace["frame"]
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == 12  # cnisim recommend's default grid
    idle = frame.idle_ips_per_node_mean
    # An m5.large ENI has 10 IPv4 addresses (DescribeInstanceTypes): WARM_ENI_TARGET=1 keeps a
    # whole ENI's 9 secondaries free on every node, WARM_IP_TARGET=10 ten addresses and
    # WARM_PREFIX_TARGET=1 one /28 (16); ipamd never holds fewer while a node is below its cap.
    assert idle["WARM_ENI_TARGET=1"] >= 9
    assert idle["WARM_IP_TARGET=10, MINIMUM_IP_TARGET=0"] >= 10
    assert idle["prefixes, WARM_PREFIX_TARGET=1"] >= 16
    # The pick (cnisim.recommend.pick): Pareto-optimal, no subnet ran out, p99 wait <= 10 s,
    # then the fewest idle addresses among those.
    best = frame.loc[namespace["recommended"]]
    assert best.pareto and best.exhausted_subnets == 0 and best.ip_wait_p99_s <= 10
    eligible = frame[(frame.exhausted_subnets == 0) & (frame.ip_wait_p99_s <= 10)]
    assert best.idle_ips_per_node_mean == eligible.idle_ips_per_node_mean.min()


CHECKS = {
    "choosing-an-instance-type.ipynb": _check_choosing_an_instance_type,
    "sizing-subnets.ipynb": _check_sizing_subnets,
    "tuning-the-warm-pool.ipynb": _check_tuning_the_warm_pool,
}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    cells = json.loads(path.read_text())["cells"]
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    assert all(not cell["outputs"] and cell["execution_count"] is None for cell in code)
    assert any(cell["cell_type"] == "markdown" for cell in cells)


def test_every_notebook_is_checked() -> None:
    assert NOTEBOOKS
    assert {path.name for path in NOTEBOOKS} == set(CHECKS)
