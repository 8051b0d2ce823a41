"""benchmarks/README.md names every benchmark, and its table has the form make bench prints."""

from __future__ import annotations

import ast
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).parent.parent
BENCHMARKS = ROOT / "benchmarks"
README = (BENCHMARKS / "README.md").read_text()


def benchmark_names() -> dict[str, list[str]]:
    """Each benchmark file's test functions, read from its source."""
    names = {}
    for path in sorted(BENCHMARKS.glob("test_*.py")):
        tree = ast.parse(path.read_text())
        names[path.name] = [
            node.name
            for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
        ]
    return names


def conftest() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_conftest", BENCHMARKS / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def readme_table() -> list[list[str]]:
    """The rows of the README's figures table (header first), cells stripped."""
    rows = [line for line in README.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows]


def test_every_benchmark_is_described() -> None:
    names = benchmark_names()
    assert sum(len(tests) for tests in names.values()) >= 24  # 24 today: none dropped unseen
    for file, tests in names.items():
        assert f"`{file}`" in README, file
        for test in tests:
            assert f"`{test}`" in README, test


def test_the_table_has_the_columns_make_bench_prints() -> None:
    header, separator, *rows = readme_table()
    assert tuple(header) == conftest().COLUMNS
    assert set("".join(separator)) <= {"-", " "}
    assert rows


def test_every_benchmark_has_a_row_and_every_row_a_benchmark() -> None:
    _, _, *rows = readme_table()
    in_table = {re.sub(r"\[.*\]$", "", row[0].strip("`")) for row in rows}
    in_code = {test for tests in benchmark_names().values() for test in tests}
    assert in_table == in_code


def test_make_bench_prints_the_table(tmp_path: Path) -> None:
    """The conftest hook on a tiny benchmark: one table row with its target and figures."""
    shutil.copy(BENCHMARKS / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_tiny.py").write_text(
        "def test_tiny(benchmark):\n"
        "    benchmark.pedantic(sum, args=([1, 2],), rounds=3, iterations=1)\n"
        "    benchmark.extra_info.update({'target': 'median <= 1 s', 'speedup': 12.345678})\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--benchmark-only", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "benchmark table" in line)
    header, row = lines[start + 1].split(), lines[start + 2]
    assert header[:2] == ["benchmark", "median"]
    assert row.startswith("test_tiny ")
    assert "  3  " in row and "median <= 1 s" in row and row.endswith("speedup=12.35")
    assert "target" not in row.split("median <= 1 s")[1]  # the target is not a figure too


def test_seconds_picks_a_readable_unit() -> None:
    seconds = conftest().seconds
    assert [seconds(v) for v in (45.9486, 0.0118467, 6.68e-05, 4e-8)] == [
        "45.9 s",
        "11.8 ms",
        "66.8 us",
        "40 ns",
    ]
