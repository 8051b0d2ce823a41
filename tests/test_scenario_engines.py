"""A cluster run gives the same result on the fast engine as on the reference model.

The scenario layer drives either engine through the same driver calls; every field of the
engine's record and every series of the scenario must be equal.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from test_scenario import CATALOG, plan_file, small_plans

from cnisim.io import apply_overrides, load_plan
from cnisim.plan import Plan
from cnisim.sim.scenario import simulate
from cnisim.sim.scenario_result import SimulationResult

EXAMPLES = Path(__file__).parent.parent / "examples"
SKIPPED = {"engine_name", "plan"}  # which engine ran; the plan itself is the same object
ENGINE_COUNTERS = {"n_ticks", "n_node_steps"}  # how much each engine visited, not what it did


def assert_same_value(a: object, b: object, name: str) -> None:
    """Equal, dataclass field by field and item by item (NaN equals NaN)."""
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert type(a) is type(b), name
        for inner in dataclasses.fields(a):
            assert_same_value(
                getattr(a, inner.name), getattr(b, inner.name), f"{name}.{inner.name}"
            )
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), name
        for key in a:
            assert_same_value(a[key], b[key], f"{name}.{key}")
    elif isinstance(a, tuple | list) and a and not isinstance(a[0], str | int | float):
        assert isinstance(b, tuple | list) and len(a) == len(b), name
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_value(x, y, f"{name}[{i}]")
    else:
        np.testing.assert_array_equal(a, b, err_msg=name)


def assert_same(fast: SimulationResult, reference: SimulationResult) -> None:
    for field in dataclasses.fields(SimulationResult):
        if field.name in SKIPPED:
            continue
        a, b = getattr(fast, field.name), getattr(reference, field.name)
        if field.name == "ipamd":
            for inner in dataclasses.fields(a):
                if inner.name in ENGINE_COUNTERS:
                    continue
                x, y = getattr(a, inner.name), getattr(b, inner.name)
                if isinstance(x, dict):
                    assert x.keys() == y.keys(), inner.name
                    for key in x:
                        np.testing.assert_array_equal(x[key], y[key], err_msg=f"{inner.name}.{key}")
                else:
                    np.testing.assert_array_equal(x, y, err_msg=inner.name)
        elif field.name == "controllers":
            assert_same_value(a, b, field.name)
        else:
            np.testing.assert_array_equal(a, b, err_msg=field.name)


def both(plan: Plan) -> tuple[SimulationResult, SimulationResult]:
    return simulate(plan, CATALOG, engine="fast"), simulate(plan, CATALOG, engine="reference")


@pytest.mark.parametrize("name", sorted(p.stem for p in EXAMPLES.glob("*.yaml")))
def test_every_example_agrees(name: str) -> None:
    plan = load_plan(EXAMPLES / f"{name}.yaml", catalog=CATALOG)
    assert_same(*both(apply_overrides(plan, duration_s=min(plan.run.duration_s, 1200.0))))


def test_an_exhausted_subnet_agrees() -> None:
    plan = load_plan(EXAMPLES / "three-az-24.yaml", catalog=CATALOG)
    fast, reference = both(plan)
    assert np.isfinite(fast.ipamd.subnet_exhausted_at_s).all()  # the case is the one wanted
    assert_same(fast, reference)


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=small_plans())
def test_random_small_plans_agree(tmp_path: Path, text: str) -> None:
    plan = load_plan(plan_file(tmp_path, text), catalog=CATALOG)
    assert_same(*both(plan))
