"""Catalog rows -> the node ipamd manages, and aws-node settings -> max-pods options, once.

``cnisim maxpods``, ``describe`` and ``warmpool`` all go through :func:`max_pods_options` (the
aws-node settings as :class:`~cnisim.limits.MaxPodsOptions`) and :func:`is_trunking_compatible`
(where ``ENABLE_POD_ENI`` gets a trunk ENI), so they give one answer for the same settings.
This module stays light: no numba, no pandas (it is on the path of the quick commands).

References
----------
aws/amazon-vpc-cni-k8s v1.23.1 ``pkg/ipamd/ipamd.go`` (``getMaxENI``, ``hasRoomForEni``),
``pkg/awsutils/awsutils.go`` (``IsTrunkingCompatible``, ``IsPrefixDelegationSupported``);
aws/amazon-vpc-resource-controller-k8s ``pkg/aws/vpc/limits.go`` (``BranchInterface``,
``IsTrunkingCompatible``); max-pods-calculator.sh.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from cnisim.cni import IpamdConfig
from cnisim.errors import UsageError
from cnisim.limits import (
    DEFAULT_CNI_VERSION,
    MaxPodsOptions,
    branch_eni_pods,
    compute_limits,
    prefix_delegation_supported,
)

if TYPE_CHECKING:
    from cnisim.sim.contract import NodeSpec

__all__ = [
    "is_trunking_compatible",
    "max_pods_options",
    "name_list",
    "node_spec",
    "trunking_warning",
]


def is_trunking_compatible(columns: Mapping[str, ArrayLike]) -> np.ndarray:
    """Where ``ENABLE_POD_ENI`` gets a trunk ENI: the type trunks and has a slot beyond the primary.

    Parameters
    ----------
    columns : mapping of str to array
        Canonical catalog columns: ``trunking_compatible``, ``max_enis_default_card``.

    Returns
    -------
    ndarray of bool
        One value per row. Types missing from the VPC limits table are not compatible (the
        catalog gives them ``trunking_compatible`` False).

    Notes
    -----
    The same rule limits applies to the trunk slot (``enis_for_pods``) and the engines apply
    to the trunk ENI (``NodeSpec.trunking_compatible`` with ``max_enis >= 2``); ``MAX_ENI``
    below 2 leaves no slot for a trunk (``hasRoomForEni``), which
    :func:`~cnisim.limits.enis_for_pods` applies after ``MAX_ENI``.

    References
    ----------
    aws/amazon-vpc-cni-k8s ``pkg/awsutils/awsutils.go`` IsTrunkingCompatible;
    aws/amazon-vpc-resource-controller-k8s ``pkg/aws/vpc/limits.go``.

    Examples
    --------
    >>> is_trunking_compatible({"trunking_compatible": [True, False],
    ...                         "max_enis_default_card": [3, 3]}).tolist()
    [True, False]
    """
    compatible = np.asarray(columns["trunking_compatible"], dtype=bool)
    return compatible & (np.asarray(columns["max_enis_default_card"]) >= 2)


def name_list(names: ArrayLike, *, n_shown: int = 5) -> str:
    """Instance type names for a one-line message: the first few, then how many more.

    Examples
    --------
    >>> name_list(["a", "b", "c"], n_shown=2)
    'a, b and 1 more'
    """
    values = np.asarray(names).tolist()
    shown = ", ".join(values[:n_shown])
    return shown + (f" and {len(values) - n_shown} more" if len(values) > n_shown else "")


def trunking_warning(columns: Mapping[str, ArrayLike], config: IpamdConfig) -> str | None:
    """What to tell a user who asks for security groups for pods where no trunk comes, or None.

    Parameters
    ----------
    columns : mapping of str to array
        Canonical catalog columns (``instance_type`` and those of
        :func:`is_trunking_compatible`).
    config : IpamdConfig
        aws-node settings (``enable_pod_eni``).

    Returns
    -------
    str or None
        One line naming the types (at most five, then a count), or None.
    """
    if not config.enable_pod_eni:
        return None
    names = np.asarray(columns["instance_type"])[~is_trunking_compatible(columns)]
    if not names.size:
        return None
    return (
        f"{name_list(names)}: not trunking-compatible, so ENABLE_POD_ENI reserves no trunk ENI "
        "slot and pods with their own security groups cannot run there (no t-family type "
        "trunks; see `cnisim describe` for branch ENIs)"
    )


def max_pods_options(
    config: IpamdConfig,
    *,
    cni_version: str = DEFAULT_CNI_VERSION,
    max_pods: int | None = None,
    all_network_cards: bool = False,
    **extra: Any,
) -> MaxPodsOptions:
    """The max-pods options for a node running these aws-node settings (the one translation).

    Parameters
    ----------
    config : IpamdConfig
        aws-node settings: ``ENABLE_PREFIX_DELEGATION``, ``AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG``,
        ``MAX_ENI``, ``ENABLE_POD_ENI`` and ``ENABLE_IPv6`` decide max pods.
    cni_version : str
        VPC CNI version.
    max_pods : int, optional
        kubelet ``maxPods`` [pods], >= 1.
    all_network_cards : bool
        ``ENABLE_MULTI_NIC``.
    **extra
        Other :class:`~cnisim.limits.MaxPodsOptions` fields that are not aws-node settings
        (``show_max_allowed``, ``reservation_basis``, ``vm_overhead_frac``, pod profile,
        ``prefix_delegation_rule``).

    Returns
    -------
    MaxPodsOptions

    Raises
    ------
    UsageError
        An unknown keyword in ``extra``, or options :class:`~cnisim.limits.MaxPodsOptions`
        refuses.

    Examples
    --------
    >>> max_pods_options(IpamdConfig(max_eni=2)).max_eni
    2
    """
    aws_node = {
        "cni_version",
        "prefix_delegation",
        "custom_networking",
        "max_eni",
        "security_groups_for_pods",
        "ipv6",
        "all_network_cards",
        "max_pods_override",
    }
    fields = set(MaxPodsOptions.__dataclass_fields__) - aws_node
    unknown = set(extra) - fields
    if unknown:
        raise UsageError(
            f"max_pods_options got {', '.join(sorted(unknown))}: pass aws-node settings in "
            f"config; other options are {', '.join(sorted(fields))}"
        )
    return MaxPodsOptions(
        cni_version=cni_version,
        prefix_delegation=config.enable_prefix_delegation,
        custom_networking=config.custom_network_cfg,
        max_eni=config.max_eni,
        security_groups_for_pods=config.enable_pod_eni,
        ipv6=config.enable_ipv6,
        all_network_cards=all_network_cards,
        max_pods_override=max_pods,
        **extra,
    )


def _one(columns: Mapping[str, ArrayLike], name: str) -> Any:
    return np.asarray(columns[name])[0].item()


def node_spec(
    columns: Mapping[str, ArrayLike],
    config: IpamdConfig,
    *,
    max_pods: int | None = None,
    cni_version: str = DEFAULT_CNI_VERSION,
    node_subnet: str = "subnet-node",
    pod_subnet: str = "subnet-pods",
) -> NodeSpec:
    """The node ipamd manages, from one catalog row and the aws-node settings.

    Parameters
    ----------
    columns : mapping of str to array
        Canonical catalog columns of exactly one type (``Catalog.take`` of one row).
    config : IpamdConfig
        aws-node settings: MAX_ENI, prefix delegation, custom networking and security groups
        for pods decide the kubelet max pods, as the calculator and managed node groups do.
    max_pods : int, optional
        kubelet ``maxPods`` [pods], >= 1; default what max-pods-calculator.sh gives for the
        same settings (110/250 cap included), which is what a managed node group sets.
    cni_version : str
        VPC CNI version for that calculation.
    node_subnet, pod_subnet : str
        Subnet ids; the pod subnet is used only under custom networking (the ENIConfig
        subnet).

    Returns
    -------
    NodeSpec
        ``max_branch_enis`` is the type's ``branch_enis`` if it is trunking-compatible, else 0;
        ``trunking_compatible`` as :func:`is_trunking_compatible`.

    Raises
    ------
    UsageError
        ``columns`` does not hold exactly one row, or ``max_pods`` < 1.

    References
    ----------
    aws/amazon-vpc-cni-k8s ``pkg/ipamd/ipamd.go`` (``getMaxENI``, ``IsPrefixDelegationSupported``:
    Nitro or bare metal); max-pods-calculator.sh; aws/amazon-vpc-resource-controller-k8s
    ``pkg/aws/vpc/limits.go`` (``BranchInterface``, ``IsTrunkingCompatible``).

    Examples
    --------
    >>> from cnisim.catalog import load_catalog
    >>> catalog = load_catalog()
    >>> spec = node_spec(catalog.take(catalog.locate(["m5.large"])).columns, IpamdConfig())
    >>> spec.max_enis, spec.ipv4_per_eni, spec.max_pods
    (3, 10, 29)
    """
    # Here, not at the top: maxpods and describe use this module and never build a node.
    from cnisim.sim.contract import NodeSpec

    n_rows = len(np.asarray(columns["instance_type"]))
    if n_rows != 1:
        raise UsageError(f"node_spec takes the columns of one instance type, not {n_rows}")
    options = max_pods_options(config, cni_version=cni_version, max_pods=max_pods)
    limits = compute_limits(columns, options)
    supports_pd = prefix_delegation_supported(
        np.asarray(columns["hypervisor"]),
        np.asarray(columns["bare_metal"]),
        rule="cni",
        cni_version=cni_version,
    )
    return NodeSpec(
        instance_type=str(_one(columns, "instance_type")),
        max_enis=config.effective_max_enis(int(_one(columns, "max_enis_default_card"))),
        ipv4_per_eni=int(_one(columns, "ipv4_per_eni")),
        max_pods=int(limits["max_pods"][0]),
        node_subnet=node_subnet,
        pod_subnet=pod_subnet if config.custom_network_cfg else node_subnet,
        supports_prefix_delegation=bool(supports_pd[0]),
        max_branch_enis=int(
            branch_eni_pods(
                np.asarray(columns["branch_enis"]), np.asarray(columns["trunking_compatible"])
            )[0]
        ),
        trunking_compatible=bool(np.asarray(columns["trunking_compatible"], dtype=bool)[0]),
    )
