"""Instance-type catalog: EC2 ``DescribeInstanceTypes`` records as one canonical table.

This is the boundary where AWS field names become cnisim's snake_case names with units, once.
A snapshot directory holds three files written together by :func:`refresh_snapshot`:

``instance-types.json.gz``
    the raw API records, sorted by ``InstanceType`` (gzip, deterministic bytes);
``instance-types.tsv``
    the canonical table derived from them by :func:`canonical_columns` (the fast path read by
    :func:`load_catalog`; parsing the raw JSON takes tens of milliseconds);
``instance-types.provenance.json``
    where and when the records came from.

Branch ENIs and trunking compatibility are not in the EC2 API; they are joined from a copy of
Karpenter's VPC limits table shipped in the package (``karpenter-vpclimits.tsv``).

References
----------
EC2 API Reference, DescribeInstanceTypes and InstanceTypeInfo / NetworkInfo / NetworkCardInfo.
aws/karpenter-provider-aws ``pkg/providers/instancetype/zz_generated.vpclimits.go``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from cnisim.errors import CnisimError, UsageError

if TYPE_CHECKING:
    import pandas as pd

RAW_FILE = "instance-types.json.gz"
TABLE_FILE = "instance-types.tsv"
PROVENANCE_FILE = "instance-types.provenance.json"
VPC_LIMITS_FILE = "karpenter-vpclimits.tsv"

#: Canonical columns, in table order, with their Python type (str, int or bool).
SCHEMA: dict[str, type] = {
    "instance_type": str,
    "family": str,
    "size": str,
    "vcpus": int,
    "memory_mib": int,
    "hypervisor": str,
    "bare_metal": bool,
    "arch": str,
    "current_generation": bool,
    "max_enis": int,
    "max_enis_default_card": int,
    "n_network_cards": int,
    "default_network_card_index": int,
    "ipv4_per_eni": int,
    "ipv6_per_eni": int,
    "ipv6_supported": bool,
    "efa_supported": bool,
    "branch_enis": int,
    "trunking_compatible": bool,
    "vpc_limits_known": bool,
}

_TABLE_HEADER = (
    "# cnisim canonical instance table, derived from instance-types.json.gz by "
    "cnisim.catalog.canonical_columns; do not edit: `cnisim catalog refresh` rewrites it."
)
_REFRESH_HINT = "rebuild it with `cnisim catalog refresh --output <dir>`"
_PACKAGED_HINT = "reinstall cnisim (`pip install --force-reinstall cnisim`) to restore it"

#: Bounds every canonical integer column must hold (inclusive): what EC2 types have, with room
#: (the snapshot spans 1-896 vCPUs, 2-80 ENIs, 2-64 IPv4 per ENI). A value outside is an
#: edited or corrupt table, refused when it is loaded rather than turned into wrong numbers.
_COLUMN_BOUNDS: dict[str, tuple[int, int]] = {
    "vcpus": (1, 65_536),
    "memory_mib": (1, 2**40),
    "max_enis": (1, 1_024),
    "max_enis_default_card": (1, 1_024),
    "n_network_cards": (1, 1_024),
    "default_network_card_index": (0, 1_023),
    "ipv4_per_eni": (1, 1_024),
    "ipv6_per_eni": (0, 1_024),
    "branch_enis": (0, 1_024),
}

# Retries: botocore standard mode (exponential backoff with jitter, 1 s base for throttling,
# 50 ms otherwise). Four attempts and a 2 s connect timeout make an unreachable endpoint fail
# in under ~10 s; a refused connection fails in well under a second. A page (~100 kB) takes
# well under a second from AWS: 5 s per read makes an endpoint that accepts and never answers
# fail in ~20 s (four reads), not 41 s; the total deadline caps every other case. A longer
# --timeout lengthens each read to a quarter of it (a slow endpoint, or a loaded moto server
# that answers every page at once).
_MAX_ATTEMPTS = 4
_CONNECT_TIMEOUT_S = 2.0
_READ_TIMEOUT_S = 5.0
_PAGE_SIZE = 100  # the API maximum for DescribeInstanceTypes
#: Default total time a refresh may take [s]: per-read timeouts alone never end an endpoint
#: that sends a byte every few seconds. A real region answers in ~2-5 s (about 10 pages).
DEFAULT_REFRESH_DEADLINE_S = 30.0
# botocore's own region check (botocore/utils.py validate_region_name).
_REGION_RE = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?$")
_THROTTLING_CODES = frozenset({"RequestLimitExceeded", "Throttling", "ThrottlingException"})
_CREDENTIAL_CODES = frozenset(
    {"AuthFailure", "InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken"}
)


class SnapshotError(CnisimError):
    """A snapshot file is missing, unreadable or corrupt."""


class SnapshotWriteError(CnisimError):
    """A refreshed snapshot could not be written (the old one is kept)."""


class UnknownInstanceType(UsageError):
    """An instance type name is not in the catalog."""


class RefreshError(CnisimError):
    """Fetching instance types from EC2 failed (the old snapshot is kept)."""


class AwsCredentialsError(RefreshError):
    """No usable AWS credentials were found, or AWS rejected them."""


class AwsProfileNotFound(UsageError):
    """The named AWS profile is not in the AWS config files."""


class AwsRegionMissing(UsageError):
    """No AWS region was given or configured."""


class EndpointUnreachable(RefreshError):
    """The EC2 endpoint could not be reached or did not answer in time."""


class Throttled(RefreshError):
    """EC2 kept throttling the requests after every retry."""


class AccessDenied(RefreshError):
    """The credentials lack the IAM permission ``ec2:DescribeInstanceTypes``."""


class VpcLimits(NamedTuple):
    """One row of Karpenter's VPC limits table, renamed to canonical names.

    References
    ----------
    aws/karpenter-provider-aws ``pkg/providers/instancetype/zz_generated.vpclimits.go``
    (a copy of aws/amazon-vpc-resource-controller-k8s ``pkg/aws/vpc/limits.go``).
    """

    max_enis: int
    ipv4_per_eni: int
    branch_enis: int
    trunking_compatible: bool
    default_network_card_index: int
    n_network_cards: int
    max_enis_default_card: int
    hypervisor: str
    bare_metal: bool


def _data_dir() -> Path:
    """Directory of the snapshot shipped in the package (``cnisim.data``).

    Uses the package's ``__file__`` rather than ``importlib.resources.files``: the latter
    imports tempfile and zipfile (~4 ms, close to half the load budget), and pip installs
    packages unzipped, editable or from a wheel, so the path is a real directory.
    """
    import importlib

    # Imported by name: pyproject maps the top-level data/ folder to cnisim.data, which
    # mypy's source discovery does not see.
    package_file = importlib.import_module("cnisim.data").__file__
    if package_file is None:
        raise SnapshotError("the cnisim.data package has no files; reinstall cnisim")
    return Path(package_file).parent


def read_vpc_limits(path: Path | None = None) -> dict[str, VpcLimits]:
    """Read Karpenter's VPC limits table (branch ENIs and trunking are not in the EC2 API).

    Parameters
    ----------
    path
        The TSV file; defaults to ``karpenter-vpclimits.tsv`` shipped in the package.

    Returns
    -------
    dict
        ``instance_type -> VpcLimits``.

    References
    ----------
    aws/karpenter-provider-aws ``pkg/providers/instancetype/zz_generated.vpclimits.go``; the
    file's ``# source:`` line names the commit.
    """
    path = _data_dir() / VPC_LIMITS_FILE if path is None else path
    text = _read_text(path, hint="reinstall cnisim (the file ships in the package)")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    header = lines[0].split("\t")
    limits: dict[str, VpcLimits] = {}
    for line in lines[1:]:
        row = dict(zip(header, line.split("\t"), strict=True))
        limits[row["instance_type"]] = VpcLimits(
            max_enis=int(row["interfaces"]),
            ipv4_per_eni=int(row["ipv4_per_interface"]),
            branch_enis=int(row["branch_interfaces"]),
            trunking_compatible=row["trunking_compatible"] == "true",
            default_network_card_index=int(row["default_network_card_index"]),
            n_network_cards=int(row["network_cards"]),
            max_enis_default_card=int(row["default_card_max_interfaces"]),
            hypervisor=row["hypervisor"],
            bare_metal=row["bare_metal"] == "true",
        )
    return limits


def _arch(architectures: Sequence[str]) -> str:
    """One architecture per type: arm64 or x86_64 when listed, else the first (e.g. mac)."""
    for arch in ("arm64", "x86_64"):
        if arch in architectures:
            return arch
    return architectures[0] if architectures else ""


def _max_enis_default_card(network: Mapping[str, Any]) -> int:
    """ENIs on the default network card: the only card the VPC CNI attaches ENIs to.

    Falls back to the total when a record has no ``NetworkCards`` list, as the vpc-cni
    limits generator does (``scripts/gen_vpc_ip_limits.go``).
    """
    default_index = network.get("DefaultNetworkCardIndex", 0)
    for card in network.get("NetworkCards", []):
        if card["NetworkCardIndex"] == default_index:
            return int(card["MaximumNetworkInterfaces"])
    return int(network["MaximumNetworkInterfaces"])


def _canonical_row(
    record: Mapping[str, Any], vpc_limits: Mapping[str, VpcLimits]
) -> tuple[Any, ...]:
    """Rename one ``InstanceTypeInfo`` record to the canonical columns, in SCHEMA order."""
    name = record["InstanceType"]
    family, _, size = name.partition(".")
    network = record["NetworkInfo"]
    limits = vpc_limits.get(name)
    return (
        name,
        family,
        size,
        int(record["VCpuInfo"]["DefaultVCpus"]),
        int(record["MemoryInfo"]["SizeInMiB"]),
        # Most bare-metal records carry no Hypervisor field at all.
        record.get("Hypervisor", ""),
        bool(record.get("BareMetal", False)),
        _arch(record.get("ProcessorInfo", {}).get("SupportedArchitectures", [])),
        bool(record.get("CurrentGeneration", False)),
        int(network["MaximumNetworkInterfaces"]),
        _max_enis_default_card(network),
        int(network.get("MaximumNetworkCards", len(network.get("NetworkCards", [])) or 1)),
        int(network.get("DefaultNetworkCardIndex", 0)),
        int(network["Ipv4AddressesPerInterface"]),
        int(network.get("Ipv6AddressesPerInterface", 0)),
        bool(network.get("Ipv6Supported", False)),
        bool(network.get("EfaSupported", False)),
        limits.branch_enis if limits else 0,
        limits.trunking_compatible if limits else False,
        limits is not None,
    )


def _to_array(values: Sequence[Any], kind: type) -> np.ndarray:
    """A column as a numpy array of the schema's type (unicode, int64 or bool)."""
    if kind is str:
        return np.array(values, dtype=np.str_)
    if kind is bool:
        return np.array(values, dtype=np.bool_)
    return np.array(values, dtype=np.int64)


def canonical_columns(
    records: Sequence[Mapping[str, Any]], vpc_limits: Mapping[str, VpcLimits] | None = None
) -> dict[str, np.ndarray]:
    """Rename raw ``DescribeInstanceTypes`` records to the canonical columns.

    Parameters
    ----------
    records
        ``InstanceTypeInfo`` dicts as boto3 returns them, in any order.
    vpc_limits
        Branch ENIs and trunking per type; defaults to :func:`read_vpc_limits`. Types missing
        from it get ``branch_enis`` 0, ``trunking_compatible`` False, ``vpc_limits_known`` False.

    Returns
    -------
    dict
        Column name -> array, one row per type, sorted by ``instance_type``; columns and dtypes
        as in :data:`SCHEMA`.

    Raises
    ------
    SnapshotError
        A record lacks a field every real record has (vCPUs, memory, ENIs, IPv4 per ENI).

    References
    ----------
    EC2 API Reference: InstanceTypeInfo, NetworkInfo, NetworkCardInfo, VCpuInfo, MemoryInfo.

    Examples
    --------
    >>> record = {"InstanceType": "m5.large", "VCpuInfo": {"DefaultVCpus": 2},
    ...           "MemoryInfo": {"SizeInMiB": 8192}, "Hypervisor": "nitro",
    ...           "NetworkInfo": {"MaximumNetworkInterfaces": 3, "Ipv4AddressesPerInterface": 10}}
    >>> columns = canonical_columns([record])
    >>> int(columns["max_enis_default_card"][0]), int(columns["branch_enis"][0])
    (3, 9)
    """
    vpc_limits = read_vpc_limits() if vpc_limits is None else vpc_limits
    ordered = sorted(records, key=lambda record: record["InstanceType"])
    try:
        rows = [_canonical_row(record, vpc_limits) for record in ordered]
    except KeyError as exc:
        raise SnapshotError(
            f"an instance-type record lacks the field {exc}; the EC2 data is incomplete, "
            f"{_REFRESH_HINT}"
        ) from None
    values = list(zip(*rows, strict=True)) if rows else [() for _ in SCHEMA]
    return {
        name: _to_array(column, kind)
        for (name, kind), column in zip(SCHEMA.items(), values, strict=True)
    }


def _format_cell(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    return str(value)


def format_table(columns: Mapping[str, np.ndarray]) -> str:
    """Serialise canonical columns as the derived TSV (header comment, column names, rows)."""
    names = list(SCHEMA)
    lines = [_TABLE_HEADER, "\t".join(names)]
    n_rows = len(columns["instance_type"])
    for i in range(n_rows):
        lines.append("\t".join(_format_cell(columns[name][i].item()) for name in names))
    return "\n".join(lines) + "\n"


def _parse_bools(values: Sequence[str]) -> np.ndarray:
    if not set(values) <= {"true", "false"}:
        raise ValueError("a boolean cell is neither true nor false")
    return np.array([value == "true" for value in values], dtype=np.bool_)


def parse_table(text: str, source: Path, hint: str = _REFRESH_HINT) -> dict[str, np.ndarray]:
    """Parse the derived TSV written by :func:`format_table` back into canonical columns.

    Parameters
    ----------
    text : str
        The file's text.
    source : Path
        The file, for messages.
    hint : str
        How to rebuild it, for messages.

    Raises
    ------
    SnapshotError
        The text is not a canonical table (wrong header, ragged rows, bad numbers, a count
        out of the bounds EC2 types have).
    """
    lines = text.splitlines()
    if len(lines) < 2 or lines[1].split("\t") != list(SCHEMA):
        raise SnapshotError(f"{source} is not a cnisim instance table; {hint}")
    rows = [line.split("\t") for line in lines[2:]]
    try:
        values = list(zip(*rows, strict=True)) if rows else [() for _ in SCHEMA]
        columns = {}
        for (name, kind), column in zip(SCHEMA.items(), values, strict=True):
            columns[name] = _parse_bools(column) if kind is bool else _to_array(column, kind)
    except (ValueError, OverflowError):
        raise SnapshotError(f"{source} is corrupt (ragged rows or bad values); {hint}") from None
    for name, (low, high) in _COLUMN_BOUNDS.items():
        counts = columns[name]
        bad = (counts < low) | (counts > high)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise SnapshotError(
                f"{source} is corrupt: {name} is {counts[first]} for "
                f"{columns['instance_type'][first]} (allowed {low} to {high}); {hint}"
            )
    if (columns["max_enis_default_card"] > columns["max_enis"]).any():
        raise SnapshotError(
            f"{source} is corrupt: a type has more ENIs on one card than in all; {hint}"
        )
    return columns


def _read_text(path: Path, hint: str = _REFRESH_HINT) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SnapshotError(f"{path} is missing; {hint}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SnapshotError(f"cannot read {path} ({exc}); {hint}") from None


def read_raw_records(snapshot_dir: Path | None = None) -> list[dict[str, Any]]:
    """The raw ``DescribeInstanceTypes`` records of a snapshot (slow: parses all the JSON).

    Parameters
    ----------
    snapshot_dir
        A directory written by :func:`refresh_snapshot`; defaults to the packaged snapshot.
    """
    import gzip

    path = (_data_dir() if snapshot_dir is None else snapshot_dir) / RAW_FILE
    try:
        records = json.loads(gzip.decompress(path.read_bytes()))
    except FileNotFoundError:
        raise SnapshotError(f"{path} is missing; {_REFRESH_HINT}") from None
    except (OSError, EOFError, ValueError) as exc:
        raise SnapshotError(f"{path} is corrupt ({exc}); {_REFRESH_HINT}") from None
    if not isinstance(records, list):
        raise SnapshotError(f"{path} does not hold a list of records; {_REFRESH_HINT}")
    return records


@dataclass(frozen=True)
class Catalog:
    """The canonical instance table: one row per instance type, sorted by ``instance_type``.

    Attributes
    ----------
    columns
        Column name -> 1-D array, all the same length; names, units and dtypes as in
        :data:`SCHEMA` (``memory_mib`` [MiB], ``vcpus`` [vCPU], ENI and address counts).
    provenance
        Where the records came from (see :func:`refresh_snapshot`).

    Examples
    --------
    >>> catalog = load_catalog()
    >>> row = catalog.locate(["m5.large"])
    >>> int(catalog["max_enis_default_card"][row][0]), int(catalog["ipv4_per_eni"][row][0])
    (3, 10)
    """

    columns: dict[str, np.ndarray]
    provenance: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.columns["instance_type"])

    def __getitem__(self, column: str) -> np.ndarray:
        try:
            return self.columns[column]
        except KeyError:
            raise UsageError(
                f"no catalog column {column!r}; columns are: {', '.join(self.columns)}"
            ) from None

    @property
    def instance_types(self) -> np.ndarray:
        """Instance type names, sorted (``"m5.large"``)."""
        return self.columns["instance_type"]

    def locate(self, names: Sequence[str]) -> np.ndarray:
        """Row indices of the named instance types, in the order given.

        Raises
        ------
        UnknownInstanceType
            A name is not in the catalog; the message suggests the closest known names.
        """
        types = self.instance_types
        wanted = np.asarray(names, dtype=np.str_)
        indices = np.searchsorted(types, wanted)
        found = indices < len(types)
        found[found] = types[indices[found]] == wanted[found]
        if not found.all():
            raise UnknownInstanceType(self._unknown_message(str(wanted[~found][0])))
        return indices.astype(np.intp)

    def _unknown_message(self, name: str) -> str:
        import difflib

        close = difflib.get_close_matches(name, self.instance_types.tolist(), n=3, cutoff=0.6)
        if close:
            options = close[0] if len(close) == 1 else f"{', '.join(close[:-1])} or {close[-1]}"
            hint = f"did you mean {options}?"
        else:
            hint = "check the spelling"
        return (
            f"unknown instance type {name!r}: {hint} "
            f"(the catalog has {len(self)} types; `cnisim catalog info` shows its source)"
        )

    def take(self, indices: Sequence[int] | np.ndarray) -> Catalog:
        """A catalog of the given rows, in the given order.

        Raises
        ------
        UsageError
            An index that is not a whole number in ``[-len, len)``.
        """
        try:
            indices = np.asarray(indices, dtype=np.intp)
        except (TypeError, ValueError, OverflowError):
            raise UsageError(
                "take needs whole-number row indices, e.g. catalog.locate([...])"
            ) from None
        if indices.ndim != 1 or ((indices < -len(self)) | (indices >= len(self))).any():
            raise UsageError(
                f"take needs a 1-D list of row indices in [-{len(self)}, {len(self)}): use "
                "catalog.locate(names) to find rows"
            )
        return Catalog(
            {name: values[indices] for name, values in self.columns.items()}, self.provenance
        )

    def filter(self, mask: Sequence[bool] | np.ndarray) -> Catalog:
        """A catalog of the rows where ``mask`` is True (order kept)."""
        mask = np.asarray(mask, dtype=np.bool_)
        if mask.shape != (len(self),):
            raise UsageError(f"filter's mask has shape {mask.shape}, expected ({len(self)},)")
        return Catalog(
            {name: values[mask] for name, values in self.columns.items()}, self.provenance
        )

    def to_frame(self) -> pd.DataFrame:
        """The table as a pandas DataFrame (one row per type, canonical column names)."""
        import pandas as pd

        return pd.DataFrame(self.columns)


def load_catalog(path: Path | None = None) -> Catalog:
    """Load the canonical instance table of a snapshot (fast: reads the derived TSV only).

    Parameters
    ----------
    path
        A snapshot directory written by :func:`refresh_snapshot` (``cnisim catalog refresh
        --output DIR``); defaults to the snapshot shipped in the package.

    Raises
    ------
    SnapshotError
        A file is missing, corrupt, or differs from the sha256 its provenance records (the raw
        records and the table are both checked, ~0.1 ms each), or the table holds a count no
        EC2 type has; the message names the file and how to rebuild it.

    References
    ----------
    EC2 API Reference, DescribeInstanceTypes (the records the table is derived from).
    """
    path = None if path is None else Path(path)
    snapshot_dir = _data_dir() if path is None else path
    hint = _PACKAGED_HINT if path is None else _refresh_hint(snapshot_dir)
    if path is not None and snapshot_dir.exists() and not snapshot_dir.is_dir():
        raise UsageError(
            f"{snapshot_dir} is a file, not a snapshot directory: give the directory that "
            "`cnisim catalog refresh --output DIR` wrote"
        )
    if path is not None and not snapshot_dir.is_dir():
        raise SnapshotError(f"{snapshot_dir} is not a snapshot directory; {hint}")
    provenance_path = snapshot_dir / PROVENANCE_FILE
    try:
        provenance = json.loads(_read_text(provenance_path, hint))
    except json.JSONDecodeError as exc:
        raise SnapshotError(f"{provenance_path} is corrupt ({exc}); {hint}") from None
    if not isinstance(provenance, dict):
        raise SnapshotError(f"{provenance_path} is not a provenance record; {hint}")
    table_path = snapshot_dir / TABLE_FILE
    table_bytes = _read_bytes(table_path, hint)
    # Checksums cost ~0.1 ms each: every load checks both files against the provenance.
    _check_sha256(table_path, table_bytes, provenance.get("table_sha256"), hint)
    _check_sha256(
        snapshot_dir / RAW_FILE,
        _read_bytes(snapshot_dir / RAW_FILE, hint),
        provenance.get("raw_sha256"),
        hint,
    )
    try:
        text = table_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise SnapshotError(f"{table_path} is not UTF-8 text; {hint}") from None
    columns = parse_table(text, table_path, hint)
    if provenance.get("count") != len(columns["instance_type"]):
        raise SnapshotError(
            f"{table_path} does not match {provenance_path} (row count differs); {hint}"
        )
    return Catalog(columns, provenance)


def _refresh_hint(snapshot_dir: Path) -> str:
    return f"rebuild it with `cnisim catalog refresh --output {snapshot_dir}`"


def _read_bytes(path: Path, hint: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise SnapshotError(f"{path} is missing; {hint}") from None
    except OSError as exc:
        raise SnapshotError(f"cannot read {path} ({exc.strerror or exc}); {hint}") from None


def _check_sha256(path: Path, data: bytes, recorded: object, hint: str) -> None:
    """Refuse a file whose bytes differ from the checksum its provenance records.

    Snapshots written before a checksum was recorded (None) are not checked.
    """
    if recorded is None:
        return
    import hashlib

    if hashlib.sha256(data).hexdigest() != recorded:
        raise SnapshotError(
            f"{path} does not match the sha256 its provenance records (edited, truncated or "
            f"corrupt); {hint}"
        )


@contextmanager
def _aws_errors() -> Iterator[None]:
    """Turn botocore failures into one-line cnisim errors."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        ProfileNotFound,
        ReadTimeoutError,
    )
    from botocore.parsers import ResponseParserError

    try:
        yield
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise AwsCredentialsError(
            f"no usable AWS credentials ({exc}): set AWS_PROFILE or run `aws configure`, "
            "or pass --profile"
        ) from None
    except ProfileNotFound as exc:
        raise AwsProfileNotFound(
            f"{exc}: pick a profile listed by `aws configure list-profiles`"
        ) from None
    except NoRegionError:
        raise AwsRegionMissing(
            "no AWS region: pass --region (e.g. --region us-east-1) or set AWS_REGION"
        ) from None
    except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError) as exc:
        raise EndpointUnreachable(
            f"cannot reach EC2: {exc}; check the endpoint URL, the network or proxy settings, "
            "then retry"
        ) from None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in _THROTTLING_CODES:
            raise Throttled(
                f"EC2 throttled DescribeInstanceTypes ({code}) after {_MAX_ATTEMPTS} attempts; "
                "retry later"
            ) from None
        if code == "UnauthorizedOperation" or code.startswith("AccessDenied"):
            raise AccessDenied(
                f"access denied ({code}): the credentials need the IAM action "
                "ec2:DescribeInstanceTypes"
            ) from None
        if code in _CREDENTIAL_CODES:
            raise AwsCredentialsError(
                f"AWS rejected the credentials ({code}); refresh them (`aws configure` or "
                "`aws sso login`) or pass --profile"
            ) from None
        raise RefreshError(f"EC2 DescribeInstanceTypes failed: {exc}") from None
    except ResponseParserError:
        raise EndpointUnreachable(_NOT_EC2) from None
    except BotoCoreError as exc:
        raise RefreshError(f"EC2 DescribeInstanceTypes failed: {exc}") from None


_NOT_EC2 = (
    "the EC2 endpoint answered with something that is not an EC2 response (a proxy, a captive "
    "portal or a wrong --endpoint-url?); check the URL and proxy settings, then retry"
)


def check_endpoint_url(endpoint_url: str) -> None:
    """Refuse an endpoint URL botocore would choke on, naming what is wrong.

    Raises
    ------
    UsageError
        Not ``http(s)://host[:port][/path]``, or a port outside 1-65535.

    Examples
    --------
    >>> check_endpoint_url("http://127.0.0.1:5000")
    """
    from urllib.parse import urlsplit

    example = "give a full URL, e.g. --endpoint-url http://127.0.0.1:5000"
    try:
        parts = urlsplit(endpoint_url)
        port = parts.port
    except ValueError as exc:
        raise UsageError(
            f"--endpoint-url {endpoint_url[:80]!r} is malformed ({exc}): {example}"
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--endpoint-url {endpoint_url[:80]!r} is not an http(s) URL: {example}")
    if port == 0:
        raise UsageError(f"--endpoint-url {endpoint_url[:80]!r} has port 0: use 1 to 65535")


def check_region(region: str) -> None:
    """Refuse a region name that is not one (``us-east-1``); botocore's own rule.

    Raises
    ------
    UsageError
        Empty, or characters other than letters, digits and inner hyphens.
    """
    if not _REGION_RE.match(region):
        raise UsageError(
            f"--region {region[:60]!r} is not an AWS Region name: write e.g. --region us-east-1"
        )


def _fetch_records(
    region: str | None,
    profile: str | None,
    endpoint_url: str | None,
    read_timeout_s: float,
    progress: Callable[[int], None] | None,
) -> tuple[list[Mapping[str, Any]], str, str]:
    """All instance types of a region via the paginator; returns (records, region, botocore)."""
    import boto3
    import botocore
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "total_max_attempts": _MAX_ATTEMPTS},
        connect_timeout=min(_CONNECT_TIMEOUT_S, read_timeout_s),
        read_timeout=read_timeout_s,
    )
    with _aws_errors():
        session = boto3.Session(profile_name=profile, region_name=region)
        try:
            client = session.client("ec2", endpoint_url=endpoint_url, config=config)
        except ValueError as exc:
            # botocore refuses a region (or URL) with a bare ValueError; say which it was.
            what = "--region" if "region" in str(exc) else "--endpoint-url"
            raise UsageError(f"{exc} Check {what}.") from None
        pages = client.get_paginator("describe_instance_types").paginate(
            PaginationConfig={"PageSize": _PAGE_SIZE}
        )
        records: list[Mapping[str, Any]] = []
        for page in pages:
            batch = page.get("InstanceTypes") if isinstance(page, Mapping) else None
            if not isinstance(batch, list) or not all(
                isinstance(r, Mapping) and isinstance(r.get("InstanceType"), str) for r in batch
            ):
                raise EndpointUnreachable(_NOT_EC2)
            records.extend(batch)
            if progress is not None:
                progress(len(records))
    return records, client.meta.region_name, botocore.__version__


def _fetch_before_deadline(
    deadline_s: float,
    region: str | None,
    profile: str | None,
    endpoint_url: str | None,
    progress: Callable[[int], None] | None,
) -> tuple[list[Mapping[str, Any]], str, str]:
    """:func:`_fetch_records`, abandoned once ``deadline_s`` has passed.

    botocore's timeouts bound each read, not a whole answer: an endpoint that drips a byte a
    second never trips them. The fetch runs in a daemon thread (it only reads the network);
    past the deadline it is left to die with the process and the caller gets an error.
    """
    import threading

    outcome: dict[str, Any] = {}

    def fetch() -> None:
        try:
            outcome["value"] = _fetch_records(
                region,
                profile,
                endpoint_url,
                min(max(_READ_TIMEOUT_S, deadline_s / _MAX_ATTEMPTS), deadline_s),
                progress,
            )
        except BaseException as exc:  # handed to the caller's thread, raised there
            outcome["error"] = exc

    worker = threading.Thread(target=fetch, name="cnisim-refresh", daemon=True)
    worker.start()
    worker.join(deadline_s)
    if worker.is_alive():
        raise EndpointUnreachable(
            f"EC2 did not finish answering DescribeInstanceTypes within {deadline_s:g} s (a "
            "slow, stalled or dripping endpoint); check the endpoint URL, the network or proxy "
            "settings, or allow more time with --timeout"
        )
    if "error" in outcome:
        raise outcome["error"]
    value: tuple[list[Mapping[str, Any]], str, str] = outcome["value"]
    return value


def _write_temp(target: Path, data: bytes, temps: list[str]) -> str:
    """Write ``data`` to a new temp file next to ``target``; its path goes into ``temps`` first.

    The path is recorded before writing, so a write that fails part-way (disk full, file-size
    limit) still leaves the caller a file to remove.
    """
    import tempfile

    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    temps.append(temp)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    # mkstemp creates 0600 files; a snapshot is data anyone on the machine may read.
    os.chmod(temp, 0o644)
    return temp


def _write_atomically(files: Mapping[Path, bytes]) -> None:
    """Write all files or none: temp files in the target directory, then ``os.replace``.

    If a replace fails part-way, the files already replaced get their old bytes back, so a
    failed refresh leaves the previous snapshot as it was.
    """
    directory = next(iter(files)).parent
    temps: list[str] = []
    try:
        for target, data in files.items():
            _write_temp(target, data, temps)
        old = {target: target.read_bytes() if target.exists() else None for target in files}
        replaced: list[Path] = []
        try:
            for target, temp in zip(files, temps, strict=True):
                os.replace(temp, target)
                replaced.append(target)
        except OSError:
            for target in replaced:
                previous = old[target]
                if previous is None:
                    target.unlink()
                else:
                    os.replace(_write_temp(target, previous, temps), target)
            raise
    except OSError as exc:
        raise SnapshotWriteError(
            f"cannot write the snapshot in {directory} ({exc}); the old snapshot is kept: "
            "check the directory is writable and has free space"
        ) from None
    finally:
        for temp in temps:
            with suppress(OSError):
                os.unlink(temp)


def refresh_snapshot(
    output_dir: Path,
    *,
    region: str | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
    note: str | None = None,
    deadline_s: float = DEFAULT_REFRESH_DEADLINE_S,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Fetch every instance type from EC2 and write a snapshot directory atomically.

    Parameters
    ----------
    output_dir
        Directory to write (created if missing); an existing snapshot there is replaced only
        when the new one is complete.
    region
        AWS Region; defaults to the SDK chain (``AWS_REGION``, the profile's region).
    profile
        AWS profile name; defaults to the SDK chain (``AWS_PROFILE``, ``default``).
    endpoint_url
        EC2 endpoint to use instead of AWS (e.g. a moto server).
    note
        Free text stored in the provenance (e.g. why or from what the snapshot was made).
    deadline_s
        Total time the fetch may take, retries included [s]; past it, nothing is written.
    progress
        Called with the number of records fetched so far after each page (for a progress
        display; the library prints nothing).

    Returns
    -------
    dict
        The provenance written: region, retrieved_at_utc, source ("aws" or the endpoint URL),
        note, botocore_version, count, raw_file, raw_sha256, table_file, table_sha256 (both
        checked by every :func:`load_catalog`).

    Raises
    ------
    UsageError
        ``output_dir`` is the packaged snapshot's directory (or inside it), a malformed region
        or endpoint URL, or a ``deadline_s`` that is not a finite number > 0.
    RefreshError
        Credentials, profile, region, endpoint, throttling, permission or deadline problems
        (subclasses say which); nothing is written.
    SnapshotWriteError
        The directory is not writable or the disk is full; the old snapshot is kept and no
        temporary file is left behind.

    References
    ----------
    EC2 API Reference, DescribeInstanceTypes (paginated, at most 100 results per page);
    botocore retries guide (standard mode).
    """
    import datetime
    import gzip
    import hashlib
    import math

    if isinstance(deadline_s, bool) or not (
        isinstance(deadline_s, int | float) and math.isfinite(deadline_s) and deadline_s > 0
    ):
        raise UsageError(f"deadline_s {deadline_s!r} is not a time: give seconds > 0, e.g. 60")
    output_dir = Path(output_dir)
    packaged = _data_dir().resolve()
    target = output_dir.resolve()
    if target == packaged or packaged in target.parents:
        raise UsageError(
            f"--output {output_dir} is the snapshot shipped with cnisim, which refresh never "
            "overwrites: write to a directory of your own (e.g. --output ./cnisim-data) and "
            "read it with --catalog"
        )
    if region is not None:
        check_region(region)
    if endpoint_url is not None:
        check_endpoint_url(endpoint_url)
    records, region_used, botocore_version = _fetch_before_deadline(
        float(deadline_s), region, profile, endpoint_url, progress
    )
    if not records:
        raise RefreshError(
            f"EC2 returned no instance types for region {region_used}; check --region"
        )
    records.sort(key=lambda record: record["InstanceType"])
    raw_json = json.dumps(records, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    raw_bytes = gzip.compress(raw_json.encode("ascii"), compresslevel=9, mtime=0)
    table_bytes = format_table(canonical_columns(records)).encode("utf-8")
    retrieved_at = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    provenance = {
        "region": region_used,
        "retrieved_at_utc": retrieved_at.isoformat().replace("+00:00", "Z"),
        "source": endpoint_url or "aws",
        "note": note,
        "botocore_version": botocore_version,
        "count": len(records),
        "raw_file": RAW_FILE,
        "raw_sha256": hashlib.sha256(raw_bytes).hexdigest(),
        "table_file": TABLE_FILE,
        "table_sha256": hashlib.sha256(table_bytes).hexdigest(),
    }
    provenance_bytes = (json.dumps(provenance, indent=2, sort_keys=True) + "\n").encode("utf-8")
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SnapshotWriteError(
            f"cannot create {output_dir} ({exc}); pick another --output"
        ) from None
    _write_atomically(
        {
            output_dir / TABLE_FILE: table_bytes,
            output_dir / RAW_FILE: raw_bytes,
            output_dir / PROVENANCE_FILE: provenance_bytes,
        }
    )
    return provenance
