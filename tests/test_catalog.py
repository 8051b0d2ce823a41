"""The instance catalog: packaged snapshot, canonical columns, loader errors, refresh and its
failure modes (against moto, in-process with ``mock_aws`` and as a server on 127.0.0.1)."""

from __future__ import annotations

import gzip
import hashlib
import importlib
import io
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnisim import catalog
from cnisim.catalog import (
    PROVENANCE_FILE,
    RAW_FILE,
    SCHEMA,
    TABLE_FILE,
    AccessDenied,
    AwsCredentialsError,
    AwsProfileNotFound,
    Catalog,
    EndpointUnreachable,
    SnapshotError,
    SnapshotWriteError,
    Throttled,
    UnknownInstanceType,
    canonical_columns,
    format_table,
    load_catalog,
    parse_table,
    read_raw_records,
    read_vpc_limits,
    refresh_snapshot,
)
from cnisim.errors import UsageError

# The packaged snapshot: moto 5.2.5's copy of the AWS DescribeInstanceTypes records.
PACKAGED_DIR = Path(str(importlib.import_module("cnisim.data").__file__)).parent
SNAPSHOT_FILES = (RAW_FILE, TABLE_FILE, PROVENANCE_FILE)
MOTO_VERSION_OF_SNAPSHOT = "5.2.5"


@pytest.fixture(scope="module")
def packaged() -> Catalog:
    return load_catalog()


def row(cat: Catalog, instance_type: str) -> dict[str, Any]:
    index = cat.locate([instance_type])[0]
    return {name: values[index].item() for name, values in cat.columns.items()}


def closed_port_url() -> str:
    """An http URL on 127.0.0.1 whose port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def old_snapshot(directory: Path) -> dict[str, bytes]:
    """Put a copy of the packaged snapshot in ``directory``; return its bytes per file."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {}
    for name in SNAPSHOT_FILES:
        data = (PACKAGED_DIR / name).read_bytes()
        (directory / name).write_bytes(data)
        files[name] = data
    return files


def snapshot_bytes(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


# --- the packaged snapshot and the canonical columns -------------------------------------------


# The contract other modules build on: exactly these names, in this order, with these types.
CANONICAL_COLUMNS = {
    "instance_type": "U",
    "family": "U",
    "size": "U",
    "vcpus": "i",
    "memory_mib": "i",
    "hypervisor": "U",
    "bare_metal": "b",
    "arch": "U",
    "current_generation": "b",
    "max_enis": "i",
    "max_enis_default_card": "i",
    "n_network_cards": "i",
    "default_network_card_index": "i",
    "ipv4_per_eni": "i",
    "ipv6_per_eni": "i",
    "ipv6_supported": "b",
    "efa_supported": "b",
    "branch_enis": "i",
    "trunking_compatible": "b",
    "vpc_limits_known": "b",
}


def test_packaged_catalog_has_every_canonical_column_with_its_dtype(packaged: Catalog) -> None:
    assert list(packaged.columns) == list(CANONICAL_COLUMNS) == list(SCHEMA)
    for name, kind in CANONICAL_COLUMNS.items():
        column = packaged[name]
        assert column.ndim == 1 and len(column) == len(packaged), name
        assert column.dtype.kind == kind, name
    # moto 5.2.5 serves 1395 instance types (docs/max-pods.md section 5).
    assert len(packaged) == 1395
    names = packaged.instance_types.tolist()
    assert names == sorted(set(names))


def test_packaged_catalog_m5_large(packaged: Catalog) -> None:
    # EKS user guide, choosing-instance-type: m5.large 3 ENIs x 10 IPv4 (29 pods); Karpenter
    # zz_generated.vpclimits.go: 9 branch ENIs, trunking compatible.
    assert row(packaged, "m5.large") == {
        "instance_type": "m5.large",
        "family": "m5",
        "size": "large",
        "vcpus": 2,
        "memory_mib": 8192,
        "hypervisor": "nitro",
        "bare_metal": False,
        "arch": "x86_64",
        # moto 5.2.5's record says CurrentGeneration false for m5 (data as served).
        "current_generation": False,
        "max_enis": 3,
        "max_enis_default_card": 3,
        "n_network_cards": 1,
        "default_network_card_index": 0,
        "ipv4_per_eni": 10,
        "ipv6_per_eni": 10,
        "ipv6_supported": True,
        "efa_supported": False,
        "branch_enis": 9,
        "trunking_compatible": True,
        "vpc_limits_known": True,
    }


@pytest.mark.parametrize(
    ("instance_type", "max_enis_default_card", "max_enis", "n_network_cards"),
    [
        # awslabs/amazon-eks-ami #1392: p5.48xlarge has 2 ENIs on card 0 of 64 (32 cards).
        ("p5.48xlarge", 2, 64, 32),
        # max-pods-calculator test: c6in.32xlarge uses card 0's 8 ENIs, not all 16.
        ("c6in.32xlarge", 8, 16, 2),
        ("m5.large", 3, 3, 1),
    ],
)
def test_default_card_enis_differ_from_total_on_multi_card_types(
    packaged: Catalog,
    instance_type: str,
    max_enis_default_card: int,
    max_enis: int,
    n_network_cards: int,
) -> None:
    values = row(packaged, instance_type)
    assert values["max_enis_default_card"] == max_enis_default_card
    assert values["max_enis"] == max_enis
    assert values["n_network_cards"] == n_network_cards


def test_bare_metal_has_no_hypervisor(packaged: Catalog) -> None:
    # DescribeInstanceTypes omits Hypervisor on most bare metal (docs/max-pods.md pitfall 3).
    metal = row(packaged, "m5.metal")
    assert metal["bare_metal"] is True
    assert metal["hypervisor"] == ""
    assert set(packaged["hypervisor"].tolist()) == {"nitro", "xen", ""}


def test_small_types_arch_and_trunking(packaged: Catalog) -> None:
    # vpc-cni misc/eni-max-pods.txt: t3.nano 2 ENIs x 2 IPv4 (4 pods).
    assert row(packaged, "t3.nano")["ipv4_per_eni"] == 2
    assert row(packaged, "m7g.large")["arch"] == "arm64"
    # Security groups for pods: no t-family type is trunking compatible (vpc-cni README).
    t3 = packaged.filter(packaged["family"] == "t3")
    assert len(t3) > 0 and not t3["trunking_compatible"].any()
    assert (t3["branch_enis"] == 0).all()


def test_types_missing_from_karpenter_table_get_unknown_vpc_limits(packaged: Catalog) -> None:
    # r9g is newer than the Karpenter table copied (docs/max-pods.md section 5).
    r9g = row(packaged, "r9g.large")
    assert (r9g["vpc_limits_known"], r9g["branch_enis"], r9g["trunking_compatible"]) == (
        False,
        0,
        False,
    )
    known = packaged["vpc_limits_known"]
    limits = read_vpc_limits()
    assert known.tolist() == [name in limits for name in packaged.instance_types.tolist()]


def test_karpenter_table_agrees_with_ec2_records_except_named_types(packaged: Catalog) -> None:
    """Every shared field agrees, except 4 types where moto lists two network cards and the
    Karpenter / vpc-resource-controller data one (docs/max-pods.md section 5)."""
    disagree = {"i7ie.48xlarge", "i7ie.metal-48xl", "i8ge.48xlarge", "i8ge.metal-48xl"}
    limits = read_vpc_limits()
    assert len(limits) == 1401  # rows of zz_generated.vpclimits.go (docs/max-pods.md section 3)
    mismatches = set()
    for name in packaged.instance_types.tolist():
        if name not in limits:
            continue
        values = row(packaged, name)
        for field, expected in limits[name]._asdict().items():
            if field in values and values[field] != expected:
                mismatches.add(name)
    assert mismatches == disagree


def test_derived_table_equals_what_the_raw_records_give() -> None:
    """The shipped TSV cannot go stale: it equals the rename of the shipped raw records."""
    from_raw = canonical_columns(read_raw_records())
    loaded = load_catalog()
    assert list(from_raw) == list(loaded.columns)
    for name in SCHEMA:
        np.testing.assert_array_equal(loaded[name], from_raw[name], err_msg=name)
    assert (PACKAGED_DIR / TABLE_FILE).read_text() == format_table(from_raw)


def test_packaged_provenance_matches_the_raw_file() -> None:
    provenance = load_catalog().provenance
    raw = (PACKAGED_DIR / RAW_FILE).read_bytes()
    assert provenance["raw_sha256"] == hashlib.sha256(raw).hexdigest()
    assert provenance["count"] == len(read_raw_records()) == 1395
    assert provenance["region"] == "us-east-1"
    assert "moto 5.2.5" in provenance["note"] and "not a live AWS account" in provenance["note"]


def test_loader_from_another_cwd_imports_neither_pandas_nor_boto3(tmp_path: Path) -> None:
    code = (
        "import sys; from cnisim.catalog import load_catalog; c = load_catalog(); "
        "print(len(c), 'pandas' in sys.modules, 'boto3' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["1395", "False", "False"]


# --- Catalog methods -----------------------------------------------------------------------------


def test_locate_keeps_the_order_given(packaged: Catalog) -> None:
    indices = packaged.locate(["t3.large", "m5.large", "t3.large"])
    assert indices.dtype == np.intp
    assert packaged.instance_types[indices].tolist() == ["t3.large", "m5.large", "t3.large"]
    assert packaged.locate([]).shape == (0,)


def test_locate_suggests_the_closest_type(packaged: Catalog) -> None:
    with pytest.raises(UnknownInstanceType, match=r"did you mean t3\.large, ") as raised:
        packaged.locate(["m5.large", "t3.larg"])
    assert isinstance(raised.value, UsageError) and raised.value.exit_code == 2
    assert "\n" not in str(raised.value)
    with pytest.raises(UnknownInstanceType, match="check the spelling"):
        packaged.locate(["zzzz"])
    # Past the last name in sort order: searchsorted returns len(types).
    with pytest.raises(UnknownInstanceType, match=r"'zz\.large'"):
        packaged.locate(["zz.large"])


def test_take_filter_and_frame(packaged: Catalog) -> None:
    metal = packaged.filter(packaged["bare_metal"])
    assert len(metal) == int(packaged["bare_metal"].sum()) > 0
    assert metal["bare_metal"].all()
    assert metal.provenance is packaged.provenance
    picked = packaged.take(packaged.locate(["p5.48xlarge", "m5.large"]))
    assert picked.instance_types.tolist() == ["p5.48xlarge", "m5.large"]
    assert picked["max_enis_default_card"].tolist() == [2, 3]
    with pytest.raises(UsageError, match="mask has shape"):
        packaged.filter(np.ones(3, dtype=bool))
    frame = picked.to_frame()
    assert list(frame.columns) == list(SCHEMA)
    assert frame["memory_mib"].tolist() == [2097152, 8192]
    with pytest.raises(UsageError, match="no catalog column 'memory'"):
        packaged["memory"]


# --- canonical rename and the TSV round trip (hypothesis) ----------------------------------------

_names = st.from_regex(r"[a-z][a-z0-9-]{0,5}\.[a-z0-9-]{1,8}", fullmatch=True)
_cards = st.lists(st.integers(1, 16), min_size=1, max_size=4)


@st.composite
def _records(draw: st.DrawFn) -> list[dict[str, Any]]:
    names = draw(st.lists(_names, min_size=0, max_size=8, unique=True))
    records = []
    for name in names:
        cards = draw(_cards)
        default_index = draw(st.integers(0, len(cards) - 1))
        network: dict[str, Any] = {
            "MaximumNetworkInterfaces": sum(cards),
            "MaximumNetworkCards": len(cards),
            "DefaultNetworkCardIndex": default_index,
            "NetworkCards": [
                {"NetworkCardIndex": i, "MaximumNetworkInterfaces": n}
                for i, n in reversed(list(enumerate(cards)))
            ],
            "Ipv4AddressesPerInterface": draw(st.integers(1, 50)),
            "Ipv6AddressesPerInterface": draw(st.integers(0, 50)),
            "Ipv6Supported": draw(st.booleans()),
        }
        record: dict[str, Any] = {
            "InstanceType": name,
            "VCpuInfo": {"DefaultVCpus": draw(st.integers(1, 448))},
            "MemoryInfo": {"SizeInMiB": draw(st.integers(512, 32 * 2**20))},
            "BareMetal": draw(st.booleans()),
            "ProcessorInfo": {
                "SupportedArchitectures": draw(st.sampled_from([["x86_64"], ["arm64"]]))
            },
            "NetworkInfo": network,
        }
        if draw(st.booleans()):
            record["Hypervisor"] = draw(st.sampled_from(["nitro", "xen"]))
        records.append(record)
    return records


@settings(max_examples=60, deadline=None)
@given(_records())
def test_canonical_rename_invariants_and_tsv_round_trip(records: list[dict[str, Any]]) -> None:
    columns = canonical_columns(records, vpc_limits={})
    names = columns["instance_type"].tolist()
    assert names == sorted(record["InstanceType"] for record in records)
    by_name = {record["InstanceType"]: record for record in records}
    for i, name in enumerate(names):
        network = by_name[name]["NetworkInfo"]
        card = network["NetworkCards"][::-1][network["DefaultNetworkCardIndex"]]
        assert columns["max_enis_default_card"][i] == card["MaximumNetworkInterfaces"]
        assert columns["max_enis_default_card"][i] <= columns["max_enis"][i]
        assert columns["hypervisor"][i] == by_name[name].get("Hypervisor", "")
        assert columns["family"][i] + "." + columns["size"][i] == name
    assert not columns["vpc_limits_known"].any()
    parsed = parse_table(format_table(columns), Path("generated.tsv"))
    for name in SCHEMA:
        np.testing.assert_array_equal(parsed[name], columns[name], err_msg=name)
        assert parsed[name].dtype.kind == columns[name].dtype.kind


def test_record_without_a_required_field_is_a_snapshot_error() -> None:
    record = {"InstanceType": "x1.large", "VCpuInfo": {"DefaultVCpus": 2}, "NetworkInfo": {}}
    with pytest.raises(SnapshotError, match="lacks the field 'MemoryInfo'"):
        canonical_columns([record], vpc_limits={})


# --- missing and corrupt snapshots ---------------------------------------------------------------


def test_missing_snapshot_names_the_file_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError) as raised:
        load_catalog(tmp_path)
    message = str(raised.value)
    assert str(tmp_path / PROVENANCE_FILE) in message
    assert "cnisim catalog refresh --output" in message
    with pytest.raises(SnapshotError, match="not a snapshot directory"):
        load_catalog(tmp_path / "nope")


@pytest.mark.parametrize(
    ("file_name", "corrupt", "expected"),
    [
        (TABLE_FILE, lambda text: text.replace("\tnitro\t", "\tnitro\t\t", 1), "ragged"),
        (TABLE_FILE, lambda text: text.replace("\t8192\t", "\t8k\t", 1), "bad values"),
        (TABLE_FILE, lambda text: text.replace("\ttrue\n", "\tyes\n", 1), "bad values"),
        (TABLE_FILE, lambda text: text.replace("vcpus", "cpus", 1), "not a cnisim instance"),
        (TABLE_FILE, lambda text: text.rsplit("\n", 2)[0] + "\n", "row count differs"),
        (PROVENANCE_FILE, lambda text: text[:20], "is corrupt"),
    ],
)
def test_corrupt_snapshot_names_the_file_and_the_fix(
    tmp_path: Path, file_name: str, corrupt: Callable[[str], str], expected: str
) -> None:
    # Each corruption, first caught by the table's checksum, then, in a snapshot whose
    # provenance records none (written before checksums were), by the parser.
    old_snapshot(tmp_path)
    path = tmp_path / file_name
    path.write_text(corrupt(path.read_text()))
    first = "sha256" if file_name == TABLE_FILE else expected
    for expected_now in (first, expected):
        with pytest.raises(SnapshotError, match=expected_now) as raised:
            load_catalog(tmp_path)
        message = str(raised.value)
        assert file_name in message and f"cnisim catalog refresh --output {tmp_path}" in message
        assert "\n" not in message
        if file_name == TABLE_FILE:
            provenance = json.loads((tmp_path / PROVENANCE_FILE).read_text())
            provenance.pop("table_sha256", None)
            (tmp_path / PROVENANCE_FILE).write_text(json.dumps(provenance))


def edit_cells(text: str, instance_type: str, **cells: str) -> str:
    """The table with some cells of one type's row changed."""
    lines = text.split("\n")
    header = lines[1].split("\t")
    for i, line in enumerate(lines):
        if line.startswith(instance_type + "\t"):
            row = line.split("\t")
            for name, value in cells.items():
                row[header.index(name)] = value
            lines[i] = "\t".join(row)
    return "\n".join(lines)


# Edits that parse as a table but are no EC2 type: caught by the checksum, and by the range
# check where no checksum is recorded (issue 7: 50 IPs per ENI on m5.large gave 110 pods,
# negative ENIs -86 MiB reserved).
@pytest.mark.parametrize(
    ("cells", "range_fragment"),
    [
        ({"ipv4_per_eni": "50"}, None),
        ({"max_enis": "-3", "max_enis_default_card": "-3"}, "max_enis"),
        ({"max_enis_default_card": "9"}, "more ENIs"),
        ({"memory_mib": "9" * 30}, "bad values"),
    ],
)
def test_edited_table_is_refused(
    tmp_path: Path, cells: dict[str, str], range_fragment: str | None
) -> None:
    old_snapshot(tmp_path)
    table = tmp_path / TABLE_FILE
    edited = edit_cells(table.read_text(), "m5.large", **cells)
    assert edited != table.read_text()
    table.write_text(edited)
    with pytest.raises(SnapshotError, match="sha256"):
        load_catalog(tmp_path)
    provenance = json.loads((tmp_path / PROVENANCE_FILE).read_text())
    provenance.pop("table_sha256")
    (tmp_path / PROVENANCE_FILE).write_text(json.dumps(provenance))
    if range_fragment is None:  # in range for some type: only the checksum can tell
        load_catalog(tmp_path)
    else:
        with pytest.raises(SnapshotError, match=range_fragment):
            load_catalog(tmp_path)


@pytest.mark.parametrize(
    "damage",
    [lambda raw: raw[: len(raw) // 2], lambda raw: b"not gzip at all", lambda raw: b""],
)
def test_truncated_or_foreign_raw_file_is_refused_on_load(
    tmp_path: Path, damage: Callable[[bytes], bytes]
) -> None:
    old_snapshot(tmp_path)
    raw = tmp_path / RAW_FILE
    raw.write_bytes(damage(raw.read_bytes()))
    with pytest.raises(SnapshotError, match=f"{RAW_FILE} does not match the sha256") as raised:
        load_catalog(tmp_path)
    assert f"cnisim catalog refresh --output {tmp_path}" in str(raised.value)


def test_packaged_snapshot_checks_say_reinstall(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cnisim.catalog

    old_snapshot(tmp_path)
    (tmp_path / RAW_FILE).write_bytes(b"x")
    monkeypatch.setattr(cnisim.catalog, "_data_dir", lambda: tmp_path)
    with pytest.raises(SnapshotError, match="reinstall cnisim"):
        load_catalog()


def test_take_refuses_rows_that_are_not_there() -> None:
    catalog = load_catalog()
    for bad in ([len(catalog)], [[0, 1]], ["a"], [2**70]):
        with pytest.raises(UsageError, match="take needs"):
            catalog.take(bad)  # type: ignore[arg-type]
    assert catalog.take([-1]).instance_types.tolist() == [catalog.instance_types[-1]]


def test_paths_may_be_strings(tmp_path: Path) -> None:
    old_snapshot(tmp_path)
    assert len(load_catalog(str(tmp_path))) == 1395  # type: ignore[arg-type]


def test_corrupt_raw_records_name_the_file(tmp_path: Path) -> None:
    (tmp_path / RAW_FILE).write_bytes(b"not gzip")
    with pytest.raises(SnapshotError, match=f"{RAW_FILE} is corrupt"):
        read_raw_records(tmp_path)


# --- refresh --------------------------------------------------------------------------------------


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Zero botocore's backoff sleeps (standard mode), keeping its retry decisions."""
    from botocore.retries.standard import ExponentialBackoff

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.0)


def ec2_error_hook(
    monkeypatch: pytest.MonkeyPatch, code: str | None, status: int
) -> list[dict[str, Any]]:
    """Make every EC2 request of clients boto3 creates answer ``code`` (None: an empty
    body), via a ``before-send``
    event hook on the real client (botocore then parses and retries the response as it would
    AWS's; nothing goes on the network); returns the requests seen, to count attempts."""
    import boto3.session
    from botocore.awsrequest import AWSResponse
    from urllib3.response import HTTPResponse

    body = (
        f"<Response><Errors><Error><Code>{code}</Code><Message>injected by the test</Message>"
        "</Error></Errors><RequestID>test</RequestID></Response>"
    ).encode()
    if code is None:  # an empty body, as a misconfigured proxy sends
        body = b""
    seen: list[dict[str, Any]] = []

    def answer(request: Any, **kwargs: Any) -> AWSResponse:
        seen.append(kwargs)
        raw = HTTPResponse(body=io.BytesIO(body), status=status, preload_content=False)
        return AWSResponse(request.url, status, {}, raw)

    real_client = boto3.session.Session.client

    def client(self: Any, *args: Any, **kwargs: Any) -> Any:
        made = real_client(self, *args, **kwargs)
        made.meta.events.register("before-send.ec2.DescribeInstanceTypes", answer)
        return made

    monkeypatch.setattr(boto3.session.Session, "client", client)
    return seen


@pytest.mark.usefixtures("aws_credentials")
def test_refresh_with_mock_aws_writes_the_packaged_snapshot_again(tmp_path: Path) -> None:
    from moto import mock_aws

    with mock_aws():
        provenance = refresh_snapshot(tmp_path / "out", region="us-east-1", note="mock_aws")
    out = tmp_path / "out"
    assert sorted(path.name for path in out.iterdir()) == sorted(SNAPSHOT_FILES)
    raw = (out / RAW_FILE).read_bytes()
    assert raw[4:8] == b"\0\0\0\0"  # gzip MTIME field: zero, so the bytes are deterministic
    assert provenance["raw_sha256"] == hashlib.sha256(raw).hexdigest()
    assert provenance["source"] == "aws" and provenance["region"] == "us-east-1"
    assert provenance["count"] == 1395 and provenance["note"] == "mock_aws"
    retrieved = datetime.fromisoformat(provenance["retrieved_at_utc"])
    assert retrieved.utcoffset() is not None and retrieved.utcoffset().total_seconds() == 0
    assert abs((datetime.now(UTC) - retrieved).total_seconds()) < 3600
    assert json.loads((out / PROVENANCE_FILE).read_text()) == provenance
    records = json.loads(gzip.decompress(raw))
    assert [r["InstanceType"] for r in records] == sorted(r["InstanceType"] for r in records)
    assert (out / TABLE_FILE).read_bytes() == (PACKAGED_DIR / TABLE_FILE).read_bytes()
    import moto

    if moto.__version__ == MOTO_VERSION_OF_SNAPSHOT:
        # Same records through the same code: byte-identical to the shipped raw file.
        assert raw == (PACKAGED_DIR / RAW_FILE).read_bytes()


def test_no_credentials_leaves_the_snapshot_untouched(
    tmp_path: Path, aws_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    before = old_snapshot(tmp_path)
    with pytest.raises(AwsCredentialsError, match="AWS_PROFILE or run `aws configure`"):
        refresh_snapshot(tmp_path, region="us-east-1", endpoint_url=closed_port_url())
    assert snapshot_bytes(tmp_path) == before


@pytest.mark.usefixtures("aws_credentials")
def test_partial_credentials_are_a_credentials_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(AwsCredentialsError, match="--profile"):
        refresh_snapshot(tmp_path, region="us-east-1", endpoint_url=closed_port_url())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.usefixtures("aws_credentials")
def test_unknown_profile_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(AwsProfileNotFound, match="nosuchprofile") as raised:
        refresh_snapshot(tmp_path, region="us-east-1", profile="nosuchprofile")
    assert raised.value.exit_code == 2


@pytest.mark.usefixtures("aws_credentials")
def test_unreachable_endpoint_names_the_url(tmp_path: Path) -> None:
    before = old_snapshot(tmp_path)
    url = closed_port_url()
    with pytest.raises(EndpointUnreachable, match="cannot reach EC2") as raised:
        refresh_snapshot(tmp_path, region="us-east-1", endpoint_url=url)
    assert url in str(raised.value)
    assert snapshot_bytes(tmp_path) == before


@pytest.mark.usefixtures("aws_credentials", "fast_retries")
@pytest.mark.parametrize("code", ["RequestLimitExceeded", "Throttling"])
def test_throttling_after_every_retry_says_retry_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: str
) -> None:
    requests = ec2_error_hook(monkeypatch, code, 503)
    before = old_snapshot(tmp_path)
    with pytest.raises(Throttled, match="retry later"):
        refresh_snapshot(tmp_path, region="us-east-1", endpoint_url=closed_port_url())
    assert len(requests) == catalog._MAX_ATTEMPTS  # retried, not given up at once
    assert snapshot_bytes(tmp_path) == before


@pytest.mark.usefixtures("aws_credentials")
def test_access_denied_names_the_iam_action(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = ec2_error_hook(monkeypatch, "UnauthorizedOperation", 403)
    with pytest.raises(AccessDenied, match="ec2:DescribeInstanceTypes"):
        refresh_snapshot(tmp_path, region="us-east-1", endpoint_url=closed_port_url())
    assert len(requests) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def packaged_records(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refresh from the packaged raw records instead of EC2, to test the write phase alone."""
    records = read_raw_records()
    monkeypatch.setattr(catalog, "_fetch_records", lambda *args: (records, "us-east-1", "test"))


@pytest.mark.usefixtures("packaged_records")
def test_failed_replace_midway_restores_the_old_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = old_snapshot(tmp_path)
    real_replace = os.replace
    calls: list[str] = []

    def replace_failing_second(src: str, dst: str | Path) -> None:
        calls.append(str(dst))
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_failing_second)
    with pytest.raises(SnapshotWriteError, match="old snapshot is kept"):
        refresh_snapshot(tmp_path)
    assert len(calls) >= 3  # the first file was replaced, then put back
    assert snapshot_bytes(tmp_path) == before  # same files, same bytes, no temp files left


@pytest.mark.usefixtures("packaged_records")
def test_failed_write_midway_leaves_no_partial_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = old_snapshot(tmp_path)
    real_write_temp = catalog._write_temp
    n_calls = []

    def write_temp_failing_second(target: Path, data: bytes, temps: list[str]) -> str:
        # The second file fails after its temp file exists and holds part of the data.
        n_calls.append(target)
        if len(n_calls) == 2:
            real_write_temp(target, data[:10], temps)
            raise OSError(5, "Input/output error")
        return real_write_temp(target, data, temps)

    monkeypatch.setattr(catalog, "_write_temp", write_temp_failing_second)
    with pytest.raises(SnapshotWriteError, match="Input/output error"):
        refresh_snapshot(tmp_path)
    assert snapshot_bytes(tmp_path) == before


@pytest.mark.usefixtures("aws_credentials", "fast_retries")
def test_a_response_that_is_not_ec2_xml_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ec2_error_hook(monkeypatch, None, 200)
    with pytest.raises(EndpointUnreachable, match="not an EC2 response"):
        refresh_snapshot(tmp_path, region="us-east-1", endpoint_url=closed_port_url())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.usefixtures("aws_credentials")
def test_malformed_endpoint_url_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="'foo' is not an http"):
        refresh_snapshot(tmp_path, region="us-east-1", endpoint_url="foo")
