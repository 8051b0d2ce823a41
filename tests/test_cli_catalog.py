"""``cnisim catalog ...`` through typer's CliRunner and as the installed console script."""

from __future__ import annotations

import importlib
import json
import os
import socket
from pathlib import Path

import pytest
from clihelp import MOTO_TIMEOUT, assert_one_line_error, run_cnisim
from typer.main import get_command
from typer.testing import CliRunner

from cnisim.catalog import PROVENANCE_FILE, RAW_FILE, TABLE_FILE, load_catalog
from cnisim.cli import app

PACKAGED_DIR = Path(str(importlib.import_module("cnisim.data").__file__)).parent
SNAPSHOT_FILES = (RAW_FILE, TABLE_FILE, PROVENANCE_FILE)

runner = CliRunner()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def copy_packaged_snapshot(directory: Path) -> dict[str, bytes]:
    directory.mkdir(parents=True, exist_ok=True)
    for name in SNAPSHOT_FILES:
        (directory / name).write_bytes((PACKAGED_DIR / name).read_bytes())
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def files_of(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def test_every_command_has_help_with_an_example() -> None:
    root = get_command(app)
    commands = [((), root)]
    seen = []
    while commands:
        path, command = commands.pop()
        seen.append(" ".join(path))
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, path
        assert "Example" in result.stdout, path
        for name, sub in getattr(command, "commands", {}).items():
            commands.append(((*path, name), sub))
    assert {"catalog refresh", "catalog info", "maxpods", "describe", "warmpool"} <= set(seen)


def test_info_prints_the_packaged_provenance() -> None:
    result = runner.invoke(app, ["catalog", "info"])
    assert result.exit_code == 0, result.output
    provenance = load_catalog().provenance
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines())
    assert lines["count"].strip() == "1395"
    assert lines["region"].strip() == "us-east-1"
    assert lines["retrieved"].strip() == provenance["retrieved_at_utc"]
    assert lines["source"].strip() == provenance["source"]
    assert "moto 5.2.5" in lines["note"]


def test_info_on_a_directory_without_a_snapshot(tmp_path: Path) -> None:
    result = runner.invoke(app, ["catalog", "info", "--catalog", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert_one_line_error(result.stderr, PROVENANCE_FILE, "cnisim catalog refresh --output")


def test_refresh_requires_output() -> None:
    result = runner.invoke(app, ["catalog", "refresh", "--region", "us-east-1"])
    assert result.exit_code == 2
    assert "--output" in result.stderr


def test_version() -> None:
    from cnisim import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"cnisim {__version__}"


@pytest.mark.usefixtures("aws_credentials")
def test_cli_runner_refresh_against_moto_server_replaces_an_old_snapshot(
    tmp_path: Path, moto_endpoint: str
) -> None:
    copy_packaged_snapshot(tmp_path)
    (tmp_path / TABLE_FILE).write_text("stale")
    args = ["catalog", "refresh", "-r", "eu-west-1", "--endpoint-url", moto_endpoint]
    args += MOTO_TIMEOUT
    result = runner.invoke(app, [*args, "--output", str(tmp_path), "--note", "cli test"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"wrote 1395 instance types from {moto_endpoint}")
    provenance = json.loads((tmp_path / PROVENANCE_FILE).read_text())
    assert provenance["source"] == moto_endpoint and provenance["region"] == "eu-west-1"
    assert provenance["note"] == "cli test"
    loaded = load_catalog(tmp_path)
    assert len(loaded) == 1395 and loaded.provenance == provenance
    assert sorted(files_of(tmp_path)) == sorted(SNAPSHOT_FILES)  # no temp files left
    assert all(os.stat(tmp_path / name).st_mode & 0o777 == 0o644 for name in SNAPSHOT_FILES)
    # moto serves the same records in every region: the table equals the packaged one.
    assert (tmp_path / TABLE_FILE).read_bytes() == (PACKAGED_DIR / TABLE_FILE).read_bytes()


@pytest.mark.usefixtures("aws_credentials")
def test_installed_command_refreshes_from_moto_server_then_reads_it_back(
    tmp_path: Path, moto_endpoint: str
) -> None:
    out = tmp_path / "snap"
    refreshed = run_cnisim(
        "catalog",
        "refresh",
        "--region",
        "us-east-1",
        "--endpoint-url",
        moto_endpoint,
        "--output",
        "snap",  # relative to the working directory
        *MOTO_TIMEOUT,
        cwd=tmp_path,
    )
    assert refreshed.returncode == 0, refreshed.stderr
    assert refreshed.stderr == ""
    assert (out / RAW_FILE).read_bytes() == (PACKAGED_DIR / RAW_FILE).read_bytes()
    info = run_cnisim("catalog", "info", "--catalog", str(out), cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    assert f"source:       {moto_endpoint}" in info.stdout
    assert "count:        1395" in info.stdout


def test_installed_command_without_credentials_fails_in_one_line(
    tmp_path: Path, aws_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    before = copy_packaged_snapshot(tmp_path / "snap")
    result = run_cnisim(
        "catalog",
        "refresh",
        "--region",
        "us-east-1",
        "--endpoint-url",
        closed_port_url(),
        "--output",
        "snap",
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert_one_line_error(result.stderr, "no usable AWS credentials", "aws configure")
    assert files_of(tmp_path / "snap") == before


@pytest.mark.usefixtures("aws_credentials")
def test_installed_command_with_unreachable_endpoint_fails_in_one_line(tmp_path: Path) -> None:
    before = copy_packaged_snapshot(tmp_path / "snap")
    url = closed_port_url()
    result = run_cnisim(
        "catalog",
        "refresh",
        "-r",
        "us-east-1",
        "--endpoint-url",
        url,
        "--output",
        "snap",
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert_one_line_error(result.stderr, "cannot reach EC2", url)
    assert files_of(tmp_path / "snap") == before


@pytest.mark.usefixtures("aws_credentials")
@pytest.mark.parametrize(
    ("args", "exit_code", "fragment"),
    [
        (["--profile", "nosuchprofile", "-r", "us-east-1"], 2, "nosuchprofile"),
        ([], 2, "pass --region"),
        (["-r", "us-east-1", "--endpoint-url", "foo"], 2, "full URL"),
    ],
)
def test_cli_runner_usage_errors_are_one_line(
    tmp_path: Path, args: list[str], exit_code: int, fragment: str
) -> None:
    result = runner.invoke(app, ["catalog", "refresh", *args, "--output", str(tmp_path)])
    assert result.exit_code == exit_code
    assert_one_line_error(result.stderr, fragment)
    assert list(tmp_path.iterdir()) == []


def test_info_refuses_a_snapshot_whose_raw_file_is_truncated(tmp_path: Path) -> None:
    # Issue 7: info printed the recorded checksum instead of checking it.
    copy_packaged_snapshot(tmp_path)
    raw = tmp_path / RAW_FILE
    raw.write_bytes(raw.read_bytes()[:1000])
    result = runner.invoke(app, ["catalog", "info", "--catalog", str(tmp_path)])
    assert result.exit_code == 1 and result.stdout == ""
    assert_one_line_error(result.stderr, RAW_FILE, "sha256", "cnisim catalog refresh --output")
    ok = runner.invoke(app, ["catalog", "info"])
    assert "(verified)" in ok.stdout
