"""Hypothesis strategies shared by the engine agreement tests."""

from __future__ import annotations

from hypothesis import strategies as st

from cnisim.cni import IpamdConfig


@st.composite
def ipamd_configs(draw: st.DrawFn, max_minimum_ip: int = 12) -> IpamdConfig:
    """aws-node settings in every pool mode: warm-ENI, warm-IP, prefix, prefix with warm-IP,
    with custom networking, security groups for pods, cooldowns and subnet discovery."""
    mode = draw(st.sampled_from(["warm_eni", "warm_ip", "prefix", "prefix_warm_ip"]))
    warm_ip = draw(st.integers(0, 6))
    minimum_ip = draw(st.integers(0, max_minimum_ip))
    if mode in ("warm_ip", "prefix_warm_ip") and warm_ip == 0 and minimum_ip == 0:
        warm_ip = 1
    if mode in ("warm_eni", "prefix"):
        warm_ip = minimum_ip = 0
    return IpamdConfig(
        warm_eni_target=draw(st.integers(0, 2)),
        warm_ip_target=warm_ip,
        minimum_ip_target=minimum_ip,
        warm_prefix_target=draw(st.integers(0, 2)),
        enable_prefix_delegation=mode.startswith("prefix"),
        custom_network_cfg=draw(st.booleans()),
        enable_pod_eni=draw(st.booleans()),
        ip_cooldown_period_s=float(draw(st.sampled_from([0, 5, 30]))),
        enable_subnet_discovery=draw(st.booleans()),
    )
