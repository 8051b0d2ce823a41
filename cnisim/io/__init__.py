"""User files read into a :class:`cnisim.plan.Plan`: plan files, eksctl ClusterConfigs, workloads.

:func:`load_plan` detects the format by ``apiVersion``/``kind``: ``cnisim/v1 Plan``
(:mod:`cnisim.io.planfile`) or ``eksctl.io/v1alpha5 ClusterConfig`` (:mod:`cnisim.io.eksctl`).
Every error is a :class:`cnisim.errors.PlanError` that names the file, the line and the field.
:func:`apply_overrides` applies the command line's ``--set``, ``--desired``, ``--duration`` and
``--seed`` to a loaded plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnisim.errors import PlanError, did_you_mean
from cnisim.io._yaml import Registry, Where, as_map, check_keys, parse_yaml, read_source
from cnisim.io.planfile import (
    PLAN_KIND,
    WORKLOADS_KIND,
    check_header,
    plan_from_yaml,
    workloads_from_yaml,
)
from cnisim.plan import Plan, Run, Workload, check_instance_types
from cnisim.units import parse_assignments

if TYPE_CHECKING:
    from cnisim.catalog import Catalog

__all__ = ["apply_overrides", "load_plan", "load_workloads", "parse_assignments"]


def _read(path: Path | str) -> tuple[Any, str, str]:
    text, sha256 = read_source(path)
    source = str(path)
    return parse_yaml(text, source), source, sha256


def _with_ipamd_notes(plan: Plan, registry: Registry) -> Plan:
    try:
        warnings = plan.ipamd_warnings()
    except PlanError as exc:
        raise registry.locate(exc) from None
    return replace(plan, notes=(*plan.notes, *warnings))


def load_plan(
    path: Path | str,
    workload_files: Sequence[Path | str] = (),
    catalog: Catalog | None = None,
    karpenter_files: Sequence[Path | str] = (),
) -> Plan:
    """Read a plan file or an eksctl ClusterConfig, plus workload files, into a checked Plan.

    Parameters
    ----------
    path : Path or str
        A ``cnisim/v1 Plan`` or an ``eksctl.io/v1alpha5 ClusterConfig`` YAML file.
    workload_files : sequence of Path or str
        Files with a top-level ``workloads:`` list (``--workload FILE``), added after the
        plan's own workloads.
    catalog : Catalog, optional
        Instance table to check the node groups' instance types against
        (:func:`cnisim.catalog.load_catalog`); None skips that check.
    karpenter_files : sequence of Path or str
        Karpenter NodePool and EC2NodeClass manifests (``--karpenter FILE``), added to the
        plan's ``karpenter`` (:func:`cnisim.io.karpenter.read_manifests`).

    Returns
    -------
    Plan
        With ``notes`` listing what cnisim assumed (eksctl defaults, zone names) and every
        aws-node value ipamd would coerce.

    Raises
    ------
    PlanError
        ``<file>:<line>: <field>: <what is wrong and how to fix it>``.
    """
    document, source, sha256 = _read(path)
    api_version = document.get("apiVersion") if isinstance(document, dict) else None
    if isinstance(api_version, str) and api_version.startswith("eksctl.io/"):
        from cnisim.io.eksctl import plan_from_cluster_config

        plan, registry = plan_from_cluster_config(document, source, sha256)
    else:
        plan, registry = plan_from_yaml(document, source, sha256)
    if karpenter_files:
        plan = _with_karpenter(plan, karpenter_files, registry)
    plan = _with_ipamd_notes(plan, registry)
    if catalog is not None:
        try:
            check_instance_types(plan, catalog)
        except PlanError as exc:
            raise registry.locate(exc) from None
    extra = tuple(w for file in workload_files for w in load_workloads(file))
    return replace(plan, workloads=(*plan.workloads, *extra)) if extra else plan


def _with_karpenter(plan: Plan, files: Sequence[Path | str], registry: Registry) -> Plan:
    """The plan with the NodePools and EC2NodeClasses of manifest files added."""
    from cnisim.io.karpenter import read_manifests
    from cnisim.plan import Karpenter

    karpenter = plan.karpenter or Karpenter((), ())
    pools, classes = karpenter.node_pools, karpenter.node_classes
    for file in files:
        more_pools, more_classes = read_manifests(file, registry)
        pools, classes = pools + more_pools, classes + more_classes
    try:
        return replace(plan, karpenter=replace(karpenter, node_pools=pools, node_classes=classes))
    except PlanError as exc:
        raise registry.locate(exc) from None


def load_workloads(path: Path | str) -> tuple[Workload, ...]:
    """Read a workload file: a top-level ``workloads:`` list, as in a plan.

    ``apiVersion: cnisim/v1`` and ``kind: Workloads`` may head it; they are not required.

    Raises
    ------
    PlanError
        Naming the file, the line and the field.
    """
    document, source, _ = _read(path)
    root = Where(source, "", getattr(document, "line", 1) or 1)
    mapping = as_map(document, root)
    if "apiVersion" in mapping or "kind" in mapping:
        check_header(mapping, root, (WORKLOADS_KIND, PLAN_KIND))
    check_keys(mapping, root, ("apiVersion", "kind", "workloads"), "a workload file")
    if "workloads" not in mapping:
        raise root.error("needs a top-level 'workloads:' list")
    return workloads_from_yaml(mapping["workloads"], root.key(mapping, "workloads"), Registry(root))


def apply_overrides(
    plan: Plan,
    *,
    env: Mapping[str, str] | None = None,
    desired: Mapping[str, int | str] | None = None,
    duration_s: float | None = None,
    seed: int | None = None,
) -> Plan:
    """The plan with the command line's overrides, checked again.

    Parameters
    ----------
    plan : Plan
        A loaded plan.
    env : mapping of str to str, optional
        ``--set NAME=VALUE``: aws-node variables for every node group (over each group's own).
    desired : mapping of str to int, optional
        ``--desired GROUP=N``: a node group's desired size [nodes].
    duration_s : float, optional
        ``--duration``: the run's length [s].
    seed : int, optional
        ``--seed``.

    Returns
    -------
    Plan
        With ``notes`` updated for the new aws-node values.

    Raises
    ------
    PlanError
        An unknown node group or variable, a size outside the group's range, a refused
        aws-node combination; the message names the option.
    """
    old_warnings = plan.ipamd_warnings()
    groups = list(plan.node_groups)
    names = [group.name for group in groups]
    for name, value in (desired or {}).items():
        option = f"--desired {name}={value}"
        if name not in names:
            hint = did_you_mean(name, names)
            raise PlanError(
                f"{option}: no node group {name!r}"
                + (f"; {hint}" if hint else f" (the plan has {', '.join(names)})")
            )
        try:
            size = int(value)
        except ValueError:
            raise PlanError(f"{option}: {value!r} is not a whole number of nodes") from None
        index = names.index(name)
        try:
            groups[index] = replace(groups[index], desired_capacity=size)
            groups[index].check()
        except PlanError as exc:
            raise PlanError(f"{option}: {exc.message}") from None
    try:
        if env:
            aws_node = replace(plan.aws_node, env={**plan.aws_node.env, **env})
            groups = [
                replace(g, aws_node_env={k: v for k, v in g.aws_node_env.items() if k not in env})
                for g in groups
            ]
            plan = replace(plan, aws_node=aws_node)
        run = plan.run
        if duration_s is not None:
            run = replace(run, duration_s=duration_s)
        if seed is not None:
            run = replace(run, seed=seed)
        plan = replace(plan, node_groups=tuple(groups), run=run)
        warnings = plan.ipamd_warnings()
    except PlanError as exc:
        options = [f"--set {k}={v}" for k, v in (env or {}).items()]
        if duration_s is not None and isinstance(exc.obj, Run):
            options = [f"--duration {duration_s:g}s"]
        elif seed is not None and isinstance(exc.obj, Run):
            options = [f"--seed {seed}"]
        raise PlanError(f"{' '.join(options) or 'overrides'}: {exc.message}") from None
    notes = tuple(note for note in plan.notes if note not in old_warnings)
    return replace(plan, notes=(*notes, *warnings))
