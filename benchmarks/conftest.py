"""Print one table of every benchmark after pytest-benchmark's own: its median, the spread of
its rounds (min - max), the rounds, its target and its other figures (``extra_info``: ratios,
counts, peak memory), so that ``make bench`` shows every number benchmarks/README.md records,
in the form it records them."""

from __future__ import annotations

from typing import Any, Final

import pytest

#: The table's columns, as benchmarks/README.md repeats them (tests/test_bench_readme.py).
COLUMNS: Final = ("benchmark", "median", "min - max", "rounds", "target", "figures (extra_info)")


def seconds(value: float) -> str:
    """A wall time in the unit that keeps three significant figures readable."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def _figure(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def target_of(extra_info: dict[str, Any]) -> str:
    """The benchmark's target: ``target`` as written, ``target_s`` and ``target_ratio`` as
    upper bounds."""
    parts = []
    if "target" in extra_info:
        parts.append(str(extra_info["target"]))
    if "target_s" in extra_info:
        parts.append(f"<= {extra_info['target_s']:g} s")
    if "target_ratio" in extra_info:
        parts.append(f"ratio <= {extra_info['target_ratio']:g}x")
    return ", ".join(parts) or "-"


def table_rows(benches: list[Any]) -> list[tuple[str, ...]]:
    """One row per timed benchmark, in COLUMNS' order."""
    rows = []
    for bench in benches:
        stats = bench.stats
        figures = ", ".join(
            f"{key}={_figure(value)}"
            for key, value in bench.extra_info.items()
            if key not in ("target", "target_s", "target_ratio")
        )
        rows.append(
            (
                bench.name,
                seconds(stats.median),
                f"{seconds(stats.min)} - {seconds(stats.max)}",
                str(stats.rounds),
                target_of(bench.extra_info),
                figures or "-",
            )
        )
    return rows


@pytest.hookimpl(trylast=True)  # after pytest-benchmark's own table
def pytest_terminal_summary(terminalreporter: Any, config: Any) -> None:
    session = getattr(config, "_benchmarksession", None)
    benches = [b for b in getattr(session, "benchmarks", []) if getattr(b, "stats", None)]
    if not benches:
        return
    rows = [COLUMNS, *table_rows(benches)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    terminalreporter.section("benchmark table (median, spread, target, figures)")
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        terminalreporter.write_line("  ".join([*cells, row[-1]]))
