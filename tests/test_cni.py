"""aws-node environment parsing: names, Go-style coercions, refusals, mode precedence.

Expected values come from aws/amazon-vpc-cni-k8s v1.23.1 (commit b52188387f2e):
``pkg/ipamd/ipamd.go`` getWarmENITarget / getWarmIPTarget / getMinimumIPTarget /
getWarmPrefixTarget / getMaxENI / isConfigValid, ``utils/utils.go`` GetBoolAsStringEnvVar,
``pkg/ipamd/datastore/data_store.go`` getCooldownPeriod, and ``config/master/aws-k8s-cni.yaml``.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnisim.cni import IpamdConfig
from cnisim.errors import UsageError


def test_defaults_are_the_manifest_defaults() -> None:
    # aws-k8s-cni.yaml: WARM_ENI_TARGET "1", WARM_PREFIX_TARGET "1", ENABLE_IPv4 "true",
    # ENABLE_IPv6 "false", ENABLE_SUBNET_DISCOVERY "true"; data_store.go: cooldown 30 s.
    config = IpamdConfig.from_env({})
    assert config.warm_eni_target == 1
    assert config.warm_prefix_target == 1
    assert config.warm_ip_target == 0
    assert config.minimum_ip_target == 0
    assert config.max_eni is None
    assert config.enable_ipv4 and not config.enable_ipv6
    assert config.enable_subnet_discovery
    assert config.ip_cooldown_period_s == 30.0
    assert config.warnings == ()
    assert config == IpamdConfig()


def test_every_modeled_name_is_read() -> None:
    config = IpamdConfig.from_env(
        {
            "WARM_ENI_TARGET": "2",
            "WARM_IP_TARGET": "5",
            "MINIMUM_IP_TARGET": "10",
            "WARM_PREFIX_TARGET": "3",
            "ENABLE_PREFIX_DELEGATION": "true",
            "MAX_ENI": "2",
            "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG": "true",
            "ENABLE_POD_ENI": "true",
            "IP_COOLDOWN_PERIOD": "45",
            "ENABLE_SUBNET_DISCOVERY": "false",
        }
    )
    assert (config.warm_eni_target, config.warm_ip_target, config.minimum_ip_target) == (2, 5, 10)
    assert config.warm_prefix_target == 3
    assert config.enable_prefix_delegation and config.custom_network_cfg and config.enable_pod_eni
    assert config.max_eni == 2
    assert config.ip_cooldown_period_s == 45.0
    assert not config.enable_subnet_discovery
    assert config.warnings == ()


@pytest.mark.parametrize(
    ("name", "raw", "field", "expected"),
    [
        # getWarmENITarget: Atoi error or negative -> defaultWarmENITarget (1)
        ("WARM_ENI_TARGET", "abc", "warm_eni_target", 1),
        ("WARM_ENI_TARGET", "-3", "warm_eni_target", 1),
        ("WARM_ENI_TARGET", "1.5", "warm_eni_target", 1),
        ("WARM_ENI_TARGET", " 2", "warm_eni_target", 1),  # Atoi rejects spaces
        # getWarmIPTarget / getMinimumIPTarget: -> noWarmIPTarget / noMinimumIPTarget (0)
        ("WARM_IP_TARGET", "-1", "warm_ip_target", 0),
        ("WARM_IP_TARGET", "five", "warm_ip_target", 0),
        ("MINIMUM_IP_TARGET", "-10", "minimum_ip_target", 0),
        # getWarmPrefixTarget: -> defaultWarmPrefixTarget, 0 in code (not the manifest's 1)
        ("WARM_PREFIX_TARGET", "-1", "warm_prefix_target", 0),
        ("WARM_PREFIX_TARGET", "x", "warm_prefix_target", 0),
        # getMaxENI: below 1 or not an integer -> off (instance limit)
        ("MAX_ENI", "0", "max_eni", None),
        ("MAX_ENI", "many", "max_eni", None),
        # GetBoolAsStringEnvVar: strconv.ParseBool failure -> the default
        ("ENABLE_PREFIX_DELEGATION", "yes", "enable_prefix_delegation", False),
        ("ENABLE_SUBNET_DISCOVERY", "on", "enable_subnet_discovery", True),
        # getCooldownPeriod: Atoi error -> 30 s
        ("IP_COOLDOWN_PERIOD", "30s", "ip_cooldown_period_s", 30.0),
        # strconv.Atoi returns ErrRange past int64 (Go's int on 64-bit hosts): the default
        ("WARM_IP_TARGET", str(2**63), "warm_ip_target", 0),
        ("WARM_ENI_TARGET", "9" * 40, "warm_eni_target", 1),
        ("MAX_ENI", str(2**63), "max_eni", None),
        ("IP_COOLDOWN_PERIOD", str(-(2**63) - 1), "ip_cooldown_period_s", 30.0),
        ("MINIMUM_IP_TARGET", "3 ", "minimum_ip_target", 0),
    ],
)
def test_coerced_values_give_the_cni_value_and_a_warning(
    name: str, raw: str, field: str, expected: object
) -> None:
    config = IpamdConfig.from_env({name: raw})
    assert getattr(config, field) == expected
    assert len(config.warnings) == 1
    assert name in config.warnings[0]


@pytest.mark.parametrize("raw", ["1", "t", "T", "TRUE", "true", "True"])
def test_go_true_spellings(raw: str) -> None:
    config = IpamdConfig.from_env({"ENABLE_PREFIX_DELEGATION": raw})
    assert config.enable_prefix_delegation
    assert config.warnings == ()


def test_go_integer_syntax_accepts_sign_and_leading_zeros() -> None:
    # strconv.Atoi("+007") == 7
    assert IpamdConfig.from_env({"WARM_IP_TARGET": "+007"}).warm_ip_target == 7
    # The largest int64 is in range for Atoi: taken as it is.
    assert IpamdConfig.from_env({"WARM_IP_TARGET": str(2**63 - 1)}).warm_ip_target == 2**63 - 1


def test_atoi_warnings_say_why_and_stay_short() -> None:
    (space,) = IpamdConfig.from_env({"WARM_IP_TARGET": " 3"}).warnings
    assert "strconv.Atoi" in space and "no spaces" in space and "ipamd uses 0" in space
    (huge,) = IpamdConfig.from_env({"WARM_IP_TARGET": "9" * 400}).warnings
    assert "out of range" in huge and "int64" in huge and len(huge) < 200


def test_unknown_variable_is_a_usage_error_with_a_hint() -> None:
    with pytest.raises(UsageError, match="WARM_IP_TARGET"):
        IpamdConfig.from_env({"WARM_IP_TARGE": "5"})


def test_unknown_variable_without_close_match() -> None:
    with pytest.raises(UsageError, match="unknown aws-node variable 'FOO'"):
        IpamdConfig.from_env({"FOO": "1"})


def test_known_but_unmodeled_variable_warns() -> None:
    config = IpamdConfig.from_env({"AWS_MANAGE_ENIS_NON_SCHEDULABLE": "true"})
    assert config == IpamdConfig()
    assert "not simulated" in config.warnings[0]


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        # isConfigValid refusals
        ({"ENABLE_IPv6": "true", "ENABLE_PREFIX_DELEGATION": "true"}, "ENABLE_IPv4"),
        ({"ENABLE_IPv4": "false"}, "both false"),
        (
            {
                "ENABLE_IPv4": "false",
                "ENABLE_IPv6": "true",
                "ENABLE_PREFIX_DELEGATION": "true",
                "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG": "true",
            },
            "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG",
        ),
        ({"ENABLE_IPv4": "false", "ENABLE_IPv6": "true"}, "ENABLE_PREFIX_DELEGATION"),
    ],
)
def test_refused_combinations(env: dict[str, str], needle: str) -> None:
    with pytest.raises(UsageError, match=needle) as info:
        IpamdConfig.from_env(env)
    assert "\n" not in str(info.value)
    assert info.value.exit_code == 2


def test_valid_ipv6() -> None:
    config = IpamdConfig.from_env(
        {"ENABLE_IPv4": "false", "ENABLE_IPv6": "true", "ENABLE_PREFIX_DELEGATION": "true"}
    )
    assert config.pool_mode(True) == "ipv6"


@pytest.mark.parametrize(
    ("env", "supports_pd", "mode"),
    [
        ({}, True, "warm_eni"),
        ({"ENABLE_PREFIX_DELEGATION": "true"}, True, "warm_prefix"),
        # non-Nitro: prefix delegation falls back to secondary IPs (isConfigValid)
        ({"ENABLE_PREFIX_DELEGATION": "true"}, False, "warm_eni"),
        # warm-IP mode overrides WARM_ENI_TARGET and WARM_PREFIX_TARGET
        ({"WARM_IP_TARGET": "3", "WARM_ENI_TARGET": "2"}, True, "warm_ip"),
        ({"MINIMUM_IP_TARGET": "3"}, True, "warm_ip"),
        ({"ENABLE_PREFIX_DELEGATION": "true", "WARM_IP_TARGET": "3"}, True, "warm_ip"),
        # WARM_IP_TARGET=0 is the same as unset (noWarmIPTarget = 0)
        ({"WARM_IP_TARGET": "0"}, True, "warm_eni"),
    ],
)
def test_mode_precedence(env: dict[str, str], supports_pd: bool, mode: str) -> None:
    assert IpamdConfig.from_env(env).pool_mode(supports_pd) == mode


def test_fallback_warning_names_the_type() -> None:
    config = IpamdConfig(enable_prefix_delegation=True)
    warning = config.fallback_warning("m4.large", False)
    assert warning is not None and "m4.large" in warning
    assert config.fallback_warning("m5.large", True) is None
    assert not config.prefix_delegation_active(False)


@pytest.mark.parametrize(("max_eni", "instance", "expected"), [(None, 3, 3), (2, 3, 2), (5, 3, 3)])
def test_effective_max_enis(max_eni: int | None, instance: int, expected: int) -> None:
    # getMaxENI: min(MAX_ENI, instance limit) when MAX_ENI >= 1
    assert IpamdConfig(max_eni=max_eni).effective_max_enis(instance) == expected


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=6), st.integers(-100, 100))
def test_any_integer_setting_parses_to_a_valid_value(raw: str, number: int) -> None:
    for value in (raw, str(number)):
        config = IpamdConfig.from_env(
            {"WARM_ENI_TARGET": value, "WARM_IP_TARGET": value, "MINIMUM_IP_TARGET": value}
        )
        assert config.warm_eni_target >= 0
        assert config.warm_ip_target >= 0
        assert config.minimum_ip_target >= 0
        if value == str(number) and number >= 0:
            assert config.warm_ip_target == number
            assert config.warnings == ()


@pytest.mark.parametrize(
    "changes",
    [
        {"warm_ip_target": -1},
        {"warm_eni_target": 1.5},
        {"minimum_ip_target": True},
        {"max_eni": 0},
        {"ip_cooldown_period_s": float("nan")},
        {"enable_pod_eni": "yes"},
    ],
)
def test_python_callers_get_a_usage_error_for_bad_fields(changes: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        IpamdConfig(**changes)  # type: ignore[arg-type]
