"""Node capacity: allocatable CPU, memory, pods and pod ENIs from catalog rows, derived by hand."""

from __future__ import annotations

import numpy as np
import pytest

from cnisim.catalog import Catalog, UnknownInstanceType, load_catalog
from cnisim.limits import InvalidOptionError, MaxPodsOptions, compute_limits
from cnisim.sim.nodes import node_capacity


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def test_m5_large_and_t3_large_by_hand(catalog: Catalog) -> None:
    # m5.large: 2 vCPU, 8192 MiB, 3 ENIs x 10 IPv4: max pods 3 x 9 + 2 = 29; kubeReserved
    # 11 x 29 + 255 = 574 MiB and 70 m; allocatable 8192 - 574 - 100 = 7518 MiB, 1930 m.
    # t3.large: 3 ENIs x 12: 3 x 11 + 2 = 35 pods; 11 x 35 + 255 = 640; 8192 - 740 = 7452.
    capacity = node_capacity(catalog, ["m5.large", "t3.large", "m5.large"])
    assert len(capacity) == 3
    assert capacity.max_pods.tolist() == [29, 35, 29]
    assert capacity.allocatable_cpu_millicores.tolist() == [1930, 1930, 1930]
    assert capacity.allocatable_memory_mib.tolist() == [7518, 7452, 7518]
    assert capacity.max_pod_enis.tolist() == [0, 0, 0]  # no security groups for pods


def test_large_type_is_capped_but_reserves_by_its_eni_table(catalog: Catalog) -> None:
    # m5.24xlarge: 96 vCPU, 15 ENIs x 50: 737 pods uncapped, 250 capped (> 30 vCPUs);
    # kubeReserved.cpu 60 + 10 + 2 x 5 + 92 x 2.5 = 310 m; memory reserved from 737 pods:
    # 11 x 737 + 255 = 8362 MiB, so 393216 - 8362 - 100 = 384754 MiB.
    capacity = node_capacity(catalog, ["m5.24xlarge"])
    assert capacity.max_pods.tolist() == [250]
    assert capacity.allocatable_cpu_millicores.tolist() == [96000 - 310]
    assert capacity.allocatable_memory_mib.tolist() == [384754]


def test_security_groups_for_pods_take_a_slot_and_give_pod_enis(catalog: Catalog) -> None:
    # The trunk takes an ENI slot only on trunking-compatible types (ipamd.go hasRoomForEni,
    # awsutils.go IsTrunkingCompatible): m5.large 2 x 9 + 2 = 20 pods and 9 branch ENIs;
    # t3.large keeps 3 x 11 + 2 = 35 pods and has no branch ENIs (no trunk).
    capacity = node_capacity(
        catalog, ["m5.large", "t3.large"], options=MaxPodsOptions(security_groups_for_pods=True)
    )
    assert capacity.max_pods.tolist() == [20, 35]
    assert capacity.max_pod_enis.tolist() == [9, 0]


def test_max_pods_override_follows_the_reservation_basis(catalog: Catalog) -> None:
    # nodeadm reserves by the ENI table (29) whatever maxPods says; Bottlerocket by maxPods:
    # 11 x 110 + 255 = 1465 MiB, 8192 - 1465 - 100 = 6627 MiB.
    nodeadm = node_capacity(catalog, ["m5.large"], max_pods=110)
    bottlerocket = node_capacity(
        catalog,
        ["m5.large"],
        options=MaxPodsOptions(reservation_basis="bottlerocket"),
        max_pods=110,
    )
    assert nodeadm.max_pods.tolist() == bottlerocket.max_pods.tolist() == [110]
    assert nodeadm.allocatable_memory_mib.tolist() == [7518]
    assert bottlerocket.allocatable_memory_mib.tolist() == [6627]


def test_columns_mapping_and_whole_catalog_agree_with_compute_limits(catalog: Catalog) -> None:
    from_mapping = node_capacity(dict(catalog.columns))
    limits = compute_limits(catalog.columns, MaxPodsOptions())
    np.testing.assert_array_equal(from_mapping.max_pods, limits["max_pods"])
    np.testing.assert_array_equal(
        from_mapping.allocatable_memory_mib, limits["allocatable_memory_mib"]
    )
    np.testing.assert_array_equal(
        from_mapping.allocatable_cpu_millicores, limits["allocatable_cpu_millicores"]
    )
    assert len(from_mapping) == len(catalog)


def test_bad_input_raises_cnisim_errors(catalog: Catalog) -> None:
    with pytest.raises(UnknownInstanceType, match=r"m5\.lrage.*did you mean"):
        node_capacity(catalog, ["m5.lrage"])
    with pytest.raises(InvalidOptionError, match="maxPods"):
        node_capacity(catalog, ["m5.large"], max_pods=0)
