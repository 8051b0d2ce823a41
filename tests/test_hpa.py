"""The HPA: desired replicas on a step in load by hand, with the tolerance, the scale-up limit
and the 5 min scale-down stabilization."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from cnisim.catalog import load_catalog
from cnisim.io import load_plan
from cnisim.sim.hpa import HpaSummary, recommend_replicas
from cnisim.sim.scenario import simulate

CATALOG = load_catalog()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # 10 pods of 100m, 500m of load: 50 % of requests, target 50: ratio 1, stay
        ((10, 500, 10, 0, 100, 50), 10),
        # 54 %: ratio 1.08, within the 0.1 tolerance: stay; 56 %: 1.12, ceil(11.2) = 12
        ((10, 540, 10, 0, 100, 50), 10),
        ((10, 560, 10, 0, 100, 50), 12),
        # down: 10 % of requests on 40 pods, ratio 0.2: ceil(0.2 x 40) = 8
        ((40, 400, 40, 0, 100, 50), 8),
        # utilization is an integer percent: 1999m on 10 x 100m is 199 %, ratio 3.98, 40 pods
        ((10, 1999, 10, 0, 100, 50), 40),
        # no pod available: no metrics, no change
        ((10, 2000, 0, 10, 100, 50), 10),
        # scaling up with 10 pods not yet available, counted with no use: 2000m over 20 pods
        # is 100 %, ratio 2: 40; 1080m over 20 pods is 54 %, within the tolerance: stay
        ((20, 2000, 10, 10, 100, 50), 40),
        ((20, 1080, 10, 10, 100, 50), 20),
    ],
)
def test_the_recommendation_by_hand(args: tuple[int, ...], expected: int) -> None:
    assert recommend_replicas(*args) == expected


PLAN = """\
    apiVersion: cnisim/v1
    kind: Plan
    vpc:
      cidrs: [10.0.0.0/16]
      subnets: [{id: subnet-a, az: us-east-1a, cidr: 10.0.0.0/22}]
    nodeGroups:
      - {name: ng, instanceTypes: [m5.large], minSize: 3, desiredCapacity: 3, maxSize: 3}
    coreDNS: false
    workloads:
      - kind: Deployment
        name: web
        replicas: 10
        requests: {cpu: 100m, memory: 64Mi}
        start: 5m
        hpa:
          minReplicas: 2
          maxReplicas: 50
          targetCPUUtilization: 50
          load:
            schedule:
              - {at: 0s, cpu: 500m}
              - {at: 7m, cpu: 540m}
              - {at: 10m, cpu: 2}
              - {at: 20m, cpu: 400m}
    run: {duration: 30m}
"""


def test_an_hpa_on_a_step_in_load_by_hand(tmp_path: Path) -> None:
    """Syncs every 15 s from the start (5 min). 10 pods of 100m, target 50 %:

    - 5:00: the pods are just created, none available: no metrics, 10 stay.
    - 5:15 to 9:45: 500m is 50 %, then 540m is 54 % (ratio 1.08, within the tolerance): 10.
    - 10:00: 2,000m is 200 %, ratio 4: 40 wanted, but scale-up is limited to
      max(2 x 10, 10 + 4) = 20 per 15 s: 20.
    - 10:15: 2,000m over 20 pods is 100 %, ratio 2: 40 (limit max(40, 24)); then 50 %: 40 stay.
    - 20:00: 400m over 40 pods is 10 %, ratio 0.2: 8 recommended, but scale-down takes the
      highest recommendation of the last 5 min: 40 until 24:45, when the last 40 (19:45) is
      out of the window (the window is (t - 300 s, t]); then 400m over 8 pods is 50 %: 8 stay.
    """
    path = tmp_path / "plan.yaml"
    path.write_text(textwrap.dedent(PLAN))
    result = simulate(load_plan(path, catalog=CATALOG), CATALOG)
    hpa = result.controllers["hpa/web"]
    assert isinstance(hpa, HpaSummary)
    assert hpa.sync_s.tolist() == (300.0 + 15.0 * np.arange(101)).tolist()  # 5:00 to 30:00
    pairs = zip(hpa.n_recommended.tolist(), hpa.n_desired.tolist(), strict=True)
    rows = dict(zip(hpa.sync_s.tolist(), pairs, strict=True))
    assert hpa.n_ready[0] == 0 and rows[300.0] == (10, 10)
    assert {rows[t] for t in np.arange(315.0, 600.0, 15.0)} == {(10, 10)}
    assert rows[600.0] == (40, 20)
    assert rows[615.0] == (40, 40)
    assert {rows[t][1] for t in np.arange(630.0, 1200.0, 15.0)} == {40}
    assert {rows[t] for t in np.arange(1200.0, 1485.0, 15.0)} == {(8, 40)}
    assert rows[1485.0] == (8, 8)
    assert {rows[t][1] for t in np.arange(1500.0, 1801.0, 15.0)} == {8}
    assert list(zip(hpa.change_s.tolist(), hpa.replicas.tolist(), strict=True)) == [
        (600.0, 20),
        (615.0, 40),
        (1485.0, 8),
    ]
    # the pods follow: 40 web pods alive before 24:45, 8 after
    web = result.pod_workload == result.workload_names.index("web")
    for t_s, n in ((1484.0, 40), (1485.0, 8), (1800.0, 8)):
        deleted = result.pod_deleted_s <= t_s
        assert np.count_nonzero(web & (result.pod_created_s <= t_s) & ~deleted) == n
