"""``cnisim recommend`` as a user runs it: the JSON the issue names, --out, the table, a Dask
cluster, and bad input."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from clihelp import assert_one_line_error, run_cnisim
from typer.testing import CliRunner

from cnisim.cli import app

TINY = str(Path(__file__).parent / "data" / "recommend-tiny.yaml")
GRID = ("--grid", "WARM_IP_TARGET=2,5", "--grid", "MINIMUM_IP_TARGET=0,10")
runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["recommend", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def report() -> dict:
    code, out, err = run(TINY, *GRID, "--seeds", "2", "-o", "json")
    assert code == 0, err
    return json.loads(out)


def test_json_is_the_object_the_issue_names(report: dict) -> None:
    candidates = report["candidates"]
    assert len(candidates) == 4  # 2 x 2 grid values
    for candidate in candidates:
        assert set(candidate) == {
            "settings", "idle_ips_per_node_mean", "ip_wait_p99_s", "n_ec2_calls",
            "n_throttled", "exhausted_subnets", "pareto",
        }  # fmt: skip
        assert all(isinstance(v, str) for v in candidate["settings"].values())
        assert set(candidate["settings"]) == {"WARM_IP_TARGET", "MINIMUM_IP_TARGET"}
    assert [c["settings"]["WARM_IP_TARGET"] for c in candidates] == ["2", "2", "5", "5"]
    assert any(c["pareto"] for c in candidates)
    assert report["recommended"] is None or report["recommended"] in [
        c["settings"] for c in candidates
    ]
    assert len(report["seeds"]) == 2


def test_subnet_sizing_under_the_current_and_the_recommended_settings(report: dict) -> None:
    """The plan's own settings (WARM_ENI_TARGET=1): one m5.large with 10 pods holds all 3
    ENIs, 30 addresses: a /26 (59 usable, 29 spare). WARM_IP_TARGET=2 or 5 hold 10 + 2 + 2 =
    14 or 10 + 5 + 2 = 17 (MINIMUM_IP_TARGET=10 is met by then): a /27 (27 usable)."""
    (current,) = report["subnet_sizing"]["current"]
    assert (current["az"], current["n_peak_used_ips"], current["prefix_length"]) == (
        "us-east-1a", 30, 26,
    )  # fmt: skip
    assert current["n_headroom_ips"] == 29 and current["ran_dry"] is False
    if report["recommended"] is not None:
        (best,) = report["subnet_sizing"]["recommended"]
        assert best["n_peak_used_ips"] in (14, 17) and best["prefix_length"] == 27


def test_the_table_names_the_pick_and_the_subnet_sizes() -> None:
    code, out, err = run(TINY, *GRID, "--seeds", "1", "--max-wait-p99", "10m")
    assert code == 0, err
    assert "WARM_IP_TARGET" in out and "idle_ips_per_node" in out and "pareto" in out
    assert "recommended: WARM_IP_TARGET=2" in out  # a 10-minute limit: the fewest idle wins
    assert "subnet sizing" in out and "/26" in out and "/27" in out


def test_out_writes_the_plot_and_the_json(tmp_path: Path) -> None:
    out_dir = tmp_path / "rec"
    code, out, err = run(TINY, "--grid", "WARM_IP_TARGET=2,5", "--seeds", "1", "-o", "json",
                         "--out", str(out_dir))  # fmt: skip
    assert code == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == ["recommendation.json", "tradeoff.png"]
    assert (out_dir / "tradeoff.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out_dir / "recommendation.json").read_text()) == json.loads(out)


def test_none_qualifies_is_a_one_line_warning_and_null(tmp_path: Path) -> None:
    # WARM_IP_TARGET=1: pods wait for addresses; no p99 wait fits in 0 s
    code, out, err = run(TINY, "--grid", "WARM_IP_TARGET=1", "--seeds", "1",
                         "--max-wait-p99", "0s", "-o", "json")  # fmt: skip
    assert code == 0
    assert json.loads(out)["recommended"] is None
    (line,) = err.strip().splitlines()
    assert line.startswith("cnisim: warning: no setting qualifies")


def test_a_dask_cluster_gives_the_same_answer_as_the_local_cores() -> None:
    distributed = pytest.importorskip("distributed")
    args = (TINY, "--grid", "WARM_IP_TARGET=2,5", "--seeds", "2", "-o", "json")
    code, local, err = run(*args)
    assert code == 0, err
    with distributed.LocalCluster(
        processes=True, n_workers=2, threads_per_worker=1, host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:  # fmt: skip
        code, on_dask, err = run(*args, "--dask-scheduler", cluster.scheduler_address)
    assert code == 0, err
    assert json.loads(on_dask) == json.loads(local)


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (("--grid", "WARM_IP_TARGT=1,2"), 2, "did you mean WARM_IP_TARGET"),
        (("--grid", "WARM_IP_TARGET=1,x"), 2, "--grid WARM_IP_TARGET=x"),
        (("--grid", "ENABLE_IPv6=true"), 2, "--grid candidate ENABLE_IPv6=true"),
        (("--seeds", "0"), 2, "--seeds"),
        (("--set", "WARM_IP_TARGT=2"), 2, "WARM_IP_TARGT"),
        (("--max-wait-p99", "10"), 2, "duration"),
        (("--desired", "nope=3"), 2, "no node group 'nope'"),
    ],
)
def test_bad_input_is_one_line(args: tuple[str, ...], code: int, fragment: str) -> None:
    got, out, err = run(TINY, *args)
    assert got == code and out == ""
    assert_one_line_error(err, fragment)


def test_installed_command_runs_and_an_unreachable_scheduler_is_one_line(tmp_path: Path) -> None:
    done = run_cnisim("recommend", TINY, "--grid", "WARM_IP_TARGET=2", "--seeds", "1", "-o",
                      "json", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["candidates"][0]["settings"] == {"WARM_IP_TARGET": "2"}
    started = time.monotonic()
    done = run_cnisim("recommend", TINY, "--dask-scheduler", "tcp://127.0.0.1:9", cwd=tmp_path)
    assert time.monotonic() - started < 60
    assert done.returncode == 1 and done.stdout == ""
    assert_one_line_error(done.stderr, "Dask scheduler at tcp://127.0.0.1:9 within 10 s")


def test_a_zone_that_ran_dry_is_sized_from_a_run_on_a_wider_subnet() -> None:
    """The same node in a /27 (27 usable): under WARM_ENI_TARGET=1 it asks for 30 addresses
    (3 ENIs x 10), so the /27 runs dry; run again on a /16 the zone peaks at 30: a /26."""
    dry = str(Path(TINY).with_name("recommend-tiny-dry.yaml"))
    code, out, err = run(dry, "--grid", "WARM_IP_TARGET=2", "--seeds", "1", "-o", "json",
                         "--max-wait-p99", "10m")  # fmt: skip
    assert code == 0, err
    report = json.loads(out)
    assert report["current"]["exhausted_subnets"] == 1
    assert report["current_sized_on_widened_subnets"] is True
    (current,) = report["subnet_sizing"]["current"]
    assert (current["n_peak_used_ips"], current["prefix_length"], current["ran_dry"]) == (
        30, 26, False,
    )  # fmt: skip
    # WARM_IP_TARGET=2 holds 14 (tests/test_sweep.py): it fits the /27, 13 to spare
    assert report["recommended"] == {"WARM_IP_TARGET": "2"}
    (best,) = report["subnet_sizing"]["recommended"]
    assert (best["n_peak_used_ips"], best["prefix_length"]) == (14, 27)
