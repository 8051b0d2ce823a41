"""Workload generation: Deployments, Job streams (Little's law), DaemonSets, EKS defaults."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnisim.errors import UsageError
from cnisim.plan import DaemonSet, Deployment, JobStream, Lifetime, Resources
from cnisim.sim.workloads import (
    AWS_NODE,
    COREDNS,
    EKS_DEFAULT_WORKLOADS,
    KUBE_PROXY,
    WORKLOAD_KINDS,
    InvalidWorkloadError,
    daemonset_pods,
    draw_lifetimes_s,
    generate_pods,
)

Z95 = 1.6448536269514722


def test_invalid_workload_error_is_a_usage_error() -> None:
    assert issubclass(InvalidWorkloadError, UsageError)


def test_eks_defaults_match_their_manifests() -> None:
    # aws-node: aws-node 25m + aws-eks-nodeagent 25m; kube-proxy 100m; CoreDNS 2 x 100m/70Mi.
    assert EKS_DEFAULT_WORKLOADS == (AWS_NODE, KUBE_PROXY, COREDNS)
    assert (AWS_NODE.requests.cpu_millicores, AWS_NODE.host_network) == (50.0, True)
    assert (KUBE_PROXY.requests.cpu_millicores, KUBE_PROXY.host_network) == (100.0, True)
    assert (COREDNS.replicas, COREDNS.requests) == (2, Resources(100.0, 70.0))
    assert not COREDNS.host_network


def test_deployment_replicas_at_start_with_infinite_lifetime() -> None:
    web = Deployment("web", replicas=3, requests=Resources(100, 128), start_s=600.0)
    late = Deployment("late", replicas=2, start_s=3600.0)  # starts after the run: no pods
    pods = generate_pods([web, late], 3600.0, np.random.default_rng(0))
    assert len(pods) == 3
    assert pods.created_s.tolist() == [600.0] * 3
    assert np.all(np.isinf(pods.lifetime_s))
    assert pods.ordinal.tolist() == [0, 1, 2]
    assert pods.workload.tolist() == [0, 0, 0]
    assert [WORKLOAD_KINDS[k] for k in pods.kind] == ["Deployment"] * 3
    assert pods.cpu_millicores.tolist() == [100] * 3
    assert pods.memory_mib.tolist() == [128.0] * 3
    assert pods.needs_address.all() and not pods.security_groups.any()


def test_requests_round_up_like_kubernetes_quantities() -> None:
    # Quantity.MilliValue rounds 0.1m up to 1m; Value rounds a fraction of a byte up.
    odd = Deployment("odd", replicas=1, requests=Resources(0.1, 1.0 / 2**21))
    pods = generate_pods([odd], 10.0, np.random.default_rng(0))
    assert pods.cpu_millicores.tolist() == [1]
    assert pods.memory_mib.tolist() == [1.0 / 2**20]


def test_host_network_and_security_group_flags_carry_over() -> None:
    host = Deployment("host", replicas=1, host_network=True)
    sgp = JobStream("sgp", 1.0, Lifetime("fixed", 5.0), security_groups=True)
    pods = generate_pods([host, sgp], 20.0, np.random.default_rng(1))
    host_rows = pods.workload == 0
    assert not pods.needs_address[host_rows].any()
    assert pods.security_groups[~host_rows].all() and pods.needs_address[~host_rows].all()


def test_daemonsets_make_no_pods_in_generate_pods() -> None:
    pods = generate_pods(EKS_DEFAULT_WORKLOADS, 60.0, np.random.default_rng(0))
    assert [pods.pod_name(i) for i in range(len(pods))] == ["coredns-0", "coredns-1"]
    assert pods.workload.tolist() == [2, 2]  # the index in the workloads tuple


def test_daemonset_pods_one_per_node_host_network_take_no_address() -> None:
    cni_agent = DaemonSet("node-exporter", requests=Resources(10, 16))
    workloads = (*EKS_DEFAULT_WORKLOADS, cni_agent)
    pods, node = daemonset_pods(workloads, [4, 7], [10.0, 20.0])
    assert node.tolist() == [4, 4, 4, 7, 7, 7]
    assert pods.workload.tolist() == [0, 1, 3] * 2
    assert pods.ordinal.tolist() == node.tolist()
    assert pods.created_s.tolist() == [10.0] * 3 + [20.0] * 3
    assert pods.needs_address.tolist() == [False, False, True] * 2
    assert pods.cpu_millicores.tolist() == [50, 100, 10] * 2
    assert [WORKLOAD_KINDS[k] for k in pods.kind] == ["DaemonSet"] * 6
    assert np.all(np.isinf(pods.lifetime_s))


def test_job_stream_window_and_sorted_arrivals() -> None:
    jobs = JobStream("batch", 0.5, Lifetime("exponential", 30.0), start_s=100.0, stop_s=300.0)
    pods = generate_pods([jobs], 1000.0, np.random.default_rng(3))
    assert len(pods) > 0
    assert np.all((pods.created_s >= 100.0) & (pods.created_s < 300.0))
    assert np.all(np.diff(pods.created_s) >= 0)
    assert pods.ordinal.tolist() == list(range(len(pods)))
    assert np.all(pods.lifetime_s > 0)


def test_job_stream_stops_at_the_end_of_the_run() -> None:
    jobs = JobStream("batch", 2.0, Lifetime("fixed", 1.0))
    pods = generate_pods([jobs], 50.0, np.random.default_rng(4))
    assert pods.created_s.max() < 50.0


def test_little_law_on_a_job_stream() -> None:
    # M/G/inf: the mean number of jobs running is arrival rate x mean lifetime (Little's law).
    # Exponential lifetimes: the count is Poisson(L) with autocorrelation exp(-t / mean), so
    # its time average over T has variance ~ 2 L mean / T (here 0.5, sd 0.71; 0.81 measured
    # over 40 seeds with the Poisson count's own noise): 3.5 is over 4 sd.
    rate_per_s, mean_s, warmup_s, end_s = 2.0, 50.0, 1000.0, 21000.0
    jobs = JobStream("batch", rate_per_s, Lifetime("exponential", mean_s))
    pods = generate_pods([jobs], end_s, np.random.default_rng(2024))
    starts = np.clip(pods.created_s, warmup_s, end_s)
    ends = np.clip(pods.created_s + pods.lifetime_s, warmup_s, end_s)
    mean_running = float(np.sum(ends - starts)) / (end_s - warmup_s)
    assert mean_running == pytest.approx(rate_per_s * mean_s, abs=3.5)


def test_little_law_with_lognormal_lifetimes() -> None:
    # Lognormal median 20 s, p95 60 s: mean = median exp(sigma^2 / 2) = 25.0 s; at 4/s the
    # mean running is 100.0. sd of the time average over 20,000 s: 0.46 measured over 40
    # seeds; tolerance 3 (6 sd).
    median_s, p95_s, rate_per_s = 20.0, 60.0, 4.0
    sigma = math.log(p95_s / median_s) / Z95
    mean_s = median_s * math.exp(sigma**2 / 2)
    jobs = JobStream("batch", rate_per_s, Lifetime("lognormal", median_s, p95_s))
    pods = generate_pods([jobs], 21000.0, np.random.default_rng(7))
    starts = np.clip(pods.created_s, 1000.0, 21000.0)
    ends = np.clip(pods.created_s + pods.lifetime_s, 1000.0, 21000.0)
    assert float(np.sum(ends - starts)) / 20000.0 == pytest.approx(rate_per_s * mean_s, abs=3.0)


def test_lognormal_lifetimes_hit_their_median_and_p95() -> None:
    lifetimes = draw_lifetimes_s(
        Lifetime("lognormal", 60.0, 150.0), 40000, np.random.default_rng(5)
    )
    # Sample quantiles of 40,000 draws: standard errors under 1 %.
    assert np.median(lifetimes) == pytest.approx(60.0, rel=0.03)
    assert np.quantile(lifetimes, 0.95) == pytest.approx(150.0, rel=0.04)


def test_exponential_lifetimes_have_their_mean() -> None:
    lifetimes = draw_lifetimes_s(Lifetime("exponential", 30.0), 40000, np.random.default_rng(6))
    # sd of the mean: 30 / sqrt(40000) = 0.15; 5 sd.
    assert float(lifetimes.mean()) == pytest.approx(30.0, abs=0.75)


@given(seed=st.integers(0, 2**32 - 1), rate=st.floats(0.0, 5.0), duration=st.floats(0.0, 200.0))
def test_same_seed_same_pods(seed: int, rate: float, duration: float) -> None:
    workloads = [
        COREDNS,
        JobStream("a", rate, Lifetime("lognormal", 10.0, 40.0)),
        JobStream("b", rate / 2, Lifetime("exponential", 5.0), start_s=duration / 3),
    ]
    first = generate_pods(workloads, duration, np.random.default_rng(seed))
    again = generate_pods(workloads, duration, np.random.default_rng(seed))
    for name in ("workload", "ordinal", "created_s", "lifetime_s", "cpu_millicores"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
    assert np.all(np.diff(first.created_s) >= 0)
    assert np.all(first.created_s < duration)
    assert np.all(first.lifetime_s > 0)


@pytest.mark.parametrize(
    ("workload", "words"),
    [
        (Deployment("web", replicas=-1), "replicas"),
        (Deployment("web", replicas=1, start_s=-5.0), "start_s"),
        (Deployment("web", replicas=1, requests=Resources(cpu_millicores=-1)), "cpu"),
        (Deployment("web", replicas=1, requests=Resources(memory_mib=math.nan)), "memory"),
        (Deployment("", replicas=1), "no name"),
        (JobStream("j", -1.0, Lifetime("fixed", 1.0)), "rate"),
        (JobStream("j", 1.0, Lifetime("fixed", 0.0)), "not positive"),
        (JobStream("j", 1.0, Lifetime("lognormal", 10.0)), "p95"),
        (JobStream("j", 1.0, Lifetime("lognormal", 10.0, 5.0)), "p95"),
        (JobStream("j", 1.0, Lifetime("exponential", 10.0, 50.0)), "only lognormal"),
        (JobStream("j", 1.0, Lifetime("weibull", 10.0)), "unknown"),  # type: ignore[arg-type]
        (JobStream("j", 1.0, Lifetime("fixed", 1.0), start_s=10.0, stop_s=5.0), "before"),
        (DaemonSet("d", requests=Resources(cpu_millicores=math.inf)), "cpu"),
    ],
)
def test_bad_workloads_raise_one_line_errors(workload: object, words: str) -> None:
    with pytest.raises(InvalidWorkloadError, match=words) as caught:
        generate_pods([workload], 100.0, np.random.default_rng(0))  # type: ignore[list-item]
    assert "\n" not in str(caught.value)


def test_pod_table_needs_one_value_per_pod() -> None:
    pods = generate_pods([COREDNS], 10.0, np.random.default_rng(0))
    with pytest.raises(InvalidWorkloadError, match="cpu_millicores"):
        dataclasses.replace(pods, cpu_millicores=np.zeros(3, dtype=np.int64))


def test_bad_arguments_raise() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(InvalidWorkloadError, match="Generator"):
        generate_pods([COREDNS], 10.0, 0)  # type: ignore[arg-type]
    with pytest.raises(InvalidWorkloadError, match="duration"):
        generate_pods([COREDNS], -1.0, rng)
    with pytest.raises(InvalidWorkloadError, match="not a workload"):
        generate_pods(["web"], 10.0, rng)  # type: ignore[list-item]
    with pytest.raises(InvalidWorkloadError, match="count"):
        draw_lifetimes_s(Lifetime("fixed", 1.0), -1, rng)
    with pytest.raises(InvalidWorkloadError, match="node indices"):
        daemonset_pods([AWS_NODE], [-1], 0.0)
    with pytest.raises(InvalidWorkloadError, match="creation times"):
        daemonset_pods([AWS_NODE], [0], math.nan)
