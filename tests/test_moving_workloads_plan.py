"""The plan fields of workloads that move: strategy, rollouts, schedule, diurnal, hpa.

Each field is read as Kubernetes spells it; each bad input is one line naming the file, the
line and the field, a PlanError, and exit status 2 from the CLI with no traceback.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from clihelp import assert_one_line_error, run_cnisim

from cnisim.catalog import load_catalog
from cnisim.errors import PlanError
from cnisim.io import load_plan
from cnisim.plan import Deployment, Diurnal, Hpa, RollingUpdate, Steps

CATALOG = load_catalog()

HEAD = """\
apiVersion: cnisim/v1
kind: Plan
vpc:
  cidrs: [10.0.0.0/16]
  subnets: [{id: subnet-a, az: us-east-1a, cidr: 10.0.0.0/20}]
nodeGroups: [{name: ng, instanceTypes: [m5.large], desiredCapacity: 2}]
workloads:
  - kind: Deployment
    name: web
    requests: {cpu: 100m}
"""


def plan_path(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(HEAD + textwrap.indent(textwrap.dedent(extra), "    "))
    return path


def web(tmp_path: Path, extra: str) -> Deployment:
    (workload,) = load_plan(plan_path(tmp_path, extra), catalog=CATALOG).workloads
    assert isinstance(workload, Deployment)
    return workload


def test_defaults_are_kubernetes_and_nothing_moves(tmp_path: Path) -> None:
    deployment = web(tmp_path, "replicas: 3\n")
    assert deployment.rolling_update == RollingUpdate("25%", "25%")
    assert deployment.rollouts_s == () and not deployment.moves


def test_every_field_is_read(tmp_path: Path) -> None:
    rolled = web(
        tmp_path,
        """\
        strategy:
          type: RollingUpdate
          rollingUpdate: {maxSurge: 2, maxUnavailable: 10%}
        rollouts: [{at: 1h}, {at: 90m}]
        schedule: [{at: 0s, replicas: 10}, {at: 2h, replicas: 40}]
        """,
    )
    assert rolled.rolling_update == RollingUpdate(2, "10%")
    assert rolled.rollouts_s == (3600.0, 5400.0)
    assert rolled.schedule == Steps((0.0, 7200.0), (10.0, 40.0)) and rolled.moves
    daily = web(tmp_path, "diurnal: {minReplicas: 10, maxReplicas: 100, peakAt: 14h}\n")
    assert daily.diurnal == Diurnal(10.0, 100.0, 50_400.0, 86_400.0, 300.0)
    scaled = web(
        tmp_path,
        """\
        hpa:
          maxReplicas: 50
          targetCPUUtilization: 70
          load: {schedule: [{at: 0s, cpu: 2}, {at: 1h, cpu: 8500m}]}
        """,
    )
    assert scaled.hpa == Hpa(50, Steps((0.0, 3600.0), (2000.0, 8500.0)), 1, 70)
    curve = web(
        tmp_path,
        """\
        hpa:
          maxReplicas: 50
          load: {diurnal: {min: 500m, max: 4, peakAt: 12h, period: 12h}}
        """,
    )
    assert curve.hpa == Hpa(50, Diurnal(500.0, 4000.0, 43_200.0, 43_200.0), 1, 80)


BAD = [
    # strategy
    (
        "strategy: {type: Recreate}\n",
        ":11: workloads[0].strategy.type: 'Recreate' is not simulated",
    ),
    (
        "strategy: {rollingUpdate: {maxSurge: 0, maxUnavailable: 0%}}\n",
        "strategy.rollingUpdate.maxUnavailable: maxSurge and maxUnavailable are both 0",
    ),
    (
        "strategy: {rollingUpdate: {maxUnavailable: 120%}}\n",
        "maxUnavailable 120% is above 100%",
    ),
    (
        "strategy: {rollingUpdate: {maxSurge: 25 %}}\n",
        "'25 %' is not a whole number >= 0 or a percent such as 25%",
    ),
    (
        "strategy: {rollingUpdate: {maxSurge: -1}}\n",
        "-1 is not a whole number >= 0 or a percent",
    ),
    ("strategy: {rollingUpdate: {maxSurge: 1.5}}\n", "is 1.5: write a whole number of pods"),
    ("strategy: {rollingUpdate: {maxSurg: 1}}\n", "did you mean maxSurge?"),
    # rollouts
    ("rollouts: [{at: soon}]\n", "workloads[0].rollouts[0].at: duration 'soon'"),
    ("rollouts: [{}]\n", "workloads[0].rollouts[0]: needs 'at'"),
    ("start: 1h\nrollouts: [{at: 30m}]\n", "a rollout at 1800 s is before the Deployment starts"),
    ("rollouts: {at: 1h}\n", "workloads[0].rollouts: is a mapping: write a list"),
    # schedule
    ("schedule: []\n", "a schedule needs at least one entry"),
    (
        "schedule: [{at: 2h, replicas: 4}, {at: 1h, replicas: 5}]\n",
        "entry at 3600 s is not after the one at 7200 s",
    ),
    ("schedule: [{at: 1h, replicas: 2.5}]\n", "schedule[0].replicas: is 2.5: write a whole number"),
    ("schedule: [{at: 1h}]\n", "workloads[0].schedule[0]: needs 'replicas'"),
    ("schedule: [{at: 1h, replicas: -4}]\n", "value -4 is out of range"),
    ("schedule: [{at: noon, replicas: 4}]\n", "schedule[0].at: duration 'noon'"),
    ("schedule: {at: 1h, replicas: 4}\n", "workloads[0].schedule: is a mapping: write a list"),
    # diurnal
    ("diurnal: {minReplicas: 10, peakAt: 2h}\n", "workloads[0].diurnal: needs 'maxReplicas'"),
    (
        "diurnal: {minReplicas: 10, maxReplicas: 5, peakAt: 2h}\n",
        "diurnal.maxReplicas: the least value 10 is above the greatest 5",
    ),
    (
        "diurnal: {minReplicas: 1, maxReplicas: 5, peakAt: 2h, period: 0s}\n",
        "diurnal.period: 0 s is not positive",
    ),
    (
        "diurnal: {minReplicas: 1, maxReplicas: 5, peakAt: 2h, every: 0s}\n",
        "diurnal.every: 0 s is not positive",
    ),
    (
        "schedule: [{at: 0s, replicas: 1}]\n"
        "diurnal: {minReplicas: 1, maxReplicas: 5, peakAt: 2h}\n",
        "schedule and diurnal both set the replicas: keep one",
    ),
    (
        "diurnal: {minReplicas: 1, maxReplicas: 5, peakAt: noon}\n",
        "workloads[0].diurnal.peakAt: duration 'noon'",
    ),
    (
        "diurnal: {minReplicas: 1, maxReplicas: 5, peakAt: 2h, phase: 1h}\n",
        "diurnal.phase: unknown field in diurnal",
    ),
    # hpa
    ("hpa: {maxReplicas: 5}\n", "workloads[0].hpa: needs a load"),
    (
        "hpa: {maxReplicas: 5, load: {schedule: [{at: 0s, cpu: 1}], diurnal: {}}}\n",
        "hpa.load: needs a load: give load.schedule",
    ),
    ("hpa: {load: {schedule: [{at: 0s, cpu: 1}]}}\n", "workloads[0].hpa: needs 'maxReplicas'"),
    (
        "hpa: {minReplicas: 6, maxReplicas: 5, load: {schedule: [{at: 0s, cpu: 1}]}}\n",
        "hpa.minReplicas: minReplicas 6 is above maxReplicas 5",
    ),
    (
        "hpa: {minReplicas: 0, maxReplicas: 5, load: {schedule: [{at: 0s, cpu: 1}]}}\n",
        "hpa.minReplicas: 0 is out of range",
    ),
    (
        "hpa: {maxReplicas: 5, targetCPUUtilization: 0, load: {schedule: [{at: 0s, cpu: 1}]}}\n",
        "hpa.targetCPUUtilization: 0 is out of range",
    ),
    (
        "hpa: {maxReplicas: 5, load: {schedule: [{at: 0s, cpu: lots}]}}\n",
        "hpa.load.schedule[0].cpu: CPU 'lots'",
    ),
    (
        "hpa: {maxReplicas: 5, load: {diurnal: {min: 1, peakAt: 1h}}}\n",
        "hpa.load.diurnal: needs 'max'",
    ),
    (
        "hpa: {maxReplicas: 5, load: {schedule: [{at: 1 h, cpu: 1}]}}\n",
        "hpa.load.schedule[0].at: duration '1 h'",
    ),
    (
        "hpa: {maxReplicas: 5, load: {diurnal: {min: 2, max: 1, peakAt: 1h}}}\n",
        "hpa.load.diurnal.max: the least value 2000 is above the greatest 1000",
    ),
    (
        "hpa: {maxReplicas: 5, load: {diurnal: {min: -1, max: 1, peakAt: 1h}}}\n",
        "hpa.load.diurnal.min: CPU '-1'",
    ),
    (
        "hpa: {maxReplicas: 5, load: {diurnal: {min: 1, max: 2, peakAt: 1h, period: 0s}}}\n",
        "hpa.load.diurnal.period: 0 s is not positive",
    ),
    (
        "hpa: {maxReplicas: 5, load: {steps: []}}\n",
        "hpa.load.steps: unknown field in hpa.load",
    ),
    (
        "hpa: {maxReplicas: 5, load: {schedule: [{at: 0s, cpu: 1}]}}\n"
        "schedule: [{at: 0s, replicas: 1}]\n",
        "schedule and hpa both set the replicas: keep one",
    ),
]


def bad(fragment: str) -> tuple[str, str]:
    """The one case of BAD whose message has ``fragment``."""
    (case,) = [case for case in BAD if fragment in case[1]]
    return case


@pytest.mark.parametrize(("extra", "fragment"), BAD, ids=[b[1][:40] for b in BAD])
def test_bad_input_is_one_plan_error_naming_file_line_and_field(
    tmp_path: Path, extra: str, fragment: str
) -> None:
    with pytest.raises(PlanError) as info:
        load_plan(plan_path(tmp_path, extra), catalog=CATALOG)
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'plan.yaml'}:")
    assert "\n" not in message and info.value.exit_code == 2
    assert fragment in message, message


def test_an_hpa_needs_a_cpu_request(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(
        HEAD.replace("    requests: {cpu: 100m}\n", "")
        + "    hpa: {maxReplicas: 5, load: {schedule: [{at: 0s, cpu: 1}]}}\n"
    )
    with pytest.raises(PlanError, match=r"workloads\[0\]\.hpa: an HPA on CPU utilization needs"):
        load_plan(path, catalog=CATALOG)


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        bad("'Recreate' is not simulated"),
        bad("are both 0"),
        bad("rollouts[0]: needs 'at'"),
        bad("is not after the one"),
        bad("least value 10"),
        bad("hpa: needs a load"),
    ],
    ids=["strategy", "fenceposts", "rollouts", "schedule", "diurnal", "hpa"],
)
def test_the_cli_exits_2_with_one_line(tmp_path: Path, extra: str, fragment: str) -> None:
    proc = run_cnisim("simulate", str(plan_path(tmp_path, extra)), cwd=tmp_path)
    assert proc.returncode == 2
    assert_one_line_error(proc.stderr, fragment)
    assert proc.stdout == ""
