"""The notebooks in notebooks/ run from top to bottom against the installed library."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_code_cells_run(path: Path) -> None:
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    notebook = json.loads(path.read_text())
    namespace: dict[str, object] = {"__name__": "__notebook__"}
    cells = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert cells, f"{path.name} has no code"
    for index, cell in enumerate(cells):
        source = "".join(cell["source"])
        exec(compile(source, f"{path.name}[{index}]", "exec"), namespace)
    plt.close("all")
    CHECKS[path.name](namespace)


def _check_capacity_planning(namespace: dict[str, object]) -> None:
    import pandas as pd

    frame = namespace["frame"]
    assert isinstance(frame, pd.DataFrame)
    m5_large = frame.set_index("instance_type").loc["m5.large"]
    # Prefix delegation, capped at 110 (EKS user guide); 3 x 9 x 16 + 2 uncapped.
    assert (m5_large.max_pods, m5_large.max_pods_uncapped) == (110, 434)
    # Karpenter allocatable 6903 MiB (docs/max-pods.md worked table) would take 13 pods of
    # 512 MiB, but 1930 m of CPU takes only 7 of 250 m: CPU binds.
    assert (m5_large.allocatable_memory_mib, m5_large.pods_fit) == (6903, 7)
    assert m5_large.binding_resource == "cpu"


CHECKS = {"capacity-planning.ipynb": _check_capacity_planning}


def test_every_notebook_is_checked() -> None:
    assert NOTEBOOKS
    assert {path.name for path in NOTEBOOKS} == set(CHECKS)
