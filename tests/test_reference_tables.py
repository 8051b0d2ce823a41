"""The shipped catalog snapshot against AWS's published max-pods table (misc/eni-max-pods.txt)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cnisim.catalog import Catalog, load_catalog
from cnisim.limits import MaxPodsOptions, compute_limits, max_pods_secondary

DATA = Path(__file__).parent / "data"

# docs/max-pods.md section 5: moto's DescribeInstanceTypes lists two network cards for these
# (8 + 7 and 12 + 12 ENIs), while the vpc-cni generator (and Karpenter/vpc-resource-controller
# data) record one card of 15 / 24 ENIs, so the table holds 737 / 1178 where the snapshot's
# default card gives 394 / 590. A data-source disagreement, not a formula difference.
DATA_SOURCE_DISAGREEMENTS = {
    "i7ie.48xlarge": (737, 394),
    "i7ie.metal-48xl": (737, 394),
    "i8ge.48xlarge": (1178, 590),
    "i8ge.metal-48xl": (1178, 590),
}


@pytest.fixture(scope="module")
def vpc_cni_eni_max_pods_txt() -> dict[str, int]:
    """aws/amazon-vpc-cni-k8s misc/eni-max-pods.txt @ 6152e01c (copy in tests/data)."""
    lines = (DATA / "eni-max-pods.tsv").read_text().splitlines()
    assert lines[0].startswith("# source: github.com/aws/amazon-vpc-cni-k8s misc/eni-max-pods.txt")
    assert lines[1].split("\t") == ["instance_type", "max_pods"]
    rows = [line.split("\t") for line in lines[2:]]
    return {instance_type: int(max_pods) for instance_type, max_pods in rows}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def test_table_copy_is_whole(vpc_cni_eni_max_pods_txt):
    # docs/max-pods.md section 2: 1391 rows; m5.large 29, p5.48xlarge 100 (card 0 only).
    assert len(vpc_cni_eni_max_pods_txt) == 1391
    assert vpc_cni_eni_max_pods_txt["m5.large"] == 29
    assert vpc_cni_eni_max_pods_txt["p5.48xlarge"] == 100


def test_every_shared_row_matches_the_default_card_formula(vpc_cni_eni_max_pods_txt, catalog):
    shared = np.isin(catalog.instance_types, list(vpc_cni_eni_max_pods_txt))
    # 1368 shared types with moto 5.2.5 data (docs/max-pods.md section 5).
    assert shared.sum() == 1368
    types = catalog.instance_types[shared]
    formula = max_pods_secondary(
        catalog["max_enis_default_card"][shared], catalog["ipv4_per_eni"][shared]
    )
    table = np.array([vpc_cni_eni_max_pods_txt[t] for t in types])
    differs = formula != table
    differing = {
        name: (published, ours)
        for name, published, ours in zip(
            types[differs].tolist(), table[differs].tolist(), formula[differs].tolist(), strict=True
        )
    }
    assert differing == DATA_SOURCE_DISAGREEMENTS


def test_total_enis_would_miss_multi_card_types(vpc_cni_eni_max_pods_txt, catalog):
    """Why the default card: the total over all cards misses 66 multi-card types (section 5)."""
    shared = np.isin(catalog.instance_types, list(vpc_cni_eni_max_pods_txt))
    types = catalog.instance_types[shared]
    by_total = max_pods_secondary(catalog["max_enis"][shared], catalog["ipv4_per_eni"][shared])
    table = np.array([vpc_cni_eni_max_pods_txt[t] for t in types])
    assert (by_total != table).sum() == 66


def test_compute_limits_reproduces_the_table(vpc_cni_eni_max_pods_txt, catalog):
    """The whole-catalog entry point gives the table value in its max_pods_secondary column."""
    limits = compute_limits(catalog.columns, MaxPodsOptions(show_max_allowed=True))
    table = {
        t: v for t, v in vpc_cni_eni_max_pods_txt.items() if t not in DATA_SOURCE_DISAGREEMENTS
    }
    known = set(catalog.instance_types.tolist())
    rows = catalog.locate([t for t in table if t in known])
    expected = [table[t] for t in catalog.instance_types[rows].tolist()]
    assert limits["max_pods"][rows].tolist() == expected
    assert limits["max_pods_secondary"][rows].tolist() == expected
    # The table is uncapped; the calculator default is not (784 of 1395 types differ).
    capped = compute_limits(catalog.columns, MaxPodsOptions())["max_pods"]
    assert (capped != limits["max_pods"]).sum() == 784
