"""Karpenter manifests as users write them: NodePools and EC2NodeClasses in multi-document YAML.

A file of ``karpenter.sh/v1`` ``NodePool`` and ``karpenter.k8s.aws/v1`` ``EC2NodeClass``
documents (as ``kubectl apply -f`` takes them) becomes the plan's
:class:`~cnisim.plan.NodePool` and :class:`~cnisim.plan.EC2NodeClass` objects. It is named
from a plan (``karpenter: {manifests: FILE}``, relative to the plan) or given with
``cnisim simulate --karpenter FILE``.

Fields read (others, such as labels, taints, ``expireAfter``, AMI and security group
selectors, are accepted and not modeled):

- NodePool: ``metadata.name``; ``spec.template.spec.requirements`` (``key``, ``operator``,
  ``values``), ``spec.template.spec.nodeClassRef.name``; ``spec.limits.cpu`` and ``.memory``;
  ``spec.disruption.consolidationPolicy``, ``.consolidateAfter`` (``Never`` keeps nodes: no
  consolidation), ``.budgets[0].nodes`` (a percentage).
- EC2NodeClass: ``metadata.name``; ``spec.subnetSelectorTerms`` (``id`` or ``tags``);
  ``spec.kubelet.maxPods`` and ``.podsPerCore``.

References
----------
Karpenter docs, "NodePools" and "NodeClasses" (karpenter.sh/v1, karpenter.k8s.aws/v1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cnisim.errors import PlanError
from cnisim.io._yaml import (
    Registry,
    Where,
    YamlMap,
    as_cpu_millicores,
    as_duration_s,
    as_int,
    as_list,
    as_map,
    as_memory_mib,
    as_str,
    as_str_map,
    parse_yaml_documents,
    read_source,
)
from cnisim.plan import EC2NodeClass, NodePool, Requirement, SubnetSelectorTerm

__all__ = ["NODE_CLASS_API", "NODE_POOL_API", "read_manifests"]

NODE_POOL_API = "karpenter.sh/v1"
NODE_CLASS_API = "karpenter.k8s.aws/v1"


def _get(mapping: YamlMap, where: Where, *keys: str) -> tuple[Any, Where]:
    """The value under a path of keys (None where one is missing) and its place."""
    value: Any = mapping
    for key in keys:
        if value is None:
            return None, where
        value = as_map(value, where)
        where, value = where.key(value, key), value.get(key)
    return value, where


def _percent(value: Any, where: Where) -> float:
    text = as_str(value, where).strip()
    if not (text.endswith("%") and text[:-1].isdigit()):
        raise where.error(f"{text!r} is not a percentage of nodes: cnisim reads e.g. 10%")
    return int(text[:-1]) / 100.0


def _node_pool(doc: YamlMap, where: Where, registry: Registry, name: str) -> NodePool:
    kwargs: dict[str, Any] = {"name": name}
    attrs: dict[str, Where] = {}
    items, at = _get(doc, where, "spec", "template", "spec", "requirements")
    if items is not None:
        items = as_list(items, at)
        requirements = []
        for i, item in enumerate(items):
            req_where = at.item(items, i)
            req = as_map(item, req_where)
            values = as_list(req.get("values", []), req_where.key(req, "values"))
            requirements.append(
                registry.build(
                    Requirement,
                    req_where,
                    {},
                    key=as_str(req.get("key"), req_where.key(req, "key")),
                    operator=as_str(req.get("operator"), req_where.key(req, "operator")),
                    values=tuple(str(v) for v in values),
                )
            )
        kwargs["requirements"], attrs["requirements"] = tuple(requirements), at
    ref, at = _get(doc, where, "spec", "template", "spec", "nodeClassRef", "name")
    if ref is not None:
        kwargs["node_class"], attrs["node_class"] = as_str(ref, at), at
    for key, attr, convert in (
        ("cpu", "limit_cpu_millicores", as_cpu_millicores),
        ("memory", "limit_memory_mib", as_memory_mib),
    ):
        value, at = _get(doc, where, "spec", "limits", key)
        if value is not None:
            kwargs[attr], attrs[attr] = convert(value, at), at
    policy, at = _get(doc, where, "spec", "disruption", "consolidationPolicy")
    if policy is not None:
        kwargs["consolidation_policy"] = as_str(policy, at)
        attrs["consolidation_policy"] = at
    after, at = _get(doc, where, "spec", "disruption", "consolidateAfter")
    if after is not None:
        if after == "Never":
            kwargs["consolidation_policy"] = "WhenEmpty"
            after = f"{366 * 24}h"  # never within a run
        kwargs["consolidate_after_s"], attrs["consolidate_after_s"] = as_duration_s(after, at), at
    budgets, at = _get(doc, where, "spec", "disruption", "budgets")
    if budgets is not None:
        budgets = as_list(budgets, at)
        if budgets:
            first = as_map(budgets[0], at.item(budgets, 0))
            nodes_where = at.item(budgets, 0).key(first, "nodes")
            kwargs["budget_nodes_frac"] = _percent(first.get("nodes", "10%"), nodes_where)
            attrs["budget_nodes_frac"] = nodes_where
    return registry.build(NodePool, where, attrs, **kwargs)


def _node_class(doc: YamlMap, where: Where, registry: Registry, name: str) -> EC2NodeClass:
    kwargs: dict[str, Any] = {"name": name}
    attrs: dict[str, Where] = {}
    items, at = _get(doc, where, "spec", "subnetSelectorTerms")
    terms = []
    for i, item in enumerate(as_list(items, at) if items is not None else []):
        term_where = at.item(items, i)
        term = as_map(item, term_where)
        terms.append(
            registry.build(
                SubnetSelectorTerm,
                term_where,
                {},
                id=as_str(term["id"], term_where.key(term, "id")) if "id" in term else None,
                tags=as_str_map(term.get("tags", {}), term_where.key(term, "tags")),
            )
        )
    kwargs["subnet_selector_terms"], attrs["subnet_selector_terms"] = tuple(terms), at
    for key, attr in (("maxPods", "max_pods"), ("podsPerCore", "pods_per_core")):
        value, at = _get(doc, where, "spec", "kubelet", key)
        if value is not None:
            kwargs[attr], attrs[attr] = as_int(value, at), at
    return registry.build(EC2NodeClass, where, attrs, **kwargs)


def read_manifests(
    path: Path | str, registry: Registry | None = None
) -> tuple[tuple[NodePool, ...], tuple[EC2NodeClass, ...]]:
    """The NodePools and EC2NodeClasses of a multi-document YAML file.

    Parameters
    ----------
    path : Path or str
        The manifest file.
    registry : Registry, optional
        The plan's, so that the plan's own checks name the manifest's lines.

    Returns
    -------
    tuple
        ``(node_pools, node_classes)``, in file order.

    Raises
    ------
    PlanError
        ``<file>:<line>: <field>: <what is wrong>``: a document of another kind or version, a
        NodePool or EC2NodeClass without a name, a field cnisim reads with a wrong value, or a
        file with neither.
    """
    text, _ = read_source(path)
    source = str(path)
    registry = registry or Registry(Where(source, "", 1))
    pools: list[NodePool] = []
    classes: list[EC2NodeClass] = []
    for document in parse_yaml_documents(text, source):
        if document is None:
            continue
        where = Where(source, "", getattr(document, "line", 1) or 1)
        doc = as_map(document, where)
        api, kind = doc.get("apiVersion"), doc.get("kind")
        name, name_where = _get(doc, where, "metadata", "name")
        if (api, kind) == (NODE_POOL_API, "NodePool"):
            pools.append(_node_pool(doc, where, registry, as_str(name, name_where)))
        elif (api, kind) == (NODE_CLASS_API, "EC2NodeClass"):
            classes.append(_node_class(doc, where, registry, as_str(name, name_where)))
        else:
            raise where.key(doc, "kind").error(
                f"{api} {kind} is not a Karpenter manifest cnisim reads: use {NODE_POOL_API}"
                f" NodePool or {NODE_CLASS_API} EC2NodeClass"
            )
    if not pools and not classes:
        raise PlanError(f"{source}: holds no NodePool or EC2NodeClass")
    return tuple(pools), tuple(classes)
