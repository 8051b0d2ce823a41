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
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The wheel pip builds from the checkout, and what the build printed (verbose)."""
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    (wheel_file,) = out.glob("cnisim-*.whl")
    return wheel_file, done.stdout + done.stderr


@pytest.fixture(scope="module")
def wheel(built: tuple[Path, str]) -> Path:
    return built[0]


def test_build_prints_no_deprecation_and_declares_the_license(built: tuple[Path, str]) -> None:
    # Issue 7: the license table gave a SetuptoolsDeprecationWarning among make run's output;
    # an SPDX string (PEP 639, setuptools >= 77) becomes the License-Expression field.
    wheel_file, log = built
    assert "Deprecat" not in log, log[-2000:]
    with zipfile.ZipFile(wheel_file) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        assert "License-Expression: Apache-2.0" in archive.read(metadata).decode()


def test_make_setup_is_quiet_unless_it_fails() -> None:
    # Issue 7: make run printed ~170 lines of pip output before the answer.
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("$(BIN)/cnisim: pyproject.toml", 1)[1].split("\n\n", 1)[0]
    installs = [line for line in recipe.splitlines() if "install" in line]
    assert installs and all("> $(SETUP_LOG)" in line for line in installs)
    assert all("|| { cat $(SETUP_LOG)" in line for line in installs)


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
