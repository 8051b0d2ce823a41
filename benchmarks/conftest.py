"""Print every benchmark's figures (``extra_info``: ratios, counts, peak memory) after the
timing table, so that ``make bench`` shows all the numbers the README quotes."""

from __future__ import annotations

from typing import Any


def pytest_terminal_summary(terminalreporter: Any, config: Any) -> None:
    session = getattr(config, "_benchmarksession", None)
    benches = [b for b in getattr(session, "benchmarks", []) if b.extra_info]
    if not benches:
        return
    terminalreporter.section("benchmark figures (extra_info)")
    for bench in benches:
        figures = ", ".join(f"{key}={value}" for key, value in bench.extra_info.items())
        terminalreporter.write_line(f"{bench.fullname.split('::')[-1]}: {figures}")
