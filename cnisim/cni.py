"""Amazon VPC CNI (aws-node) settings, parsed and validated as ipamd does.

:class:`IpamdConfig` holds the settings of one node group in snake_case fields with units.
:meth:`IpamdConfig.from_env` takes the environment variable NAMES users set on the ``aws-node``
DaemonSet (``WARM_ENI_TARGET``, ``WARM_IP_TARGET``, ...) and parses each value the way ipamd's
Go code does: values ipamd silently coerces give the coerced value plus a warning string; values
ipamd refuses outright (node init fails) raise :class:`cnisim.errors.UsageError`.

Defaults are those of the manifest users run (``config/master/aws-k8s-cni.yaml``), not the Go
code's: in particular ``WARM_PREFIX_TARGET`` is 1 (manifest and Helm chart) while an unset
variable means 0 in ipamd.go.

References
----------
aws/amazon-vpc-cni-k8s v1.23.1: ``pkg/ipamd/ipamd.go`` (getWarmENITarget, getWarmIPTarget,
getMinimumIPTarget, getWarmPrefixTarget, getMaxENI, parseBoolEnvVar, isConfigValid,
warmIPTargetsDefined, datastoreTargetState), ``pkg/ipamd/datastore/data_store.go``
(getCooldownPeriod), ``utils/utils.go`` (GetBoolAsStringEnvVar, GetIntFromStringEnvVar),
``config/master/aws-k8s-cni.yaml`` (defaults).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from cnisim.errors import UsageError
from cnisim.units import check_finite, check_whole

PoolMode = Literal["warm_eni", "warm_ip", "warm_prefix", "ipv6"]

# Go's strconv.Atoi: optional sign, decimal digits, nothing else (no spaces, no "1.0"), and
# the value within Go's int (int64 on the 64-bit hosts EKS runs), else ErrRange.
_GO_INT = re.compile(r"[+-]?[0-9]+")
_GO_INT_MIN, _GO_INT_MAX = -(2**63), 2**63 - 1
# Go's strconv.ParseBool accepts exactly these spellings.
_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})

#: Variables ipamd reads that this simulator accepts but does not model (value ignored).
UNMODELED_VARIABLES = frozenset(
    {
        "ADDITIONAL_ENI_TAGS",
        "ANNOTATE_POD_IP",
        "AWS_MANAGE_ENIS_NON_SCHEDULABLE",
        "AWS_VPC_CNI_NODE_PORT_SUPPORT",
        "AWS_VPC_ENI_MTU",
        "AWS_VPC_K8S_CNI_EXTERNALSNAT",
        "AWS_VPC_K8S_CNI_LOGLEVEL",
        "AWS_VPC_K8S_CNI_LOG_FILE",
        "AWS_VPC_K8S_CNI_RANDOMIZESNAT",
        "AWS_VPC_K8S_CNI_VETHPREFIX",
        "AWS_VPC_K8S_PLUGIN_LOG_FILE",
        "AWS_VPC_K8S_PLUGIN_LOG_LEVEL",
        "CLUSTER_NAME",
        "DISABLE_INTROSPECTION",
        "DISABLE_LEAKED_ENI_CLEANUP",
        "DISABLE_METRICS",
        "DISABLE_NETWORK_RESOURCE_PROVISIONING",
        "DISABLE_TCP_EARLY_DEMUX",
        "ENABLE_IMDS_ONLY_MODE",
        "ENABLE_MULTI_NIC",
        "MANAGE_UNTAGGED_ENI",
        "NETWORK_POLICY_ENFORCING_MODE",
        "POD_SECURITY_GROUP_ENFORCING_MODE",
        "VPC_CNI_VERSION",
    }
)

_MODELED_VARIABLES = (
    "WARM_ENI_TARGET",
    "WARM_IP_TARGET",
    "MINIMUM_IP_TARGET",
    "WARM_PREFIX_TARGET",
    "ENABLE_PREFIX_DELEGATION",
    "MAX_ENI",
    "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG",
    "ENABLE_POD_ENI",
    "ENABLE_IPv4",
    "ENABLE_IPv6",
    "IP_COOLDOWN_PERIOD",
    "ENABLE_SUBNET_DISCOVERY",
)


@dataclass(frozen=True)
class IpamdConfig:
    """Warm-pool settings of ipamd for one node group (the aws-node environment, renamed).

    Parameters
    ----------
    warm_eni_target : int
        ``WARM_ENI_TARGET``: keep at least this many ENIs' worth (x S) of free IPs [ENIs].
    warm_ip_target : int
        ``WARM_IP_TARGET``: free IPs to keep; 0 means unset [IPs].
    minimum_ip_target : int
        ``MINIMUM_IP_TARGET``: floor on IPs held; 0 means unset [IPs].
    warm_prefix_target : int
        ``WARM_PREFIX_TARGET``: free /28 prefixes to keep in prefix delegation [prefixes].
    enable_prefix_delegation : bool
        ``ENABLE_PREFIX_DELEGATION``: /28 prefixes instead of secondary IPs (Nitro only).
    max_eni : int or None
        ``MAX_ENI``: cap on ENIs incl. the primary and trunk; None means the instance limit [ENIs].
    custom_network_cfg : bool
        ``AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG``: no pod IPs on the primary ENI, new ENIs in the
        ENIConfig subnet.
    enable_pod_eni : bool
        ``ENABLE_POD_ENI``: security groups for pods; one ENI slot goes to the trunk ENI.
    enable_ipv4, enable_ipv6 : bool
        ``ENABLE_IPv4`` / ``ENABLE_IPv6``: exactly one is true.
    ip_cooldown_period_s : float
        ``IP_COOLDOWN_PERIOD``: a released pod IP is not reassigned for this long [s].
    enable_subnet_discovery : bool
        ``ENABLE_SUBNET_DISCOVERY``: on an InsufficientCidr* error while adding IPs to an
        existing ENI, ipamd tries the next ENI instead of pausing.
    warnings : tuple of str
        What :meth:`from_env` coerced or ignored, one line each, for the caller to print.

    References
    ----------
    aws/amazon-vpc-cni-k8s ``README.md`` (environment variables), ``pkg/ipamd/ipamd.go``,
    ``config/master/aws-k8s-cni.yaml``.

    Examples
    --------
    >>> IpamdConfig.from_env({"WARM_IP_TARGET": "5", "MINIMUM_IP_TARGET": "10"}).pool_mode(True)
    'warm_ip'
    """

    warm_eni_target: int = 1
    warm_ip_target: int = 0
    minimum_ip_target: int = 0
    warm_prefix_target: int = 1
    enable_prefix_delegation: bool = False
    max_eni: int | None = None
    custom_network_cfg: bool = False
    enable_pod_eni: bool = False
    enable_ipv4: bool = True
    enable_ipv6: bool = False
    ip_cooldown_period_s: float = 30.0
    enable_subnet_discovery: bool = True
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        # Types and ranges for Python callers (from_env already gives valid values); the
        # combinations ipamd refuses are :meth:`validate`'s, as at node init.
        for name in (
            "warm_eni_target",
            "warm_ip_target",
            "minimum_ip_target",
            "warm_prefix_target",
        ):
            check_whole(getattr(self, name), name=name, minimum=0)
        if self.max_eni is not None:
            check_whole(self.max_eni, name="max_eni", minimum=1)
        check_finite(self.ip_cooldown_period_s, name="ip_cooldown_period_s")
        for name in (
            "enable_prefix_delegation",
            "custom_network_cfg",
            "enable_pod_eni",
            "enable_ipv4",
            "enable_ipv6",
            "enable_subnet_discovery",
        ):
            if not isinstance(getattr(self, name), bool):
                raise UsageError(f"{name} must be True or False, not {getattr(self, name)!r:.40}")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> IpamdConfig:
        """Parse aws-node environment variables as ipamd does.

        Parameters
        ----------
        env : Mapping[str, str]
            Variable name -> value, e.g. ``{"WARM_IP_TARGET": "5"}``. Missing names take the
            manifest default.

        Returns
        -------
        IpamdConfig
            With ``warnings`` listing every value ipamd would coerce or that is not simulated.

        Raises
        ------
        UsageError
            An unknown variable name, or a combination ipamd refuses (node init fails): IPv4 and
            IPv6 both on or both off, IPv6 without prefix delegation or with custom networking.

        References
        ----------
        aws/amazon-vpc-cni-k8s ``pkg/ipamd/ipamd.go`` getWarmENITarget (non-integer or negative
        gives 1), getWarmIPTarget / getMinimumIPTarget (non-integer or negative gives 0),
        getWarmPrefixTarget (gives 0), getMaxENI (below 1 is off), parseBoolEnvVar and
        ``utils/utils.go`` GetBoolAsStringEnvVar (strconv.ParseBool, else the default),
        ``pkg/ipamd/datastore/data_store.go`` getCooldownPeriod (non-integer gives 30),
        isConfigValid (the refusals).
        """
        known = set(_MODELED_VARIABLES) | UNMODELED_VARIABLES
        for name in env:
            if name not in known:
                hint = _close_name(name, known)
                raise UsageError(
                    f"unknown aws-node variable {name!r}"
                    + (f": did you mean {hint}?" if hint else "")
                    + " (use the VPC CNI environment variable names, e.g. WARM_IP_TARGET)"
                )
        warnings: list[str] = [
            f"{name} is accepted but not simulated (value {env[name]!r} ignored)"
            for name in sorted(env)
            if name in UNMODELED_VARIABLES
        ]

        def integer(name: str, default: int, bad_gives: int, minimum: int | None) -> int:
            # ipamd's getters: strconv.Atoi, then a range check; both failures give a fallback.
            if name not in env:
                return default
            raw = env[name]
            shown = repr(raw) if len(raw) <= 30 else f"{raw[:20]!r}...({len(raw)} characters)"
            if not _GO_INT.fullmatch(raw):
                why = "is not an integer to Go's strconv.Atoi (digits only, no spaces)"
            elif not _GO_INT_MIN <= int(raw) <= _GO_INT_MAX:
                why = "is out of range for Go's strconv.Atoi (int64)"
            elif minimum is not None and int(raw) < minimum:
                why = f"is below {minimum}"
            else:
                return int(raw)
            gives = "the instance limit" if name == "MAX_ENI" else str(bad_gives)
            warnings.append(f"{name}={shown} {why}: ipamd uses {gives}")
            return bad_gives

        def boolean(name: str, default: bool) -> bool:
            if name not in env or env[name] == "":
                return default
            raw = env[name]
            if raw in _GO_TRUE:
                return True
            if raw in _GO_FALSE:
                return False
            warnings.append(
                f"{name}={raw[:30]!r} is not a Go boolean (true/false): ipamd uses {default}"
            )
            return default

        max_eni_value = integer("MAX_ENI", -1, -1, 1)
        cooldown_s = integer("IP_COOLDOWN_PERIOD", 30, 30, None)
        if cooldown_s < 0:
            warnings.append(f"IP_COOLDOWN_PERIOD={cooldown_s} is negative: released IPs never cool")
        config = cls(
            warm_eni_target=integer("WARM_ENI_TARGET", 1, 1, 0),
            warm_ip_target=integer("WARM_IP_TARGET", 0, 0, 0),
            minimum_ip_target=integer("MINIMUM_IP_TARGET", 0, 0, 0),
            warm_prefix_target=integer("WARM_PREFIX_TARGET", 1, 0, 0),
            enable_prefix_delegation=boolean("ENABLE_PREFIX_DELEGATION", False),
            max_eni=max_eni_value if max_eni_value >= 1 else None,
            custom_network_cfg=boolean("AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG", False),
            enable_pod_eni=boolean("ENABLE_POD_ENI", False),
            enable_ipv4=boolean("ENABLE_IPv4", True),
            enable_ipv6=boolean("ENABLE_IPv6", False),
            ip_cooldown_period_s=float(cooldown_s),
            enable_subnet_discovery=boolean("ENABLE_SUBNET_DISCOVERY", True),
            warnings=(),
        )
        config.validate()
        return replace(config, warnings=tuple(warnings))

    def validate(self) -> None:
        """Raise :class:`UsageError` for a combination ipamd refuses at node init.

        References
        ----------
        aws/amazon-vpc-cni-k8s ``pkg/ipamd/ipamd.go`` isConfigValid.
        """
        if self.enable_ipv4 and self.enable_ipv6:
            raise UsageError(
                "ENABLE_IPv4 and ENABLE_IPv6 are both true: the VPC CNI has no dual stack;"
                " set ENABLE_IPv4=false for IPv6 or ENABLE_IPv6=false for IPv4"
            )
        if not self.enable_ipv4 and not self.enable_ipv6:
            raise UsageError("ENABLE_IPv4 and ENABLE_IPv6 are both false: set one of them to true")
        if self.enable_ipv6 and self.custom_network_cfg:
            raise UsageError(
                "ENABLE_IPv6=true with AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG=true: custom networking"
                " is IPv4 only; set AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG=false"
            )
        if self.enable_ipv6 and not self.enable_prefix_delegation:
            raise UsageError(
                "ENABLE_IPv6=true needs prefix delegation: set ENABLE_PREFIX_DELEGATION=true"
            )
        for name, value in (
            ("warm_eni_target", self.warm_eni_target),
            ("warm_ip_target", self.warm_ip_target),
            ("minimum_ip_target", self.minimum_ip_target),
            ("warm_prefix_target", self.warm_prefix_target),
        ):
            if value < 0:
                raise UsageError(f"{name}={value} is negative: use 0 or more")

    @property
    def warm_ip_targets_defined(self) -> bool:
        """Whether warm-IP mode is on: WARM_IP_TARGET > 0 or MINIMUM_IP_TARGET > 0.

        References
        ----------
        aws/amazon-vpc-cni-k8s ``pkg/ipamd/ipamd.go`` warmIPTargetsDefined.
        """
        return self.warm_ip_target > 0 or self.minimum_ip_target > 0

    def prefix_delegation_active(self, supports_prefix_delegation: bool) -> bool:
        """Whether the node runs in prefix mode.

        Prefix delegation on a type that does not support it (non-Nitro) falls back to
        secondary IPs (ipamd logs a warning), see :meth:`fallback_warning`.

        References
        ----------
        aws/amazon-vpc-cni-k8s ``pkg/ipamd/ipamd.go`` isConfigValid.
        """
        return self.enable_prefix_delegation and supports_prefix_delegation

    def fallback_warning(self, instance_type: str, supports_prefix_delegation: bool) -> str | None:
        """The warning ipamd logs when prefix delegation falls back to secondary IPs, or None."""
        if self.enable_prefix_delegation and not supports_prefix_delegation:
            return (
                f"ENABLE_PREFIX_DELEGATION=true on {instance_type}, which does not support prefixes"
                " (non-Nitro): ipamd falls back to secondary IPs"
            )
        return None

    def pool_mode(self, supports_prefix_delegation: bool) -> PoolMode:
        """Which warm target drives the pool, by ipamd's precedence.

        1. IPv6: no warm pool at all. 2. WARM_IP_TARGET or MINIMUM_IP_TARGET > 0: warm-IP mode
        (overrides the ENI and prefix targets, also with prefixes). 3. Prefix delegation:
        WARM_PREFIX_TARGET. 4. Otherwise WARM_ENI_TARGET.

        References
        ----------
        aws/amazon-vpc-cni-k8s ``pkg/ipamd/ipamd.go`` StartNodeIPPoolManager, datastoreTargetState,
        getPrefixesNeeded; ``docs/prefix-and-ip-target.md``.
        """
        if self.enable_ipv6:
            return "ipv6"
        if self.warm_ip_targets_defined:
            return "warm_ip"
        if self.prefix_delegation_active(supports_prefix_delegation):
            return "warm_prefix"
        return "warm_eni"

    def effective_max_enis(self, instance_max_enis: int) -> int:
        """ENIs ipamd may attach: min(MAX_ENI, instance limit) when MAX_ENI is set [ENIs].

        References
        ----------
        aws/amazon-vpc-cni-k8s ``pkg/ipamd/ipamd.go`` getMaxENI.

        Examples
        --------
        >>> IpamdConfig(max_eni=2).effective_max_enis(3)
        2
        """
        if self.max_eni is not None and self.max_eni < instance_max_enis:
            return self.max_eni
        return instance_max_enis


def _close_name(name: str, known: set[str]) -> str | None:
    import difflib  # only for a misspelt name: kept off the quick path

    matches = difflib.get_close_matches(name.upper(), sorted(known), n=1, cutoff=0.75)
    return matches[0] if matches else None
