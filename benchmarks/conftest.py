"""Print one table of every benchmark after pytest-benchmark's own: its median, the spread of
its rounds (min - max), the rounds, and its figures (``extra_info``: targets, ratios, counts,
peak memory), so that ``make bench`` shows all the numbers benchmarks/README.md records, in
the form it records them."""

from __future__ import annotations

from typing import Any

import pytest


def _seconds(value: float) -> str:
    """A wall time in the unit that keeps three significant figures readable."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def _figure(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@pytest.hookimpl(trylast=True)  # after pytest-benchmark's own table
def pytest_terminal_summary(terminalreporter: Any, config: Any) -> None:
    session = getattr(config, "_benchmarksession", None)
    benches = [b for b in getattr(session, "benchmarks", []) if getattr(b, "stats", None)]
    if not benches:
        return
    rows = [("benchmark", "median", "min - max", "rounds", "figures (extra_info)")]
    for bench in benches:
        stats = bench.stats
        figures = ", ".join(f"{key}={_figure(value)}" for key, value in bench.extra_info.items())
        rows.append(
            (
                bench.name,
                _seconds(stats.median),
                f"{_seconds(stats.min)} - {_seconds(stats.max)}",
                str(stats.rounds),
                figures or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    terminalreporter.section("benchmark table (median, spread, figures)")
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)]
        terminalreporter.write_line("  ".join([*cells, row[4]]))
