"""Helpers shared by the CLI tests: the installed console script and the one-line error check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CNISIM = Path(sys.executable).parent / "cnisim"  # the console script installed in the venv


def run_cnisim(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the installed ``cnisim`` as a user would, in ``cwd``."""
    return subprocess.run(
        [str(CNISIM), *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def assert_one_line_error(stderr: str, *fragments: str) -> None:
    """A user error: exactly one ``cnisim: error:`` line containing every fragment."""
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("cnisim: error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


#: ``catalog refresh`` options for the moto server, which answers every page at once (~1,400
#: types): seconds on a loaded machine, so more than the default 30 s (each read may take a
#: quarter of it).
MOTO_TIMEOUT = ("--timeout", "120")
