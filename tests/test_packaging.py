"""cnisim installed from its wheel (not editable) works from any directory: its data travels."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (built,) = out.glob("cnisim-*.whl")
    return built


def test_wheel_carries_the_snapshot(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for data_file in (
        "instance-types.json.gz",
        "instance-types.tsv",
        "instance-types.provenance.json",
        "karpenter-vpclimits.tsv",
    ):
        assert f"cnisim/data/{data_file}" in names
    assert "cnisim/cli.py" in names and "cnisim/sim/engine.py" in names


def test_unpacked_wheel_answers_from_another_directory(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = (
        "import sys, cnisim\n"
        "from cnisim.cli import main\n"
        "print(cnisim.__file__)\n"
        "sys.argv = ['cnisim', 'maxpods', 't3.large']\n"
        "main()\n"
    )
    # PYTHONPATH puts the unpacked wheel ahead of the editable install of the checkout.
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    module_file, answer = done.stdout.splitlines()
    assert Path(module_file).is_relative_to(site)
    assert answer == "35"
