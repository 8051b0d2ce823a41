"""Tests of the EC2 API model (cnisim.sim.ec2)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnisim.errors import UsageError
from cnisim.sim.ec2 import (
    DEFAULT_BUCKETS,
    DEFAULT_LATENCIES,
    Bucket,
    Ec2Api,
    Ec2Params,
    Ec2Result,
    Latency,
    UnknownEniError,
)
from cnisim.sim.subnet import STATE_SECONDARY, AddressSpace

FIXED_LATENCY_S = {action: 0.25 for action in DEFAULT_LATENCIES}


def fixed_params(**changes: object) -> Ec2Params:
    """Parameters with constant latencies and no jitter, so that times in a trace are exact."""
    latencies = {a: Latency(v, 0.0, v) for a, v in FIXED_LATENCY_S.items()}
    params = Ec2Params(
        latencies=latencies,
        eni_ready_latency=Latency(3.0, 0.0, 3.0),
        imds_poll_jitter_frac=0.0,
    )
    return dataclasses.replace(params, **changes)  # type: ignore[arg-type]


def make_api(
    params: Ec2Params | None = None, seed: int = 0, cidrs: dict[str, str] | None = None
) -> Ec2Api:
    subnet_rng, ec2_rng, _ = np.random.default_rng(seed).spawn(3)
    space = AddressSpace(rng=subnet_rng)
    for subnet_id, cidr in (cidrs or {"a": "10.0.0.0/20"}).items():
        space.add_subnet(subnet_id, cidr)
    return Ec2Api(space, params or fixed_params(), rng=ec2_rng)


def test_published_bucket_sizes_and_refill_rates() -> None:
    # Amazon EC2 Developer Guide, "Request throttling for the Amazon EC2 API", request token
    # bucket sizes and refill rates (uncategorized actions table; mutating actions 50/5;
    # non-mutating 100/20; unfiltered and unpaginated non-mutating 50/10).
    for action in (
        "AssignPrivateIpAddresses",
        "UnassignPrivateIpAddresses",
        "CreateNetworkInterface",
        "DeleteNetworkInterface",
        "ModifyNetworkInterfaceAttribute",
    ):
        assert DEFAULT_BUCKETS[action] == Bucket(100, 5)
    assert DEFAULT_BUCKETS["AttachNetworkInterface"] == Bucket(50, 5)
    assert DEFAULT_BUCKETS["DetachNetworkInterface"] == Bucket(50, 5)
    assert DEFAULT_BUCKETS["DescribeSubnets"] == Bucket(100, 20)
    assert DEFAULT_BUCKETS["DescribeInstances"] == Bucket(50, 10)
    assert DEFAULT_BUCKETS["DescribeNetworkInterfaces"] == Bucket(50, 10)
    # aws/amazon-vpc-cni-k8s pkg/awsutils/awssession/session.go: RetryMaxAttempts 10;
    # aws-sdk-go-v2 retry DefaultMaxBackoff 20 s.
    assert (Ec2Params().max_attempts, Ec2Params().max_backoff_s) == (10, 20.0)


def test_burst_of_150_assigns_lets_exactly_100_through_then_follows_the_refill() -> None:
    api = make_api(cidrs={"a": "10.0.0.0/16"})
    node = api.launch_instance(0.0, "a")
    assert node.eni_id is not None
    results = [api.assign_private_ips(0.0, node.eni_id, 1) for _ in range(150)]
    first = results[:100]
    assert all(r.ok and r.n_throttled == 0 and r.done_s == 0.25 for r in first)
    rest = results[100:]
    assert all(r.n_throttled >= 1 for r in rest)
    assert all(r.ok for r in rest)  # 10 attempts spread over >= 100 s always find a token
    n_throttled = sum(r.n_throttled for r in results)
    assert api.n_throttled_by_action["AssignPrivateIpAddresses"] == n_throttled
    assert api.n_calls_by_action["AssignPrivateIpAddresses"] == 150 + n_throttled
    assert sum(api.n_calls_by_action.values()) == 150 + n_throttled
    assert api.n_sdk_calls_by_action["AssignPrivateIpAddresses"] == 150
    log = api.attempt_log()
    assert log["t_s"].size == 150 + n_throttled
    assert int(log["throttled"].sum()) == n_throttled
    # Tokens used by time T never exceed the 100 burst plus 5 per s of refill.
    granted_s = np.sort(log["t_s"][~log["throttled"]])
    assert np.allclose(granted_s, np.sort([r.done_s - 0.25 for r in results]), rtol=0, atol=1e-9)
    assert (np.arange(1, 151) <= 100 + 5 * granted_s + 1e-9).all()
    assert granted_s[-1] >= (150 - 100) / 5
    assert api.space.available_ip_address_count("a") == 65_531 - 1 - 150


def test_calls_refill_at_the_published_rate() -> None:
    api = make_api()
    node = api.launch_instance(0.0, "a")
    assert node.eni_id is not None
    for _ in range(100):
        api.assign_private_ips(0.0, node.eni_id, 1)
    # 2 s later the bucket holds 10 tokens again: 10 calls pass, the 11th is throttled.
    later = [api.assign_private_ips(2.0, node.eni_id, 1) for _ in range(11)]
    assert [r.n_throttled for r in later[:10]] == [0] * 10
    assert later[10].n_throttled >= 1


def test_last_attempt_fails_with_request_limit_exceeded_after_sdk_backoff() -> None:
    buckets = dict(DEFAULT_BUCKETS) | {"AssignPrivateIpAddresses": Bucket(1, 0.0)}
    api = make_api(fixed_params(buckets=buckets))
    node = api.launch_instance(0.0, "a")
    assert node.eni_id is not None
    assert api.assign_private_ips(5.0, node.eni_id, 2).ok
    before = api.space.available_ip_address_count("a")
    failed = api.assign_private_ips(5.0, node.eni_id, 2)
    assert failed.error == "RequestLimitExceeded"
    assert failed.n_throttled == 10
    assert failed.addresses.size == 0
    assert api.space.available_ip_address_count("a") == before
    # Back-offs before retries 1..9: U*2, U*4, U*8, U*16 s, then five times the 20 s cap.
    waited_s = failed.done_s - 5.0
    assert 100.0 <= waited_s < 100.0 + 2 + 4 + 8 + 16
    assert api.n_calls_by_action["AssignPrivateIpAddresses"] == 1 + 10
    assert api.n_errors_by_code == {"RequestLimitExceeded": 1}


def test_single_attempt_client_fails_at_once() -> None:
    buckets = dict(DEFAULT_BUCKETS) | {"AssignPrivateIpAddresses": Bucket(1, 0.0)}
    api = make_api(fixed_params(buckets=buckets, max_attempts=1))
    node = api.launch_instance(0.0, "a")
    assert node.eni_id is not None
    api.assign_private_ips(0.0, node.eni_id, 1)
    failed = api.assign_private_ips(1.0, node.eni_id, 1)
    assert (failed.error, failed.done_s, failed.n_throttled) == ("RequestLimitExceeded", 1.0, 1)


def test_create_and_attach_eni_makes_ipamds_six_calls_in_order() -> None:
    api = make_api()
    node = api.launch_instance(10.0, "a")
    assert node.instance_id is not None
    eni = api.create_and_attach_eni(10.0, node.instance_id, "a", n_ips=9)
    assert eni.ok and eni.eni_id is not None and eni.primary_ip is not None
    assert eni.addresses.size == 9
    # DescribeSubnets, CreateNetworkInterface, DescribeInstances, AttachNetworkInterface,
    # ModifyNetworkInterfaceAttribute, setupENI's DescribeSubnets at 0.25 s each; the ENI is
    # visible after 3 s and ipamd's metadata polls (0.1 s, doubling) come at 0, 0.1, 0.3, 0.7,
    # 1.5 and 3.1 s.
    assert eni.done_s == pytest.approx(10.0 + 6 * 0.25 + 3.1)
    assert dict(api.n_calls_by_action) == {
        "DescribeSubnets": 2,
        "CreateNetworkInterface": 1,
        "DescribeInstances": 1,
        "AttachNetworkInterface": 1,
        "ModifyNetworkInterfaceAttribute": 1,
    }
    assert api.enis_of(node.instance_id) == [node.eni_id, eni.eni_id]
    assert api.space.available_ip_address_count("a") == 4091 - 1 - 1 - 9
    assert set(api.space.held_by(eni.eni_id).tolist()) == {eni.primary_ip, *eni.addresses.tolist()}


@pytest.mark.parametrize(
    ("visible_after_s", "seen_at_s"),
    # Sleeps of 0.1 * 2**k s capped at 60 s put the 12 polls at 0, 0.1, 0.3, 0.7, 1.5, 3.1,
    # 6.3, 12.7, 25.5, 51.1, 102.3 and 162.3 s ("about 2.7 min worst case"); then ipamd gives up.
    [(0.05, 0.1), (0.3, 0.3), (0.31, 0.7), (5.0, 6.3), (100.0, 102.3), (1000.0, 162.3)],
)
def test_ipamd_sees_a_new_eni_at_its_next_metadata_poll(
    visible_after_s: float, seen_at_s: float
) -> None:
    # aws/amazon-vpc-cni-k8s pkg/awsutils/awsutils.go waitForENIAndIPsAttached: 12 polls,
    # SimpleBackoff(100 ms, 60 s cap, x2); without jitter the schedule is exact.
    params = fixed_params(
        eni_ready_latency=Latency(visible_after_s, 0.0, visible_after_s),
        latencies={a: Latency(1e-9, 0.0, 1e-9) for a in DEFAULT_LATENCIES},
    )
    api = make_api(params)
    node = api.launch_instance(0.0, "a")
    assert node.instance_id is not None
    eni = api.create_and_attach_eni(0.0, node.instance_id, "a", n_ips=1)
    assert eni.done_s == pytest.approx(seen_at_s, abs=1e-6)


def test_metadata_poll_jitter_stays_within_fifteen_percent() -> None:
    api = make_api(fixed_params(imds_poll_jitter_frac=0.15))
    node = api.launch_instance(0.0, "a")
    assert node.instance_id is not None
    waits = []
    for i in range(50):
        result = api.create_and_attach_eni(100.0 * i, node.instance_id, "a", n_ips=1)
        assert result.eni_id is not None
        waits.append(result.done_s - 100.0 * i - 6 * 0.25)
        api.free_eni(100.0 * i + 1, result.eni_id)
    # ENI visible after 3 s: seen at the poll after 0.1+0.2+0.4+0.8+1.6 s of sleeps, each
    # stretched by 0-15 %.
    assert min(waits) >= 3.1 and max(waits) < 3.1 * 1.15
    assert len(set(waits)) > 1


def test_free_eni_calls_describe_detach_sleep_delete_and_returns_addresses_at_issue() -> None:
    api = make_api()
    node = api.launch_instance(0.0, "a")
    assert node.instance_id is not None and node.eni_id is not None
    eni = api.create_and_attach_eni(0.0, node.instance_id, "a", n_prefixes=2)
    assert eni.eni_id is not None
    freed = api.free_eni(100.0, eni.eni_id)
    assert freed.ok
    assert freed.done_s == pytest.approx(100.0 + 0.25 + 0.25 + 2.0 + 0.25)
    assert freed.addresses.size == 1 + 32
    assert api.space.available_ip_address_count("a") == 4091 - 1
    for action in ("DescribeNetworkInterfaces", "DetachNetworkInterface", "DeleteNetworkInterface"):
        assert api.n_calls_by_action[action] == 1
    assert api.enis_of(node.instance_id) == [node.eni_id]
    with pytest.raises(UsageError):
        api.free_eni(101.0, node.eni_id)  # the primary ENI is never freed
    with pytest.raises(UnknownEniError):
        api.free_eni(101.0, eni.eni_id)


def test_subnet_discovery_picks_the_subnet_with_most_free_addresses() -> None:
    api = make_api(cidrs={"node": "10.0.0.0/24", "big": "10.0.16.0/20"})
    node = api.launch_instance(0.0, "node")
    assert node.instance_id is not None
    with_discovery = api.create_and_attach_eni(0.0, node.instance_id, ["node", "big"], n_ips=3)
    assert with_discovery.eni_id is not None
    assert api.subnet_of(with_discovery.eni_id) == "big" == with_discovery.subnet_id
    without = api.create_and_attach_eni(
        0.0, node.instance_id, ["node", "big"], n_ips=3, subnet_discovery=False
    )
    assert without.eni_id is not None
    assert api.subnet_of(without.eni_id) == "node"
    assert api.n_calls_by_action["DescribeSubnets"] == 2 + 1


@pytest.mark.parametrize(
    ("subnet_discovery", "custom_networking", "n_describe"),
    # aws/amazon-vpc-cni-k8s v1.23.1 pkg/awsutils/awsutils.go createENI: GetVpcSubnets with
    # discovery (line 1156), IsSubnetExcluded without (line 1205), none under custom
    # networking (line 1146); pkg/ipamd/ipamd.go setupENI: IsSubnetExcluded when
    # useSubnetDiscovery (line 1296), whatever the networking.
    [(True, False, 2), (False, False, 1), (True, True, 1), (False, True, 0)],
)
def test_describe_subnets_per_eni_follows_create_eni_and_setup_eni(
    subnet_discovery: bool, custom_networking: bool, n_describe: int
) -> None:
    api = make_api(cidrs={"node": "10.0.0.0/24", "pods": "10.0.16.0/20"})
    node = api.launch_instance(0.0, "node")
    assert node.instance_id is not None
    eni = api.create_and_attach_eni(
        0.0,
        node.instance_id,
        "pods",
        n_ips=3,
        subnet_discovery=subnet_discovery,
        custom_networking=custom_networking,
    )
    assert eni.ok and api.subnet_of(eni.eni_id) == "pods"
    assert api.n_calls_by_action["DescribeSubnets"] == n_describe


def test_failed_discovery_asks_a_second_describe_and_without_it_creates_no_eni() -> None:
    # GetVpcSubnets fails, so createENI asks IsSubnetExcluded (a second DescribeSubnets) before
    # falling back to the node's subnet; when that fails too there is no ENI.
    buckets = dict(DEFAULT_BUCKETS)
    buckets["DescribeSubnets"] = Bucket(0, 0.0)
    api = make_api(
        fixed_params(buckets=buckets, max_attempts=1),
        cidrs={"node": "10.0.0.0/24", "big": "10.0.16.0/20"},
    )
    node = api.launch_instance(0.0, "node")
    assert node.instance_id is not None
    eni = api.create_and_attach_eni(0.0, node.instance_id, ["node", "big"], n_ips=1)
    assert eni.error == "RequestLimitExceeded" and eni.eni_id is None
    assert api.n_calls_by_action["DescribeSubnets"] == 2
    assert api.n_calls_by_action["CreateNetworkInterface"] == 0


def test_subnet_discovery_tries_the_next_subnet_when_the_first_cannot_serve() -> None:
    api = make_api(cidrs={"frag": "10.0.0.0/22", "small": "10.0.8.0/26"})
    space = api.space
    # Hold one address in every /28 of "frag": many free IPs, no free /28.
    holder = space.new_owner_id()
    space.allocate_fixed("frag", holder, addresses=np.arange(0, 1024, 16) + 5 + 10 * 2**24)
    node = api.launch_instance(0.0, "small")
    assert node.instance_id is not None
    eni = api.create_and_attach_eni(0.0, node.instance_id, ["small", "frag"], n_prefixes=1)
    assert eni.ok and eni.eni_id is not None
    assert api.subnet_of(eni.eni_id) == "small"
    assert api.n_calls_by_action["CreateNetworkInterface"] == 2
    assert space.failure_counts("frag") == {"InsufficientCidrBlocks": 1}
    # The failed create left nothing behind in "frag".
    assert space.available_ip_address_count("frag") == 1019 - 64


def test_create_eni_reports_insufficient_cidr_blocks_and_holds_nothing() -> None:
    api = make_api(cidrs={"a": "10.0.0.0/27"})
    node = api.launch_instance(0.0, "a")
    assert node.instance_id is not None
    failed = api.create_and_attach_eni(0.0, node.instance_id, "a", n_prefixes=1)
    assert failed.error == "InsufficientCidrBlocks"
    assert failed.eni_id is None and failed.subnet_id == "a"
    assert api.space.available_ip_address_count("a") == 27 - 1
    assert api.enis_of(node.instance_id) == [node.eni_id]
    assert api.n_errors_by_code == {"InsufficientCidrBlocks": 1}


def test_failed_attach_deletes_the_new_eni() -> None:
    buckets = dict(DEFAULT_BUCKETS) | {"AttachNetworkInterface": Bucket(0, 0.0)}
    api = make_api(fixed_params(buckets=buckets, max_attempts=1))
    node = api.launch_instance(0.0, "a")
    assert node.instance_id is not None
    failed = api.create_and_attach_eni(0.0, node.instance_id, "a", n_ips=5)
    assert failed.error == "RequestLimitExceeded"
    assert api.n_calls_by_action["DeleteNetworkInterface"] == 1
    assert api.space.available_ip_address_count("a") == 4091 - 1
    assert api.enis_of(node.instance_id) == [node.eni_id]


def test_unassign_returns_addresses_at_issue() -> None:
    api = make_api()
    node = api.launch_instance(0.0, "a")
    assert node.eni_id is not None
    ips = api.assign_private_ips(0.0, node.eni_id, 6).addresses
    bases = api.assign_prefixes(0.0, node.eni_id, 2).addresses
    api.unassign_private_ips(40.0, node.eni_id, ips[:4])
    result = api.unassign_prefixes(40.0, node.eni_id, bases[:1])
    assert result.ok and result.addresses.tolist() == bases[:1].tolist()
    assert api.space.available_ip_address_count("a") == 4091 - 1 - 2 - 16
    assert api.n_calls_by_action["UnassignPrivateIpAddresses"] == 2


def test_terminate_returns_every_address_of_every_eni() -> None:
    api = make_api(cidrs={"node": "10.0.0.0/24", "pods": "10.1.0.0/20"})
    node = api.launch_instance(0.0, "node")
    assert node.instance_id is not None and node.eni_id is not None
    trunk = api.attach_trunk_eni(0.0, node.instance_id, "node")
    api.assign_private_ips(0.0, node.eni_id, 3)
    api.create_and_attach_eni(0.0, node.instance_id, "pods", n_prefixes=3)
    n_calls = sum(api.n_calls_by_action.values())
    gone = api.terminate_instance(50.0, node.instance_id)
    assert gone.addresses.size == 1 + 1 + 3 + 1 + 48
    assert api.space.available_ip_address_count("node") == 251
    assert api.space.available_ip_address_count("pods") == 4091
    assert sum(api.n_calls_by_action.values()) == n_calls  # DeleteOnTermination: no ipamd call
    assert trunk.eni_id is not None
    with pytest.raises(UnknownEniError):
        api.subnet_of(trunk.eni_id)


def test_trunk_eni_costs_no_ipamd_call_and_is_never_freed() -> None:
    api = make_api()
    node = api.launch_instance(0.0, "a")
    assert node.instance_id is not None
    trunk = api.attach_trunk_eni(0.0, node.instance_id, "a")
    assert trunk.ok and trunk.eni_id is not None and trunk.subnet_id == "a"
    assert trunk.done_s == 0.0 and sum(api.n_calls_by_action.values()) == 0
    assert api.enis_of(node.instance_id) == [node.eni_id, trunk.eni_id]
    assert api.space.held_by(trunk.eni_id).tolist() == [trunk.primary_ip]
    with pytest.raises(UsageError, match="never frees"):
        api.free_eni(1.0, trunk.eni_id)


def test_default_latencies_match_published_orders_of_magnitude() -> None:
    api = make_api(Ec2Params(), cidrs={"a": "10.0.0.0/16"})
    node = api.launch_instance(0.0, "a")
    assert node.eni_id is not None and node.instance_id is not None
    # Spaced 1 s apart, so no bucket ever runs dry.
    assign_s = np.array(
        [api.assign_private_ips(t, node.eni_id, 1).done_s - t for t in range(0, 400)]
    )
    # "typically completes in under a second" (aws-eks-best-practices, prefix mode).
    assert np.quantile(assign_s, 0.95) < 1.0
    eni_s = []
    for i in range(200):
        t = 1000.0 + 2.0 * i
        result = api.create_and_attach_eni(t, node.instance_id, "a", n_ips=1)
        assert result.eni_id is not None
        eni_s.append(result.done_s - t)
        api.free_eni(t, result.eni_id)
    # A new ENI "can take up to 10 seconds" (amazon-vpc-cni-k8s docs/eni-and-ip-target.md).
    assert 2.0 < np.median(eni_s) < 6.0
    assert np.quantile(eni_s, 0.99) <= 10.0


def test_params_are_checked_and_read_only() -> None:
    with pytest.raises(UsageError, match="AttachNetworkInterface"):
        Ec2Params(buckets={"AssignPrivateIpAddresses": Bucket(100, 5)})
    with pytest.raises(UsageError, match="max_attempts"):
        Ec2Params(max_attempts=0)
    with pytest.raises(UsageError, match="eni_ready"):
        Ec2Params(eni_ready_latency=Latency(5.0, 0.3, 1.0))
    with pytest.raises(UsageError, match="DescribeSubnets"):
        Ec2Params(buckets=dict(DEFAULT_BUCKETS) | {"DescribeSubnets": Bucket(-1, 5)})
    buckets = dict(DEFAULT_BUCKETS)
    params = Ec2Params(buckets=buckets)
    buckets["DescribeSubnets"] = Bucket(1, 1)
    assert params.buckets["DescribeSubnets"] == Bucket(100, 20)
    with pytest.raises(TypeError):
        params.buckets["DescribeSubnets"] = Bucket(1, 1)  # type: ignore[index]


def test_describe_counts_one_read_call_and_refuses_mutating_actions() -> None:
    api = make_api()
    result = api.describe(3.0, "DescribeNetworkInterfaces")
    assert result.ok and result.done_s == 3.25
    assert dict(api.n_calls_by_action) == {"DescribeNetworkInterfaces": 1}
    with pytest.raises(UsageError, match="not a Describe"):
        api.describe(3.0, "AttachNetworkInterface")


def replay(seed: int, n_nodes: int) -> list[Ec2Result]:
    api = make_api(Ec2Params(), seed=seed, cidrs={"a": "10.0.0.0/22", "b": "10.0.4.0/24"})
    results: list[Ec2Result] = []
    for i in range(n_nodes):
        node = api.launch_instance(float(i), "a")
        results.append(node)
        if node.instance_id is None or node.eni_id is None:
            continue
        results.append(api.assign_prefixes(float(i), node.eni_id, 1))
        results.append(api.create_and_attach_eni(float(i), node.instance_id, ["a", "b"], n_ips=7))
    return results


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1), n_nodes=st.integers(1, 40))
def test_same_seed_same_calls_same_answers(seed: int, n_nodes: int) -> None:
    first, second = replay(seed, n_nodes), replay(seed, n_nodes)
    assert [(r.done_s, r.error, r.eni_id, r.primary_ip, r.n_throttled) for r in first] == [
        (r.done_s, r.error, r.eni_id, r.primary_ip, r.n_throttled) for r in second
    ]
    assert all(np.array_equal(a.addresses, b.addresses) for a, b in zip(first, second, strict=True))


@settings(max_examples=60, deadline=None)
@given(
    times_s=st.lists(st.floats(min_value=0.0, max_value=60.0), min_size=20, max_size=300),
    in_order=st.booleans(),
    capacity=st.integers(min_value=1, max_value=30),
    refill_per_s=st.sampled_from([0.5, 2.0, 5.0, 20.0]),
)
def test_token_bucket_never_grants_more_than_burst_plus_refill(
    times_s: list[float], in_order: bool, capacity: int, refill_per_s: float
) -> None:
    buckets = dict(DEFAULT_BUCKETS) | {"DescribeSubnets": Bucket(capacity, refill_per_s)}
    api = make_api(fixed_params(buckets=buckets, max_attempts=1))
    for t_s in sorted(times_s) if in_order else times_s:
        api.describe(t_s, "DescribeSubnets")
    log = api.attempt_log()
    granted_s = np.sort(log["t_s"][~log["throttled"]])
    assert granted_s.size == len(times_s) - api.n_throttled_by_action["DescribeSubnets"]
    # In every window [a, b] of simulated time, grants <= capacity + refill * (b - a).
    for i in range(granted_s.size):
        n_in_window = np.arange(1, granted_s.size - i + 1)
        window_s = granted_s[i:] - granted_s[i]
        assert (n_in_window <= capacity + refill_per_s * window_s + 1e-9).all()
    if in_order:
        # A full bucket grants the first `capacity` calls whatever their times.
        assert granted_s.size >= min(capacity, len(times_s))


ec2_operation = st.tuples(
    st.sampled_from(["launch", "ips", "prefixes", "eni", "unassign", "free", "terminate"]),
    st.integers(min_value=0, max_value=12),
    st.integers(min_value=0, max_value=5),
)


@settings(max_examples=50, deadline=None)
@given(
    ops=st.lists(ec2_operation, min_size=5, max_size=40),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_random_ec2_sequences_keep_subnet_and_eni_books_consistent(
    ops: list[tuple[str, int, int]], seed: int
) -> None:
    api = make_api(Ec2Params(), seed=seed, cidrs={"a": "10.0.0.0/25", "b": "10.0.0.128/26"})
    space = api.space
    instances: list[int] = []
    t_s = 0.0
    for kind, n, pick in ops:
        t_s += 1.0
        enis = [e for i in instances for e in api.enis_of(i)]
        if kind == "launch":
            result = api.launch_instance(t_s, "ab"[pick % 2])
            if result.instance_id is not None and result.ok:
                instances.append(result.instance_id)
        elif not instances:
            continue
        elif kind in ("ips", "prefixes"):
            eni = enis[pick % len(enis)]
            before = space.held_by(eni)
            result = (
                api.assign_private_ips(t_s, eni, n)
                if kind == "ips"
                else api.assign_prefixes(t_s, eni, n % 3)
            )
            n_new = space.held_by(eni).size - before.size
            assert n_new == (result.addresses.size * (1 if kind == "ips" else 16))
            assert result.ok or n_new == 0
        elif kind == "eni":
            result = api.create_and_attach_eni(
                t_s, instances[pick % len(instances)], ["a", "b"], n_ips=n
            )
            if result.ok:
                assert result.eni_id is not None
                assert space.held_by(result.eni_id).size == 1 + n
        elif kind == "unassign":
            eni = enis[pick % len(enis)]
            secondaries = [
                a
                for a in space.held_by(eni).tolist()
                if space.state_of(api.subnet_of(eni), [a])[0] == STATE_SECONDARY
            ]
            api.unassign_private_ips(t_s, eni, secondaries[:n])
        elif kind == "free":
            freeable = [e for i in instances for e in api.enis_of(i)[1:]]
            if freeable:
                freed = api.free_eni(t_s, freeable[pick % len(freeable)])
                assert freed.addresses.size >= 1
        else:
            api.terminate_instance(t_s, instances.pop(pick % len(instances)))
        # Every held address belongs to a live ENI; the subnets' counts agree with the ENIs.
        live = [e for i in instances for e in api.enis_of(i)]
        n_held = sum(space.held_by(e).size for e in live)
        n_free = space.available_ip_address_count("a") + space.available_ip_address_count("b")
        assert n_held + n_free == (128 - 5) + (64 - 5)
        all_held = np.concatenate([space.held_by(e) for e in live] + [np.empty(0, np.uint32)])
        assert np.unique(all_held).size == all_held.size
    assert sum(api.n_sdk_calls_by_action.values()) <= sum(api.n_calls_by_action.values())
    assert api.attempt_log()["t_s"].size == sum(api.n_calls_by_action.values())
    for instance_id in instances:
        api.terminate_instance(t_s, instance_id)
    assert space.available_ip_address_count("a") == 123
    assert space.available_ip_address_count("b") == 59


def test_retry_quota_of_a_node_runs_out_after_eleven_failed_calls() -> None:
    # aws-sdk-go-v2 aws/retry: DefaultRetryRateTokens 500, DefaultRetryCost 5: a call that
    # fails after 10 attempts spends 9 x 5 = 45 tokens.
    buckets = dict(DEFAULT_BUCKETS) | {"AssignPrivateIpAddresses": Bucket(0, 0.0)}
    api = make_api(fixed_params(buckets=buckets))
    node = api.launch_instance(0.0, "a")
    other = api.launch_instance(0.0, "a")
    assert node.eni_id is not None and node.instance_id is not None
    assert other.eni_id is not None and other.instance_id is not None
    for i in range(11):
        failed = api.assign_private_ips(1000.0 * i, node.eni_id, 1)
        assert (failed.error, failed.n_throttled) == ("RequestLimitExceeded", 10)
    assert api.retry_quota_left(node.instance_id) == 500 - 11 * 45
    # 5 tokens left: one retry, then the quota stops the call after its 2nd attempt.
    short = api.assign_private_ips(20_000.0, node.eni_id, 1)
    assert short.n_throttled == 2 and short.error == "RequestLimitExceeded"
    # Empty quota: the first throttle ends the call at once, with no back-off.
    at_once = api.assign_private_ips(30_000.0, node.eni_id, 1)
    assert (at_once.n_throttled, at_once.done_s) == (1, 30_000.0)
    assert api.n_retry_quota_exhausted_by_action["AssignPrivateIpAddresses"] == 2
    # Each node has its own client and quota.
    assert api.assign_private_ips(30_000.0, other.eni_id, 1).n_throttled == 10
    assert api.retry_quota_left(other.instance_id) == 455


def test_successful_attempts_refill_the_retry_quota() -> None:
    buckets = dict(DEFAULT_BUCKETS) | {
        "AssignPrivateIpAddresses": Bucket(0, 0.0),
        "DescribeSubnets": Bucket(1, 1000.0),
    }
    api = make_api(fixed_params(buckets=buckets))
    node = api.launch_instance(0.0, "a")
    assert node.eni_id is not None and node.instance_id is not None
    api.assign_private_ips(0.0, node.eni_id, 1)
    assert api.retry_quota_left(node.instance_id) == 455
    # First-attempt success: +1 (NoRetryIncrement).
    assert api.describe(100.0, "DescribeSubnets", node.instance_id).n_throttled == 0
    assert api.retry_quota_left(node.instance_id) == 456
    # Throttled once (-5), then the retry succeeds: its 5 come back, plus 1.
    retried = api.describe(100.0, "DescribeSubnets", node.instance_id)
    assert retried.ok and retried.n_throttled == 1
    assert api.retry_quota_left(node.instance_id) == 457
    # Calls made without a client use no quota.
    api.describe(200.0, "DescribeSubnets")
    assert api.retry_quota_left(node.instance_id) == 457


def test_retry_quota_can_be_switched_off() -> None:
    buckets = dict(DEFAULT_BUCKETS) | {"AssignPrivateIpAddresses": Bucket(0, 0.0)}
    api = make_api(fixed_params(buckets=buckets, retry_quota_tokens=None))
    node = api.launch_instance(0.0, "a")
    assert node.eni_id is not None
    for i in range(20):
        assert api.assign_private_ips(1000.0 * i, node.eni_id, 1).n_throttled == 10
    assert not api.n_retry_quota_exhausted_by_action


# ---------------------------------------------- branch ENIs (VPC resource controller, SGP)
def test_branch_eni_create_and_delete_calls_and_times() -> None:
    # CreateAndAssociateBranchENIs: CreateNetworkInterface then AssociateTrunkInterface;
    # deleteENI: DisassociateTrunkInterface then DeleteNetworkInterface (0.25 s each here).
    api = make_api(cidrs={"a": "10.0.0.0/24"})
    node = api.launch_instance(0.0, "a")
    assert node.instance_id is not None and node.eni_id is not None
    api.attach_trunk_eni(0.0, node.instance_id, "a")
    branch = api.create_branch_eni(10.0, node.instance_id, "a")
    assert branch.ok and branch.eni_id is not None and branch.done_s == 10.5
    assert branch.addresses.tolist() == [branch.primary_ip]
    assert api.space.held_by(branch.eni_id).tolist() == [branch.primary_ip]
    assert api.space.available_ip_address_count("a") == 251 - 3
    # ipamd's view of the instance has no branch ENI; the controller's has it
    assert branch.eni_id not in api.enis_of(node.instance_id)
    assert api.branch_enis_of(node.instance_id) == [branch.eni_id]
    with pytest.raises(UsageError, match="never frees"):
        api.free_eni(11.0, branch.eni_id)
    with pytest.raises(UsageError, match="not a branch"):
        api.delete_branch_eni(11.0, node.eni_id)
    gone = api.delete_branch_eni(70.0, branch.eni_id)
    assert gone.ok and gone.done_s == 70.5 and gone.addresses.tolist() == [branch.primary_ip]
    assert api.space.available_ip_address_count("a") == 251 - 2
    assert api.branch_enis_of(node.instance_id) == []
    assert {a: api.n_sdk_calls_by_action[a] for a in DEFAULT_BUCKETS if "Trunk" in a} == {
        "AssociateTrunkInterface": 1,
        "DisassociateTrunkInterface": 1,
    }
    assert api.n_calls_by_action["CreateNetworkInterface"] == 1
    assert api.n_calls_by_action["DeleteNetworkInterface"] == 1


def test_branch_eni_failures_hold_no_address() -> None:
    api = make_api(
        fixed_params(
            buckets=dict(DEFAULT_BUCKETS) | {"AssociateTrunkInterface": Bucket(0, 0.0)},
            controller_max_attempts=1,
        ),
        cidrs={"a": "10.0.0.0/28"},  # 11 usable addresses
    )
    node = api.launch_instance(0.0, "a")
    assert node.instance_id is not None
    # association refused: the new ENI is deleted again (Create, Associate, Delete)
    refused = api.create_branch_eni(1.0, node.instance_id, "a")
    assert refused.error == "RequestLimitExceeded" and refused.done_s == 1.5
    assert api.n_calls_by_action["DeleteNetworkInterface"] == 1
    assert api.space.available_ip_address_count("a") == 10
    # a full subnet: CreateNetworkInterface answers InsufficientFreeAddressesInSubnet
    api.assign_private_ips(2.0, node.eni_id, 10)  # type: ignore[arg-type]
    full = api.create_branch_eni(3.0, node.instance_id, "a")
    assert full.error == "InsufficientFreeAddressesInSubnet" and full.eni_id is None
    assert api.n_errors_by_code == {
        "RequestLimitExceeded": 1,
        "InsufficientFreeAddressesInSubnet": 1,
    }
    with pytest.raises(UnknownEniError):
        api.create_branch_eni(3.0, 99, "a")


def test_terminate_returns_branch_enis() -> None:
    api = make_api(cidrs={"a": "10.0.0.0/24"})
    node = api.launch_instance(0.0, "a")
    assert node.instance_id is not None
    for _ in range(3):
        assert api.create_branch_eni(0.0, node.instance_id, "a").ok
    assert api.space.available_ip_address_count("a") == 251 - 4
    gone = api.terminate_instance(10.0, node.instance_id)
    assert gone.addresses.size == 4
    assert api.space.available_ip_address_count("a") == 251
    assert api.branch_enis_of(node.instance_id) == []


def test_controller_calls_use_its_own_client_three_attempts() -> None:
    # vpc-resource-controller pkg/aws/ec2/api/wrapper.go: MaxRetries = 3 attempts per call on
    # the controller's own client; ipamd's (aws-node) 10 attempts and the node's retry quota
    # are not involved.
    api = make_api(
        fixed_params(buckets=dict(DEFAULT_BUCKETS) | {"AssociateTrunkInterface": Bucket(0, 0.0)})
    )
    node = api.launch_instance(0.0, "a")
    assert node.instance_id is not None
    refused = api.create_branch_eni(0.0, node.instance_id, "a")
    assert refused.error == "RequestLimitExceeded" and refused.n_throttled == 3
    assert api.n_calls_by_action["AssociateTrunkInterface"] == 3
    assert api.retry_quota_left(node.instance_id) == 500
