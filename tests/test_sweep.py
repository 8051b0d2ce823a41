"""Sweeps (:mod:`cnisim.sweep`): one run's row derived by hand, seeds, and the same rows on the
process pool and on a Dask ``distributed.LocalCluster`` of separate processes."""

from __future__ import annotations

import pickle
import socket
import time
from pathlib import Path

import pytest

from cnisim.catalog import load_catalog
from cnisim.errors import CnisimError
from cnisim.io import load_plan
from cnisim.plan import Plan
from cnisim.sweep import SweepError, run_one, run_sweep, spawn_seeds

TINY = Path(__file__).parent / "data" / "recommend-tiny.yaml"
CATALOG = load_catalog()
SETTINGS = [{"WARM_IP_TARGET": "2"}, {"WARM_ENI_TARGET": "1"}, {"WARM_IP_TARGET": "5"}]


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan(TINY, catalog=CATALOG)


def test_a_run_reports_the_peak_the_warm_pool_rule_gives(plan: Plan) -> None:
    """One m5.large (3 ENIs x 10 addresses, the first of each ENI its primary) with 10 pods
    that need an address. WARM_IP_TARGET=2: 10 + 2 = 12 secondary addresses, 9 on the first
    ENI and 3 on a second, plus the 2 ENI primaries (the first is the node's own address): 14
    in use at the peak, 2 idle once the pods run. WARM_ENI_TARGET=1: a whole ENI's worth free
    besides the 10, so all 3 ENIs: 30 in use."""
    row = run_one(plan, CATALOG, {"WARM_IP_TARGET": "2"}, seed=1, candidate=4)
    assert (row.candidate, row.seed, row.settings) == (4, 1, {"WARM_IP_TARGET": "2"})
    assert row.peak_used_ips_by_az == {"us-east-1a": 14}
    assert row.ran_dry_by_az == {"us-east-1a": False}
    assert row.n_exhausted_subnets == 0 and row.n_throttled == 0
    assert 0 < row.idle_ips_per_node_mean <= 2 and row.n_ec2_calls > 0
    eni = run_one(plan, CATALOG, {"WARM_ENI_TARGET": "1"}, seed=1)
    assert eni.peak_used_ips_by_az == {"us-east-1a": 30}
    assert eni.idle_ips_per_node_mean > row.idle_ips_per_node_mean


def test_a_run_is_a_pure_function_of_plan_settings_and_seed(plan: Plan) -> None:
    first = run_one(plan, CATALOG, SETTINGS[0], seed=7)
    assert run_one(plan, CATALOG, SETTINGS[0], seed=7) == first


def test_seeds_are_spawned_reproducibly_and_differ() -> None:
    seeds = spawn_seeds(42, 3)
    assert seeds == spawn_seeds(42, 3) and len(set(seeds)) == 3
    assert spawn_seeds(42, 2) == seeds[:2]  # more seeds extend the list, not reshuffle it
    assert spawn_seeds(43, 3) != seeds
    assert all(0 <= s < 2**32 for s in seeds)


def test_a_plan_pickles_and_comes_back_equal(plan: Plan) -> None:
    # its read-only mappings (MappingProxyType) travel as dicts and come back read-only
    back = pickle.loads(pickle.dumps(plan))
    assert back == plan
    with pytest.raises(TypeError):
        back.aws_node.env["WARM_IP_TARGET"] = "1"  # type: ignore[index]


def test_rows_come_back_in_task_order(plan: Plan) -> None:
    seeds = [3, 4]
    rows = run_sweep(plan, CATALOG, SETTINGS, seeds, n_workers=2)
    assert [(r.candidate, r.seed) for r in rows] == [(c, s) for c in range(3) for s in seeds]
    assert [r.settings for r in rows[::2]] == SETTINGS
    assert run_sweep(plan, CATALOG, [], seeds) == []


def test_the_process_pool_and_a_dask_cluster_give_identical_rows(plan: Plan) -> None:
    distributed = pytest.importorskip("distributed")
    seeds = spawn_seeds(0, 2)
    done: list[tuple[int, int]] = []
    on_pool = run_sweep(plan, CATALOG, SETTINGS, seeds, n_workers=2)
    with (
        distributed.LocalCluster(
            processes=True,
            n_workers=2,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        by_address = run_sweep(
            plan, CATALOG, SETTINGS, seeds, dask=cluster.scheduler_address,
            progress=lambda n, total: done.append((n, total)),
        )  # fmt: skip
        by_client = run_sweep(plan, CATALOG, SETTINGS, seeds, dask=client)
        # the runs ran in the workers, not here
        assert len(client.scheduler_info()["workers"]) == 2
    assert by_address == on_pool == by_client
    assert done == [(n, 6) for n in range(1, 7)]


def test_an_unreachable_scheduler_is_one_error_within_the_timeout(plan: Plan) -> None:
    pytest.importorskip("distributed")
    started = time.monotonic()
    with pytest.raises(SweepError, match=r"tcp://127\.0\.0\.1:9 within 1 s"):
        run_sweep(plan, CATALOG, SETTINGS, [0], dask="tcp://127.0.0.1:9", dask_timeout_s=1.0)
    assert time.monotonic() - started < 10


def test_a_server_that_never_answers_does_not_hang_the_sweep(plan: Plan) -> None:
    """A port that accepts connections and says nothing (a dashboard, a proxy): Dask's own
    timeout covers the connection, not its handshake; the sweep gives up by its deadline."""
    pytest.importorskip("distributed")
    with socket.create_server(("127.0.0.1", 0)) as server:  # listens; never accepts or answers
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        started = time.monotonic()
        with pytest.raises(SweepError, match="within 1 s"):
            run_sweep(plan, CATALOG, SETTINGS, [0], dask=address, dask_timeout_s=1.0)
        assert time.monotonic() - started < 10


def test_a_runs_own_error_comes_back_as_itself(plan: Plan) -> None:
    # ipamd refuses IPv4 and IPv6 both on: the worker's PlanError is raised here, one line
    with pytest.raises(CnisimError, match="ENABLE_IPv4 and ENABLE_IPv6 are both true"):
        run_sweep(plan, CATALOG, [{"ENABLE_IPv6": "true"}, *SETTINGS], [0, 1], n_workers=2)
