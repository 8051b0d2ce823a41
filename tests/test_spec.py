"""Catalog rows -> NodeSpec, the trunking rule and the one aws-node -> max-pods translation.

maxpods, describe and warmpool give one answer for the same settings (issue 7): under
``MAX_ENI=1``, and for security groups for pods on types that do not trunk (Karpenter
vpclimits: no t-family type is trunking-compatible; aws/amazon-vpc-cni-k8s
``pkg/ipamd/ipamd.go`` hasRoomForEni asks ``pkg/awsutils/awsutils.go`` IsTrunkingCompatible).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from cnisim.catalog import load_catalog
from cnisim.cni import IpamdConfig
from cnisim.errors import UsageError
from cnisim.limits import compute_limits
from cnisim.sim import warmpool
from cnisim.sim.spec import (
    is_trunking_compatible,
    max_pods_options,
    node_spec,
    trunking_warning,
)

CATALOG = load_catalog()


def row(name: str) -> dict:
    return CATALOG.take(CATALOG.locate([name])).columns


@pytest.mark.parametrize(
    ("env", "name", "max_enis", "max_pods", "trunking"),
    [
        ({}, "m5.large", 3, 29, True),
        ({"ENABLE_POD_ENI": "true"}, "m5.large", 3, 20, True),  # the trunk takes a slot
        ({"ENABLE_POD_ENI": "true"}, "t3.large", 3, 35, False),  # no trunk on t3
        ({"MAX_ENI": "1"}, "t3.large", 1, 13, False),
        ({"MAX_ENI": "1", "ENABLE_POD_ENI": "true"}, "m5.large", 1, 11, True),  # no room
        ({"AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG": "true"}, "m5.large", 3, 20, True),
        ({"ENABLE_PREFIX_DELEGATION": "true"}, "m5.large", 3, 110, True),
    ],
)
def test_node_spec_and_maxpods_agree(
    env: dict[str, str], name: str, max_enis: int, max_pods: int, trunking: bool
) -> None:
    config = IpamdConfig.from_env(env)
    spec = node_spec(row(name), config)
    assert (spec.max_enis, spec.max_pods, spec.trunking_compatible) == (
        max_enis,
        max_pods,
        trunking,
    )
    limits = compute_limits(row(name), max_pods_options(config))
    assert int(limits["max_pods"][0]) == spec.max_pods


def test_trunking_rule_and_warning() -> None:
    columns = CATALOG.take(CATALOG.locate(["m5.large", "t3.large", "c5.large"])).columns
    assert is_trunking_compatible(columns).tolist() == [True, False, True]
    assert trunking_warning(columns, IpamdConfig()) is None
    warning = trunking_warning(columns, IpamdConfig(enable_pod_eni=True))
    assert warning is not None and warning.startswith("t3.large: not trunking-compatible")


def test_max_pods_options_refuses_aws_node_settings_outside_config() -> None:
    with pytest.raises(UsageError, match="pass aws-node settings in config"):
        max_pods_options(IpamdConfig(), max_eni=2)
    assert max_pods_options(IpamdConfig(), show_max_allowed=True).show_max_allowed


def test_node_spec_takes_one_row_and_a_valid_max_pods() -> None:
    two = CATALOG.take(CATALOG.locate(["m5.large", "t3.large"])).columns
    with pytest.raises(UsageError, match="one instance type, not 2"):
        node_spec(two, IpamdConfig())
    for bad in (0, -1, 2**40, 1.5):
        with pytest.raises(UsageError):
            node_spec(row("m5.large"), IpamdConfig(), max_pods=bad)  # type: ignore[arg-type]


def test_warmpool_keeps_node_spec_importable() -> None:
    assert warmpool.node_spec is node_spec


def test_spec_imports_neither_numba_nor_pandas() -> None:
    code = "import sys, cnisim.sim.spec; print(sorted({'numba', 'pandas'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr
