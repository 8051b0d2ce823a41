"""YAML with line numbers: what both plan readers share (loading, locations, scalar conversions).

PyYAML's node marks give every key and item its line; mappings and lists keep them
(:class:`YamlMap`, :class:`YamlList`) so an error names the file, the line and the field as the
file writes it (``plan.yaml:12: nodeGroups[0].minSize: ...``). A :class:`Registry` remembers where
each plan object came from, so a check the plan makes later (a subnet outside the VPC) is
reported at the line that wrote it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from cnisim.durations import parse_duration_s
from cnisim.errors import PlanError, UsageError, did_you_mean
from cnisim.units import parse_cpu_millicores, parse_memory_mib

T = TypeVar("T")


class YamlMap(dict[str, Any]):
    """A YAML mapping with the line [1-based] of the mapping and of each key."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.line = 0
        self.key_lines: dict[str, int] = {}


class YamlList(list[Any]):
    """A YAML sequence with the line [1-based] of the sequence and of each item."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.line = 0
        self.item_lines: list[int] = []


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int, first_line: int) -> None:
        super().__init__(key)
        self.key, self.line, self.first_line = key, line, first_line


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings and sequences keep their lines and refuse duplicate keys."""


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> YamlMap:
    loader.flatten_mapping(node)
    result = YamlMap()
    result.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = str(loader.construct_object(key_node, deep=True))
        line = key_node.start_mark.line + 1
        if key in result:
            raise _DuplicateKey(key, line, result.key_lines[key])
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


def _construct_list(loader: _LineLoader, node: yaml.SequenceNode) -> YamlList:
    result = YamlList(loader.construct_object(item, deep=True) for item in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [item.start_mark.line + 1 for item in node.value]
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_list)


def parse_yaml(text: str, source: str) -> Any:
    """Parse one YAML document, mappings as :class:`YamlMap` and lists as :class:`YamlList`.

    Raises
    ------
    PlanError
        A YAML syntax error, a duplicate key or more than one document, with the line.
    """
    documents = parse_yaml_documents(text, source)
    if not documents or documents == [None]:
        raise PlanError(f"{source}: is empty: write a plan (apiVersion: cnisim/v1, kind: Plan)")
    if len(documents) != 1:
        raise PlanError(
            f"{source}: holds {len(documents)} YAML documents: a plan file holds exactly one"
        )
    return documents[0]


def parse_yaml_documents(text: str, source: str) -> list[Any]:
    """Parse every document of a multi-document YAML stream (Kubernetes manifests), as
    :func:`parse_yaml` parses one.

    Raises
    ------
    PlanError
        A YAML syntax error or a duplicate key, with the line.
    """
    try:
        documents = list(yaml.load_all(text, Loader=_LineLoader))
    except _DuplicateKey as exc:
        raise PlanError(
            f"{source}:{exc.line}: {exc.key}: the key appears twice (first on line"
            f" {exc.first_line}): keep one"
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise PlanError(f"{source}{line}: not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise PlanError(f"{source}: not valid YAML: {exc}") from None
    return documents


def read_source(path: Path | str) -> tuple[str, str]:
    """The text of a file and the SHA-256 of its bytes.

    Raises
    ------
    PlanError
        The file is missing, unreadable or not UTF-8.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise PlanError(f"{path}: no such file: check the path") from None
    except OSError as exc:
        raise PlanError(f"{path}: cannot read it ({exc.strerror})") from None
    except ValueError:  # a NUL byte in the path
        raise PlanError(f"{str(path)!r}: not a file name (it holds a NUL byte)") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PlanError(f"{path}: not UTF-8 text: save it as UTF-8") from None
    return text, hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Where:
    """A place in a file: the source, the field path as the file writes it, and the line."""

    source: str
    path: str
    line: int

    def key(self, mapping: YamlMap, key: str) -> Where:
        """The place of ``mapping[key]`` (the key's line)."""
        path = f"{self.path}.{key}" if self.path else key
        return Where(self.source, path, mapping.key_lines.get(key, mapping.line))

    def item(self, items: YamlList, index: int) -> Where:
        """The place of ``items[index]``."""
        return Where(self.source, f"{self.path}[{index}]", items.item_lines[index])

    def error(self, message: str) -> PlanError:
        """A :class:`PlanError` that starts with the file, the line and the field."""
        field_part = f" {self.path}:" if self.path else ""
        text = f"{self.source}:{self.line}:{field_part} {message}"
        # One line, whatever the file's keys and values hold.
        return PlanError(text.replace("\r", "\\r").replace("\n", "\\n"))


@dataclass
class Registry:
    """Where each plan object came from, to report the plan's own checks at the right line."""

    root: Where
    _places: dict[int, tuple[object, Where, dict[str, Where]]] = field(default_factory=dict)

    def build(
        self, cls: Callable[..., T], where: Where, attrs: dict[str, Where], **kwargs: Any
    ) -> T:
        """``cls(**kwargs)``, checked, its errors reported at the line of the attribute at fault."""
        try:
            obj = cls(**kwargs)
            check = getattr(obj, "check", None)
            if check is not None:
                check()
        except PlanError as exc:
            if exc.obj is not None and id(exc.obj) in self._places:
                raise self.locate(exc) from None
            raise attrs.get(exc.attr or "", where).error(exc.message) from None
        self._places[id(obj)] = (obj, where, attrs)
        return obj

    def locate(self, exc: PlanError) -> PlanError:
        """The error with the file, line and field of the object and attribute it names."""
        place = self._places.get(id(exc.obj)) if exc.obj is not None else None
        if place is None:
            return self.root.error(exc.message)
        _, where, attrs = place
        return attrs.get(exc.attr or "", where).error(exc.message)


def check_keys(mapping: YamlMap, where: Where, known: Iterable[str], what: str) -> None:
    """Refuse a key that is not known, naming the closest known one."""
    known = tuple(known)
    for key in mapping:
        if key not in known:
            hint = did_you_mean(key, known)
            raise where.key(mapping, key).error(
                f"unknown field in {what}"
                + (f": {hint}" if hint else f" (known: {', '.join(known)})")
            )


def _kind(value: Any) -> str:
    if value is None:
        return "empty (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{value!r}"


def as_map(value: Any, where: Where) -> YamlMap:
    """A mapping, else an error."""
    if not isinstance(value, YamlMap):
        raise where.error(f"is {_kind(value)}: write a mapping (key: value)")
    return value


def as_list(value: Any, where: Where) -> YamlList:
    """A list, else an error."""
    if not isinstance(value, YamlList):
        raise where.error(f"is {_kind(value)}: write a list ([a, b] or - items)")
    return value


def as_str(value: Any, where: Where) -> str:
    """A string (numbers are taken as written), else an error."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise where.error(f"is {_kind(value)}: write a string")
    return str(value)


def as_str_list(value: Any, where: Where) -> tuple[str, ...]:
    """A list of strings."""
    items = as_list(value, where)
    return tuple(as_str(item, where.item(items, i)) for i, item in enumerate(items))


def as_env_value(value: Any, where: Where) -> str:
    """An environment value: a string; a bare number or boolean is taken as Kubernetes would
    need it quoted (``5`` -> ``"5"``, ``true`` -> ``"true"``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return as_str(value, where)


def as_str_map(value: Any, where: Where) -> dict[str, str]:
    """A mapping of strings (environment variables, tags, labels)."""
    mapping = as_map(value, where)
    return {key: as_env_value(item, where.key(mapping, key)) for key, item in mapping.items()}


def as_int(value: Any, where: Where) -> int:
    """A whole number, else an error."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise where.error(f"is {_kind(value)}: write a whole number")
    return value


def as_float(value: Any, where: Where) -> float:
    """A finite number, else an error."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise where.error(f"is {_kind(value)}: write a number")
    if not math.isfinite(value):
        raise where.error(f"is {value}: write a finite number")
    return float(value)


def as_bool(value: Any, where: Where) -> bool:
    """true or false, else an error."""
    if not isinstance(value, bool):
        raise where.error(f"is {_kind(value)}: write true or false")
    return value


def _parsed(parse: Callable[[str], float], value: Any, where: Where) -> float:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise where.error(f"is {_kind(value)}: write a string such as 90s, 250m or 512Mi")
    try:
        return parse(str(value))
    except UsageError as exc:
        raise where.error(str(exc)) from None


def as_duration_s(value: Any, where: Where) -> float:
    """A duration (``90s``, ``10m``, ``2h``) in seconds."""
    return _parsed(parse_duration_s, value, where)


def as_cpu_millicores(value: Any, where: Where) -> float:
    """A Kubernetes CPU quantity (``100m``, ``0.5``) in millicores."""
    return _parsed(parse_cpu_millicores, value, where)


def as_memory_mib(value: Any, where: Where) -> float:
    """A Kubernetes memory quantity (``70Mi``, ``1Gi``) in MiB."""
    return _parsed(parse_memory_mib, value, where)
