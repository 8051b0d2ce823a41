"""The ``cnisim`` command line: parse, call the library, print.

Module-level imports stay light (typer, numpy, light cnisim modules) so that quick commands
start fast; pandas, boto3 and matplotlib are imported inside the commands that need them.
Every :class:`~cnisim.errors.CnisimError` becomes one line on stderr,
``cnisim: error: <message>``, and its exit code; no traceback.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import inspect
import io
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import numpy as np
import typer

# typer (pinned below 0.29) vendors click; these are its usage-error classes.
from typer._click.exceptions import ClickException, NoArgsIsHelpError
from typer.core import TyperGroup

from cnisim import __version__
from cnisim.catalog import DEFAULT_REFRESH_DEADLINE_S, Catalog, load_catalog, refresh_snapshot
from cnisim.cni import IpamdConfig
from cnisim.errors import CnisimError, UsageError
from cnisim.limits import (
    DEFAULT_CNI_VERSION,
    HOST_NETWORK_PODS,
    KUBELET_DEFAULT_MAX_PODS,
    MaxPodsOptions,
    compute_limits,
    prefix_delegation_supported,
    tool_answers,
)
from cnisim.recommend import DEFAULT_GRID_HELP
from cnisim.sim.spec import max_pods_options, name_list, trunking_warning
from cnisim.units import (
    INT32_MAX,
    INT64_MAX,
    parse_assignments,
    parse_cpu_millicores,
    parse_float,
    parse_int,
    parse_memory_mib,
)

if TYPE_CHECKING:
    # typer 0.29 vendors click; its Context is the type TyperGroup.invoke is declared with.
    from typer._click import Context

    from cnisim.plan import Plan
    from cnisim.sim.scenario_result import SimulationResult


def _error_line(message: str) -> str:
    return "cnisim: error: " + " ".join(message.split())


def _fail(message: str, exit_code: int) -> NoReturn:
    """Print one error line on stderr (if there is one) and exit."""
    if sys.stderr is not None:
        with contextlib.suppress(OSError):
            print(_error_line(message), file=sys.stderr, flush=True)
    sys.exit(exit_code)


def _silence_stdout() -> None:
    """Point fd 1 at /dev/null so that Python's exit-time flush of stdout cannot fail again."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


class _WholeWrites(io.RawIOBase):
    """A file descriptor that writes every byte or raises.

    Python's own stdout can report success after a short write (a file-size limit reached
    part-way), losing the rest of the output without an error; this loop surfaces it.
    """

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        while view:
            view = view[os.write(self._fd, view) :]
        return len(data)


def _strict_stdout() -> None:
    """Replace the process's real stdout by one whose failed writes raise (tests keep theirs)."""
    if sys.stdout is not sys.__stdout__ or not isinstance(sys.stdout, io.TextIOWrapper):
        return
    stdout = sys.stdout
    stdout.flush()
    sys.stdout = io.TextIOWrapper(
        io.BufferedWriter(_WholeWrites(stdout.fileno())),
        encoding=stdout.encoding,
        errors=stdout.errors,
        line_buffering=stdout.line_buffering,
    )


class _OneLineErrors(TyperGroup):
    """A command group whose every failure is one line on stderr and a non-zero exit.

    cnisim's own errors keep their exit code; click's usage errors (unknown option, bad value)
    exit 2; output that cannot be written (closed stdout, full disk, file-size limit) exits 1.
    A closed pipe (``| head``) exits 1 quietly, as click does.
    """

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except CnisimError as exc:
            typer.echo(_error_line(str(exc)), err=True)
            raise typer.Exit(exc.exit_code) from None

    def main(  # type: ignore[override]
        self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any
    ) -> Any:
        standalone = extra.pop("standalone_mode", True)
        if sys.stdout is None:
            _fail(
                "stdout is closed, so the answer cannot be printed: run cnisim with an open "
                "stdout (e.g. > file)",
                1,
            )
        _strict_stdout()
        try:
            code = super().main(args, prog_name, standalone_mode=False, **extra)
            sys.stdout.flush()
        except NoArgsIsHelpError as exc:
            exc.show()  # the help page, as `cnisim` with no arguments shows it
            code = exc.exit_code
        except ClickException as exc:
            ctx = getattr(exc, "ctx", None)
            where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            _fail(exc.format_message() + where, exc.exit_code)
        except typer.Abort:
            _fail("aborted", 1)
        except CnisimError as exc:  # raised while parsing an option's value
            _fail(str(exc), exc.exit_code)
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                _silence_stdout()
                sys.exit(1)
            _silence_stdout()
            _fail(
                f"cannot write the output ({exc.strerror or exc}): free space on the disk, "
                "raise the file-size limit or write elsewhere",
                1,
            )
        if not standalone:
            return code
        sys.exit(code or 0)


app = typer.Typer(
    cls=_OneLineErrors,
    name="cnisim",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
)
catalog_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)
app.add_typer(catalog_app, name="catalog")


def _integer(name: str, minimum: int, maximum: int = INT64_MAX) -> Callable[[Any], int]:
    """An option parser: a whole number in [minimum, maximum], else one usage-error line."""

    def integer(value: Any) -> int:
        return parse_int(value, name=name, minimum=minimum, maximum=maximum)

    return integer


def _number(
    name: str, minimum: float, maximum: float | None = None, *, below_maximum: bool = False
) -> Callable[[Any], float]:
    """An option parser: a finite number in range (NaN and infinity refused)."""

    def number(value: Any) -> float:
        return parse_float(
            value, name=name, minimum=minimum, maximum=maximum, below_maximum=below_maximum
        )

    return number


def _snapshot_dir(value: Any) -> Path:
    """``--catalog``: a directory name; empty is refused (Path("") would mean the cwd)."""
    if not str(value).strip():
        raise UsageError("--catalog is empty: name a snapshot directory, e.g. --catalog ./data")
    return Path(value)


def _path(what: str) -> Callable[[Any], Path]:
    """A parser for a path argument: empty names and NUL bytes refused in one line (typer's
    own Path type stats the name first and fails on a NUL byte with a traceback)."""

    def parse(value: Any) -> Path:
        text = str(value)
        if not text.strip() or "\x00" in text:
            raise UsageError(f"{what} {text[:60]!r} is not a file name: give a path")
        return Path(text)

    return parse


#: ``--catalog DIR``: read a snapshot written by ``cnisim catalog refresh`` instead of the
#: packaged one. Reuse it on every command that reads instance data.
CatalogDirOption = Annotated[
    Path | None,
    typer.Option(
        "--catalog",
        help="Snapshot directory written by `cnisim catalog refresh --output DIR` "
        "(default: the snapshot shipped with cnisim).",
        parser=_snapshot_dir,
        metavar="DIR",
    ),
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cnisim {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Capacity planner and IPAM simulator for the Amazon VPC CNI on EKS.

    \b
    Example:
      cnisim catalog info
    """


@catalog_app.callback()
def _catalog() -> None:
    """The EC2 instance-type snapshot cnisim computes from (offline by default).

    cnisim ships a snapshot; `refresh` writes a newer one from your AWS account, which the
    other commands read with --catalog DIR.

    \b
    Example:
      cnisim catalog info
      cnisim catalog refresh --region us-east-1 --output ./cnisim-data
    """


@catalog_app.command("refresh")
def refresh(
    output: Annotated[
        str,
        typer.Option(
            "--output",
            help="Directory to write the snapshot into (created if missing). Required: "
            "the packaged snapshot is never overwritten. Read it back with --catalog DIR.",
        ),
    ],
    region: Annotated[
        str | None,
        typer.Option("--region", "-r", help="AWS Region (default: AWS_REGION or the profile's)."),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option("--profile", help="AWS profile (default: AWS_PROFILE or `default`)."),
    ] = None,
    endpoint_url: Annotated[
        str | None,
        typer.Option("--endpoint-url", help="EC2 endpoint instead of AWS (e.g. a moto server)."),
    ] = None,
    note: Annotated[
        str | None, typer.Option("--note", help="Free text stored in the provenance.")
    ] = None,
    timeout_s: Annotated[
        float,
        typer.Option(
            "--timeout",
            help="Seconds the whole fetch may take, retries included (default 30).",
            parser=_number("--timeout", 0.001, 3600.0),
        ),
    ] = DEFAULT_REFRESH_DEADLINE_S,
) -> None:
    """Fetch every EC2 instance type (DescribeInstanceTypes) into a snapshot directory.

    Needs the IAM action ec2:DescribeInstanceTypes. The old snapshot in DIR is replaced only
    when the new one is complete.

    \b
    Example:
      cnisim catalog refresh --region us-east-1 --output ./cnisim-data
      cnisim catalog info --catalog ./cnisim-data
    """
    if not output.strip():
        raise UsageError("--output is empty: name a directory, e.g. --output ./cnisim-data")
    directory = Path(output)
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"--output {output} is a file: name a directory")
    progress = None
    if sys.stderr is not None and sys.stderr.isatty():

        def progress(n_records: int) -> None:
            typer.echo(f"\rfetched {n_records} instance types", err=True, nl=False)

    provenance = refresh_snapshot(
        directory,
        region=region,
        profile=profile,
        endpoint_url=endpoint_url,
        note=note,
        deadline_s=timeout_s,
        progress=progress,
    )
    if progress is not None:
        typer.echo("", err=True)
    typer.echo(
        f"wrote {provenance['count']} instance types from {provenance['source']} "
        f"({provenance['region']}) to {directory}"
    )


@catalog_app.command("info")
def info(catalog: CatalogDirOption = None) -> None:
    """Show where the instance-type snapshot comes from: count, region, date, source.

    \b
    Example:
      cnisim catalog info
      cnisim catalog info --catalog ./cnisim-data
    """
    loaded = load_catalog(catalog)
    provenance = loaded.provenance
    fields = {
        "snapshot": str(catalog) if catalog is not None else "packaged with cnisim",
        "count": len(loaded),
        "region": provenance.get("region"),
        "retrieved": provenance.get("retrieved_at_utc"),
        "source": provenance.get("source"),
        "note": provenance.get("note"),
        "botocore": provenance.get("botocore_version"),
        # load_catalog has just checked both files against these (it refuses a mismatch).
        "raw sha256": _verified(provenance.get("raw_sha256")),
        "table sha256": _verified(provenance.get("table_sha256")),
    }
    for name, value in fields.items():
        typer.echo(f"{name + ':':<14}{'' if value is None else value}")


def _verified(recorded: str | None) -> str:
    return "not recorded (not checked)" if recorded is None else f"{recorded} (verified)"


class OutputFormat(StrEnum):
    """``-o``: how results are printed."""

    plain = "plain"
    table = "table"
    json = "json"
    csv = "csv"


OutputOption = Annotated[
    OutputFormat | None,
    typer.Option(
        "--output",
        "-o",
        help="plain (a bare number for one type), table, json (a list of objects) or csv. "
        "Default: plain for one type, table otherwise.",
        case_sensitive=False,
    ),
]
CniVersionOption = Annotated[
    str,
    typer.Option(
        "--cni-version",
        help="VPC CNI version, as the calculator's flag (1.19.0-eksbuild.1 works).",
    ),
]
PrefixDelegationOption = Annotated[
    bool,
    typer.Option(
        "--cni-prefix-delegation-enabled",
        help="ENABLE_PREFIX_DELEGATION: /28 prefixes, 16 addresses per ENI slot (Nitro only; "
        "other types fall back to secondary IPs, with a warning).",
    ),
]
CustomNetworkingOption = Annotated[
    bool,
    typer.Option(
        "--cni-custom-networking-enabled",
        help="AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: the primary ENI carries no pods.",
    ),
]
MaxEniOption = Annotated[
    int | None,
    typer.Option(
        "--cni-max-eni",
        help="MAX_ENI: use at most N ENIs (1 or more).",
        parser=_integer("--cni-max-eni", 1),
    ),
]
ShowMaxAllowedOption = Annotated[
    bool,
    typer.Option(
        "--show-max-allowed",
        help="Print the network limit without the 110/250 policy cap, as the calculator does.",
    ),
]
SecurityGroupsForPodsOption = Annotated[
    bool,
    typer.Option(
        "--security-groups-for-pods",
        help="ENABLE_POD_ENI: on trunking-compatible types the trunk ENI takes one ENI slot "
        "(branch-ENI pods are counted apart); other types get no trunk and keep every slot.",
    ),
]
Ipv6Option = Annotated[
    bool,
    typer.Option(
        "--ipv6", help="ENABLE_IPv6: a /80 per ENI, so max pods is the policy value (110/250)."
    ),
]
AllNetworkCardsOption = Annotated[
    bool,
    typer.Option(
        "--all-network-cards",
        help="ENABLE_MULTI_NIC (CNI >= 1.20): count ENIs on every network card.",
    ),
]
MaxPodsOverrideOption = Annotated[
    int | None,
    typer.Option(
        "--max-pods",
        help="Your kubelet maxPods (eksctl maxPodsPerNode), 1 to 2^31-1: it is the answer, "
        "and the reservations follow --reservation-basis.",
        parser=_integer("--max-pods", 1, INT32_MAX),
    ),
]
ReservationBasisOption = Annotated[
    str,
    typer.Option(
        "--reservation-basis",
        help="Which max pods kube-reserved memory follows: nodeadm (AL2023, AL2, Karpenter: "
        "the ENI value, even with --max-pods) or bottlerocket (the effective max pods).",
    ),
]
VmOverheadOption = Annotated[
    float,
    typer.Option(
        "--vm-overhead",
        help="Fraction of memory the hypervisor keeps, in [0, 1) (Karpenter's "
        "VM_MEMORY_OVERHEAD_PERCENT is 0.075); 0 uses the full instance memory.",
        parser=_number("--vm-overhead", 0.0, 1.0, below_maximum=True),
    ),
]
PrefixDelegationRuleOption = Annotated[
    str,
    typer.Option(
        "--prefix-delegation-rule",
        help="Which types get prefix delegation: calculator (Nitro hypervisor only, as "
        "max-pods-calculator.sh) or cni (also bare metal, as the VPC CNI >= 1.10.3).",
    ),
]
PodCpuOption = Annotated[
    str | None,
    typer.Option("--pod-cpu", help="A pod profile's CPU request, e.g. 250m or 0.5."),
]
PodMemoryOption = Annotated[
    str | None,
    typer.Option("--pod-memory", help="A pod profile's memory request, e.g. 512Mi or 2Gi."),
]


def _max_pods_options(
    *,
    cni_version: str,
    prefix_delegation: bool,
    custom_networking: bool,
    max_eni: int | None,
    security_groups_for_pods: bool,
    ipv6: bool,
    all_network_cards: bool,
    show_max_allowed: bool,
    max_pods_override: int | None,
    reservation_basis: str,
    vm_overhead_frac: float,
    pod_cpu: str | None,
    pod_memory: str | None,
    prefix_delegation_rule: str,
) -> MaxPodsOptions:
    """Build the limits options from the flags (the calculator's names mapped once, here)."""
    if reservation_basis not in ("nodeadm", "bottlerocket"):
        raise UsageError(
            f"--reservation-basis {reservation_basis!r} is unknown: use nodeadm or bottlerocket"
        )
    if prefix_delegation_rule not in ("calculator", "cni"):
        raise UsageError(
            f"--prefix-delegation-rule {prefix_delegation_rule!r} is unknown: use calculator or cni"
        )
    # The calculator's flags as the aws-node settings they stand for, then the one translation
    # that warmpool uses too. IPv6 runs in prefix mode (ipamd refuses it otherwise).
    config = IpamdConfig(
        enable_prefix_delegation=prefix_delegation or ipv6,
        custom_network_cfg=custom_networking,
        max_eni=max_eni,
        enable_pod_eni=security_groups_for_pods,
        enable_ipv4=not ipv6,
        enable_ipv6=ipv6,
    )
    return max_pods_options(
        config,
        cni_version=cni_version,
        max_pods=max_pods_override,
        all_network_cards=all_network_cards,
        prefix_delegation_rule="cni" if prefix_delegation_rule == "cni" else "calculator",
        show_max_allowed=show_max_allowed,
        reservation_basis="bottlerocket" if reservation_basis == "bottlerocket" else "nodeadm",
        vm_overhead_frac=vm_overhead_frac,
        pod_cpu_millicores=None if pod_cpu is None else parse_cpu_millicores(pod_cpu),
        pod_memory_mib=None if pod_memory is None else parse_memory_mib(pod_memory),
    )


#: The flags ``maxpods`` and ``describe`` share, named as :func:`_max_pods_options` names them.
_MODE_FLAG_NAMES = tuple(inspect.signature(_max_pods_options).parameters)


def _mode_flags(arguments: dict[str, Any]) -> dict[str, Any]:
    """The arguments of a command that :func:`_max_pods_options` takes (they share names)."""
    return {name: arguments[name] for name in _MODE_FLAG_NAMES}


def _select(
    cat: Catalog,
    names: list[str],
    *,
    all_types: bool,
    families: list[str],
    arch: str | None,
    min_vcpus: int | None,
    max_vcpus: int | None,
    min_memory_gib: float | None,
    max_memory_gib: float | None,
) -> Catalog:
    """The types a command reports: the names given, or the whole catalog filtered."""
    filtered = bool(families) or arch is not None or min_vcpus is not None
    filtered = filtered or max_vcpus is not None
    filtered = filtered or min_memory_gib is not None or max_memory_gib is not None
    if names and (all_types or filtered):
        raise UsageError("name instance types or use --all with filters, not both")
    if names:
        return cat.take(cat.locate(names))
    if not (all_types or filtered):
        raise UsageError("name at least one instance type (e.g. t3.large) or use --all")
    mask = np.ones(len(cat), dtype=bool)
    if families:
        wanted = {f for item in families for f in item.split(",") if f}
        mask &= np.isin(cat["family"], sorted(wanted))
    if arch is not None:
        mask &= cat["arch"] == arch
    memory_gib = cat["memory_mib"] / 1024
    for lower, upper, values in (
        (min_vcpus, max_vcpus, cat["vcpus"]),
        (min_memory_gib, max_memory_gib, memory_gib),
    ):
        if lower is not None:
            mask &= values >= lower
        if upper is not None:
            mask &= values <= upper
    if not mask.any():
        raise UsageError("no instance type matches these filters: widen them")
    chosen = cat.filter(mask)
    # Family, then size: c7g.2xlarge before c7g.12xlarge (names alone sort the other way).
    order = np.lexsort(
        (chosen.instance_types, chosen["memory_mib"], chosen["vcpus"], chosen["family"])
    )
    return chosen.take(order)


def _warn(message: str) -> None:
    typer.echo(f"cnisim: warning: {message}", err=True)


def _warn_modes(cat: Catalog, limits: dict[str, np.ndarray], options: MaxPodsOptions) -> None:
    """Say on stderr where the CNI overrides the asked-for mode (the numbers already follow)."""
    fallback = limits["prefix_delegation_fallback"] & (not options.ipv6)
    metal = cat["bare_metal"].astype(bool)
    nitro = cat["hypervisor"] == "nitro"
    # The CNI version, not the type, is why a Nitro (or, by the CNI's rule, a metal) type
    # falls back: the same rule asked of an ideal type of that kind.
    version_ok = prefix_delegation_supported(
        np.where(nitro, "nitro", ""),
        metal & (options.prefix_delegation_rule == "cni"),
        rule=options.prefix_delegation_rule,
        cni_version=options.cni_version,
    )
    too_old = fallback & (nitro | (metal & (options.prefix_delegation_rule == "cni")))
    too_old &= ~version_ok
    verdicts = (
        (limits["cni_refused"], "the VPC CNI does not start with these settings, so 0 pods"),
        (
            too_old,
            f"VPC CNI {options.cni_version} does not delegate prefixes here (Nitro from 1.9.0, "
            "bare metal from 1.10.3); it falls back to secondary IPs and the number shown uses "
            "them: raise --cni-version",
        ),
        (
            fallback & ~too_old & ~metal,
            "prefix delegation needs a Nitro instance; the VPC CNI falls back to secondary IPs "
            "and the number shown uses them",
        ),
        (
            fallback & ~too_old & metal,
            "bare metal has no hypervisor value, so max-pods-calculator.sh counts secondary IPs "
            "(shown); the VPC CNI >= 1.10.3 does use prefixes there: add "
            "--prefix-delegation-rule cni for its number",
        ),
    )
    for mask, verdict in verdicts:
        flagged = cat.instance_types[mask]
        if flagged.size:
            _warn(f"{name_list(flagged)}: {verdict}")
    config = IpamdConfig(enable_pod_eni=options.security_groups_for_pods)
    trunking = trunking_warning(cat.columns, config)
    if trunking is not None:
        _warn(trunking)
    if options.show_max_allowed and options.max_pods_override is not None:
        _warn("--show-max-allowed is ignored: --max-pods sets the answer")


_MAXPODS_COLUMNS = (
    "instance_type",
    "vcpus",
    "memory_mib",
    "enis_for_pods",
    "ipv4_per_eni",
    "max_pods",
    "max_pods_uncapped",
    "policy_cap",
    "prefix_delegation",
    "kube_reserved_memory_mib",
    "kube_reserved_cpu_millicores",
    "allocatable_memory_mib",
    "allocatable_cpu_millicores",
    "memory_per_pod_mib",
    "cpu_per_pod_millicores",
)
_PROFILE_COLUMNS = ("pods_fit", "binding_resource")

#: Table headers (json and csv keep the full column names).
_SHORT_HEADERS = {
    "instance_type": "type",
    "vcpus": "vcpu",
    "memory_mib": "mem_mib",
    "enis_for_pods": "enis",
    "ipv4_per_eni": "ip/eni",
    "max_pods_uncapped": "uncapped",
    "policy_cap": "cap",
    "prefix_delegation": "pd",
    "kube_reserved_memory_mib": "rsv_mib",
    "kube_reserved_cpu_millicores": "rsv_m",
    "allocatable_memory_mib": "alloc_mib",
    "allocatable_cpu_millicores": "alloc_m",
    "memory_per_pod_mib": "mib/pod",
    "cpu_per_pod_millicores": "m/pod",
    "pods_fit": "fit",
    "binding_resource": "binds",
}


def _maxpods_rows(cat: Catalog, limits: dict[str, np.ndarray], profile: bool) -> list[dict]:
    """One record per type, JSON-ready (Python scalars)."""
    columns: dict[str, list[Any]] = {
        "instance_type": cat.instance_types.tolist(),
        "vcpus": cat["vcpus"].tolist(),
        "memory_mib": cat["memory_mib"].tolist(),
        "ipv4_per_eni": cat["ipv4_per_eni"].tolist(),
        "prefix_delegation": limits["prefix_delegation_effective"].tolist(),
    }
    names = _MAXPODS_COLUMNS + (_PROFILE_COLUMNS if profile else ())
    for name in names:
        if name not in columns:
            values = limits[name]
            if values.dtype.kind == "f":
                values = np.round(values, 1)
            columns[name] = values.tolist()
    return [
        dict(zip(names, row, strict=True)) for row in zip(*(columns[n] for n in names), strict=True)
    ]


def _render(rows: list[dict], fmt: OutputFormat, value_key: str) -> str:
    """Rows as plain, table, json or csv text."""
    if fmt is OutputFormat.json:
        return json.dumps(rows, indent=2)
    if fmt is OutputFormat.plain:
        if len(rows) == 1:
            return str(rows[0][value_key])
        return "\n".join(f"{row['instance_type']} {row[value_key]}" for row in rows)
    header = list(rows[0])
    if fmt is OutputFormat.csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([row[h] for h in header] for row in rows)
        return buffer.getvalue().rstrip("\n")
    shown = [_SHORT_HEADERS.get(h, h) for h in header]
    cells = [shown] + [[_cell(row[h]) for h in header] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in cells
    ]
    return "\n".join(line.rstrip() for line in lines)


#: What each short table header stands for (json and csv use the long names).
_LEGEND = {
    "type": "instance type",
    "vcpu": "vCPUs",
    "mem_mib": "memory [MiB]",
    "enis": "ENIs for pods",
    "ip/eni": "IPv4 addresses per ENI",
    "uncapped": "max pods without the 110/250 cap",
    "cap": "110/250 policy cap",
    "pd": "prefix delegation used",
    "rsv_mib": "kube-reserved memory [MiB]",
    "rsv_m": "kube-reserved CPU [millicores]",
    "alloc_mib": "allocatable memory [MiB]",
    "alloc_m": "allocatable CPU [millicores]",
    "mib/pod": "allocatable memory per pod at max pods [MiB]",
    "m/pod": "allocatable CPU per pod at max pods [millicores]",
    "fit": "pods of the profile that fit",
    "binds": "what runs out first: pods, memory or cpu",
}


def _legend_text(headers: Sequence[str]) -> str:
    return "; ".join(f"{h} = {_LEGEND[h]}" for h in headers if h in _LEGEND)


def _echo_legend(rows: list[dict]) -> None:
    """The short headers explained, on stderr (stdout stays a clean table to parse)."""
    if sys.stderr is not None and sys.stderr.isatty():
        shown = [_SHORT_HEADERS.get(h, h) for h in rows[0]]
        typer.echo(f"columns: {_legend_text(shown)}", err=True)


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@app.command("maxpods", epilog="Table columns: " + _legend_text(list(_LEGEND)) + ".")
def maxpods(
    instance_types: Annotated[
        list[str] | None, typer.Argument(help="Instance types, e.g. t3.large m5.xlarge.")
    ] = None,
    all_types: Annotated[bool, typer.Option("--all", help="Every type in the catalog.")] = False,
    output: OutputOption = None,
    cni_version: CniVersionOption = DEFAULT_CNI_VERSION,
    prefix_delegation: PrefixDelegationOption = False,
    custom_networking: CustomNetworkingOption = False,
    max_eni: MaxEniOption = None,
    show_max_allowed: ShowMaxAllowedOption = False,
    security_groups_for_pods: SecurityGroupsForPodsOption = False,
    ipv6: Ipv6Option = False,
    all_network_cards: AllNetworkCardsOption = False,
    max_pods_override: MaxPodsOverrideOption = None,
    reservation_basis: ReservationBasisOption = "nodeadm",
    vm_overhead_frac: VmOverheadOption = 0.0,
    pod_cpu: PodCpuOption = None,
    pod_memory: PodMemoryOption = None,
    prefix_delegation_rule: PrefixDelegationRuleOption = "calculator",
    family: Annotated[
        list[str] | None, typer.Option("--family", help="With --all: families, e.g. m5,c6i.")
    ] = None,
    arch: Annotated[str | None, typer.Option("--arch", help="With --all: x86_64 or arm64.")] = None,
    min_vcpus: Annotated[
        int | None,
        typer.Option(
            "--min-vcpus", help="With --all: at least N vCPUs.", parser=_integer("--min-vcpus", 0)
        ),
    ] = None,
    max_vcpus: Annotated[
        int | None,
        typer.Option(
            "--max-vcpus", help="With --all: at most N vCPUs.", parser=_integer("--max-vcpus", 0)
        ),
    ] = None,
    min_memory_gib: Annotated[
        float | None,
        typer.Option(
            "--min-memory-gib",
            help="With --all: at least this memory [GiB].",
            parser=_number("--min-memory-gib", 0.0),
        ),
    ] = None,
    max_memory_gib: Annotated[
        float | None,
        typer.Option(
            "--max-memory-gib",
            help="With --all: at most this memory [GiB].",
            parser=_number("--max-memory-gib", 0.0),
        ),
    ] = None,
    catalog: CatalogDirOption = None,
) -> None:
    """Max pods per node for instance types, as the VPC CNI allows and EKS tools set it.

    One type prints a bare integer, like max-pods-calculator.sh, ready for user data. The
    calculator's flags mean what they mean there, caps included (110, or 250 above 30 vCPUs;
    --show-max-allowed lifts them). Tables add the kubelet reservations and RAM and CPU per
    pod; a pod profile (--pod-cpu, --pod-memory) adds how many such pods fit.

    \b
    Examples:
      cnisim maxpods t3.large
      cnisim maxpods m5.large --cni-custom-networking-enabled
      cnisim maxpods m5.large c6i.xlarge --cni-prefix-delegation-enabled -o json
      cnisim maxpods --all --family m7g --pod-cpu 250m --pod-memory 512Mi
    """
    cat = _select(
        load_catalog(catalog),
        instance_types or [],
        all_types=all_types,
        families=family or [],
        arch=arch,
        min_vcpus=min_vcpus,
        max_vcpus=max_vcpus,
        min_memory_gib=min_memory_gib,
        max_memory_gib=max_memory_gib,
    )
    options = _max_pods_options(**_mode_flags(locals()))
    limits = compute_limits(cat.columns, options)
    _warn_modes(cat, limits, options)
    if options.prefix_delegation_rule == "cni" and not (options.prefix_delegation or options.ipv6):
        _warn(
            "--prefix-delegation-rule cni changes nothing without --cni-prefix-delegation-enabled"
        )
    profile = options.pod_cpu_millicores is not None or options.pod_memory_mib is not None
    rows = _maxpods_rows(cat, limits, profile)
    # A bare number answers one type; a pod profile's fit needs the table to be seen.
    plain = len(rows) == 1 and not profile
    fmt = output or (OutputFormat.plain if plain else OutputFormat.table)
    if fmt is OutputFormat.plain and profile:
        _warn("-o plain prints max pods only; the pod profile's fit is in -o table, json or csv")
    typer.echo(_render(rows, fmt, "max_pods"))
    if fmt is OutputFormat.table:
        _echo_legend(rows)


#: Modes ``describe`` compares: a label and the options that turn the mode on.
_DESCRIBE_MODES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("secondary IPs", {}),
    ("prefix delegation", {"prefix_delegation": True}),
    ("custom networking", {"custom_networking": True}),
    (
        "custom networking + prefix delegation",
        {"custom_networking": True, "prefix_delegation": True},
    ),
    ("security groups for pods", {"security_groups_for_pods": True}),
    ("IPv6", {"ipv6": True}),
    ("all network cards", {"all_network_cards": True}),
)

_TOOL_LABELS = {
    "calculator": "max-pods-calculator.sh",
    "calculator_show_max_allowed": "max-pods-calculator.sh --show-max-allowed",
    "nodeadm": "nodeadm (AL2023)",
    "karpenter": "Karpenter",
    "bottlerocket": "Bottlerocket",
    "managed_node_group": "EKS managed node group",
    "eks_auto_mode": "EKS Auto Mode",
    "kubelet_default": "kubelet default (no maxPods set)",
}


def describe_type(cat: Catalog, options: MaxPodsOptions) -> dict[str, Any]:
    """Every limit, reservation and per-pod figure of one type, and each tool's answer."""
    row = {name: values[0].item() for name, values in cat.columns.items()}
    limits = compute_limits(cat.columns, options)
    modes: dict[str, Any] = {}
    for label, changes in _DESCRIBE_MODES:
        try:
            mode_options = replace(options, **changes)
        except CnisimError as exc:
            modes[label] = {"refused": str(exc)}
            continue
        mode = compute_limits(cat.columns, mode_options)
        modes[label] = {
            "max_pods_uncapped": mode["max_pods_uncapped"][0].item(),
            "max_pods_capped": mode["max_pods_capped"][0].item(),
            "prefix_delegation": bool(mode["prefix_delegation_effective"][0]),
            "refused": "the VPC CNI does not start here" if mode["cni_refused"][0] else None,
        }
    tools = tool_answers(cat.columns, options)
    keys = (
        "max_pods",
        "max_pods_uncapped",
        "policy_cap",
        "enis_for_pods",
        "branch_eni_pods",
        "max_pods_for_reservation",
        "kube_reserved_memory_mib",
        "kube_reserved_cpu_millicores",
        "eviction_memory_mib",
        "vm_overhead_mib",
        "allocatable_memory_mib",
        "allocatable_cpu_millicores",
        "memory_per_pod_mib",
        "cpu_per_pod_millicores",
        "pods_fit",
        "binding_resource",
    )
    answer = {key: limits[key][0].item() for key in keys if key in limits}
    return {
        "instance": row,
        "answer": answer,
        "modes": modes,
        "tools": {key: values[0].item() for key, values in tools.items()}
        | {"kubelet_default": KUBELET_DEFAULT_MAX_PODS},
    }


def _slug(label: str) -> str:
    """``"custom networking + prefix delegation"`` -> ``"custom_networking_prefix_delegation"``."""
    return "_".join(label.replace("+", " ").lower().split())


def describe_row(info: dict[str, Any]) -> dict[str, Any]:
    """``describe`` as one flat record with snake_case keys (for json and csv).

    The type's catalog columns, the answer's quantities, then ``mode_<mode>_<quantity>`` for
    each VPC CNI mode and ``tool_<tool>_max_pods`` for each tool.
    """
    row = dict(info["instance"]) | dict(info["answer"])
    for label, mode in info["modes"].items():
        prefix = f"mode_{_slug(label)}_"
        for key in ("max_pods_uncapped", "max_pods_capped", "prefix_delegation", "refused"):
            row[prefix + key] = mode.get(key)
    row |= {f"tool_{key}_max_pods": value for key, value in info["tools"].items()}
    return row


def _describe_text(info: dict[str, Any]) -> str:
    """The human-readable ``describe`` page."""
    row, answer = info["instance"], info["answer"]
    hypervisor = row["hypervisor"] or ("bare metal" if row["bare_metal"] else "none")
    lines = [
        f"{row['instance_type']}: {row['vcpus']} vCPU, {row['memory_mib']} MiB, {row['arch']}, "
        f"hypervisor {hypervisor}",
        f"  ENIs: {row['max_enis_default_card']} on the default card ({row['max_enis']} on "
        f"{row['n_network_cards']} card(s)); {row['ipv4_per_eni']} IPv4 and "
        f"{row['ipv6_per_eni']} IPv6 addresses per ENI",
        "  security groups for pods: "
        + (
            f"trunking, {row['branch_enis']} branch ENIs"
            if row["trunking_compatible"]
            else "not trunking-compatible"
        ),
        "",
        f"max pods with these settings: {answer['max_pods']} "
        f"(network limit {answer['max_pods_uncapped']}, policy cap {answer['policy_cap']}; "
        f"{answer['enis_for_pods']} ENIs for pods, {answer['branch_eni_pods']} branch-ENI pods)",
        "",
        f"{'max pods by VPC CNI mode':<42}uncapped   capped",
    ]
    for label, mode in info["modes"].items():
        if mode["refused"] is not None and "max_pods_uncapped" not in mode:
            lines.append(f"  {label:<40}refused: {mode['refused']}")
            continue
        note = "" if mode["refused"] is None else f"  ({mode['refused']})"
        if label.endswith("prefix delegation") and not mode["prefix_delegation"]:
            note = "  (secondary IPs: see --prefix-delegation-rule)"
        lines.append(
            f"  {label:<40}{mode['max_pods_uncapped']:>8} {mode['max_pods_capped']:>8}{note}"
        )
    lines += ["", "what each tool sets as max pods"]
    lines += [f"  {_TOOL_LABELS[k]:<44}{v:>6}" for k, v in info["tools"].items()]
    lines += [
        "",
        f"kubelet reservations (from max pods {answer['max_pods_for_reservation']}) and "
        f"per-pod resources at max pods {answer['max_pods']}",
        f"  kube-reserved memory {answer['kube_reserved_memory_mib']} MiB, "
        f"cpu {answer['kube_reserved_cpu_millicores']} m; eviction "
        f"{answer['eviction_memory_mib']} MiB; VM overhead {answer['vm_overhead_mib']} MiB",
        f"  allocatable memory {answer['allocatable_memory_mib']} MiB, "
        f"cpu {answer['allocatable_cpu_millicores']} m",
        f"  per pod {answer['memory_per_pod_mib']:.1f} MiB, "
        f"{answer['cpu_per_pod_millicores']:.1f} m",
    ]
    if "pods_fit" in answer:
        lines.append(
            f"  pod profile: {answer['pods_fit']} pods fit; {answer['binding_resource']} "
            "binds first"
        )
    return "\n".join(lines)


@app.command("describe")
def describe(
    instance_type: Annotated[str, typer.Argument(help="One instance type, e.g. m5.large.")],
    output: OutputOption = None,
    cni_version: CniVersionOption = DEFAULT_CNI_VERSION,
    prefix_delegation: PrefixDelegationOption = False,
    custom_networking: CustomNetworkingOption = False,
    max_eni: MaxEniOption = None,
    show_max_allowed: ShowMaxAllowedOption = False,
    security_groups_for_pods: SecurityGroupsForPodsOption = False,
    ipv6: Ipv6Option = False,
    all_network_cards: AllNetworkCardsOption = False,
    max_pods_override: MaxPodsOverrideOption = None,
    reservation_basis: ReservationBasisOption = "nodeadm",
    vm_overhead_frac: VmOverheadOption = 0.0,
    pod_cpu: PodCpuOption = None,
    pod_memory: PodMemoryOption = None,
    prefix_delegation_rule: PrefixDelegationRuleOption = "calculator",
    catalog: CatalogDirOption = None,
) -> None:
    """Every limit, reservation and per-pod figure of one type, and what each tool would say.

    The flags are those of `cnisim maxpods`; they set the headline answer, the tools column
    and the reservations. The mode table always shows every VPC CNI mode side by side.
    -o json is a list of one flat object and -o csv one row with the same columns:
    the type's catalog columns, the answer, mode_<mode>_<quantity> and tool_<tool>_max_pods.

    \b
    Examples:
      cnisim describe m5.large
      cnisim describe c6in.32xlarge --cni-prefix-delegation-enabled -o json
    """
    cat = load_catalog(catalog)
    selected = cat.take(cat.locate([instance_type]))
    options = _max_pods_options(**_mode_flags(locals()))
    info = describe_type(selected, options)
    _warn_modes(selected, compute_limits(selected.columns, options), options)
    if output in (OutputFormat.json, OutputFormat.csv):
        typer.echo(_render([describe_row(info)], output, "max_pods"))
    else:
        typer.echo(_describe_text(info))


def _parse_settings(items: list[str]) -> dict[str, str]:
    """``--set NAME=VALUE`` pairs as an aws-node environment (values kept byte for byte)."""
    return parse_assignments(items, option="--set", example="WARM_IP_TARGET=5")


def _parse_pod_counts(text: str) -> list[int]:
    parts = [part for part in text.split(",") if part.strip()]
    if not parts:
        raise UsageError(f"--pods {text[:60]!r} is not a list of pod counts: write e.g. 0,5,15")
    return [parse_int(part, name="--pods", minimum=0, maximum=INT32_MAX) for part in parts]


#: The largest kubelet maxPods warmpool simulates: 2,000 pods take ~5 s (EKS sets at most 250,
#: the secondary-IP table tops out at 737).
_WARMPOOL_MAX_PODS = 2_000


class Placement(StrEnum):
    """``--placement``: how ipamd picks a pod's address."""

    first_fit = "first_fit"
    random = "random"


class RowFormat(StrEnum):
    """``-o`` of ``warmpool``: rows as a table, json or csv."""

    table = "table"
    json = "json"
    csv = "csv"


#: warmpool columns: (row key, column name in every format). The pods counted are those that
#: need an address: max pods includes the host-network pods (aws-node, kube-proxy).
_WARMPOOL_COLUMNS = (
    ("pods", "pods_needing_ip"),
    ("enis", "enis"),
    ("ips_held", "ips_held"),
    ("ips_assigned", "ips_assigned"),
    ("ips_free", "ips_free"),
    ("prefixes", "prefixes"),
    ("subnet_ips", "subnet_ips"),
    ("failed_pods", "failed_pods"),
    ("ips_per_eni", "ips_per_eni"),
)
#: churn timeline columns: cooling IPs are shown apart from those a pod can get now.
_CHURN_COLUMNS = (
    ("now_s", "now_s"),
    ("pods_wanted", "pods_wanted"),
    ("ips_assigned", "ips_assigned"),
    ("pods_waiting", "pods_waiting"),
    ("enis", "enis"),
    ("ips_held", "ips_held"),
    ("ips_available", "ips_free_now"),
    ("ips_cooldown", "ips_cooling"),
    ("prefixes", "prefixes"),
    ("subnet_ips", "subnet_ips"),
)


def _with_progress(label: str, work: Callable[[], Any]) -> Any:
    """Run ``work``; on a terminal, show a spinner with the elapsed time on stderr meanwhile."""
    if sys.stderr is None or not sys.stderr.isatty():
        return work()
    from rich.console import Console  # only on a terminal: rich costs ~50 ms to import

    with Console(stderr=True).status(f"{label}..."):
        return work()


@app.command("warmpool")
def warmpool(
    instance_type: Annotated[str, typer.Argument(help="One instance type, e.g. t3.large.")],
    pods: Annotated[
        str | None,
        typer.Option(
            "--pods",
            help="Counts of pods that need an address to report, comma-separated (default "
            "0,5,15). Host-network pods (aws-node, kube-proxy) are not counted: at most max "
            "pods - 2.",
        ),
    ] = None,
    settings: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="An aws-node variable, NAME=VALUE (WARM_ENI_TARGET, WARM_IP_TARGET, "
            "MINIMUM_IP_TARGET, WARM_PREFIX_TARGET, ENABLE_PREFIX_DELEGATION, MAX_ENI, "
            "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG, ENABLE_POD_ENI, IP_COOLDOWN_PERIOD, ...); "
            "repeat it.",
        ),
    ] = None,
    max_pods_override: Annotated[
        int | None,
        typer.Option(
            "--max-pods",
            help="Your kubelet maxPods (eksctl maxPodsPerNode), 1 to 2,000 (the simulated "
            "node's cost grows with its pods); default what `cnisim maxpods` gives for the same "
            "settings.",
            parser=_integer("--max-pods", 1, _WARMPOOL_MAX_PODS),
        ),
    ] = None,
    churn: Annotated[
        int | None,
        typer.Option(
            "--churn",
            help="Instead of --pods: a 5-minute timeline in which N pods arrive, all leave, "
            "and N new pods arrive while the released IPs cool down.",
            parser=_integer("--churn", 1, INT32_MAX),
        ),
    ] = None,
    churn_step_s: Annotated[
        int | None,
        typer.Option(
            "--every",
            help="With --churn: seconds between timeline rows, 1 to 300 (default 10).",
            parser=_integer("--every", 1, 300),
        ),
    ] = None,
    placement: Annotated[
        Placement,
        typer.Option(
            "--placement",
            help="first_fit packs pods onto the first ENI; random spreads them as ipamd's Go "
            "map order does.",
        ),
    ] = Placement.first_fit,
    seed: Annotated[
        int,
        typer.Option(
            "--seed", help="Seed of the run's randomness, 0 or more.", parser=_integer("--seed", 0)
        ),
    ] = 0,
    output: Annotated[
        RowFormat | None,
        typer.Option(
            "--output",
            "-o",
            help="table (default), json (a list of objects) or csv.",
            case_sensitive=False,
        ),
    ] = None,
    catalog: CatalogDirOption = None,
) -> None:
    """What ipamd's warm pool holds on one node as pods arrive one at a time.

    For each count of pods that need an address: the ENIs attached, IPs (or /28 prefixes)
    held, assigned and free, and the subnet addresses the node takes (ENI primary IPs
    included). Settings are the aws-node environment variables, validated as the VPC CNI
    validates them. The node's max pods is what `cnisim maxpods` gives for the same settings
    unless --max-pods says otherwise; 2 of them are host-network pods without an address.

    \b
    Examples:
      cnisim warmpool t3.large --pods 0,5,15
      cnisim warmpool t3.small --set WARM_IP_TARGET=2 --set MINIMUM_IP_TARGET=5 --pods 0,5,9
      cnisim warmpool t3.small --set ENABLE_PREFIX_DELEGATION=true --pods 0,5,16,17 -o json
      cnisim warmpool m5.large --churn 20
    """
    if churn is not None and pods is not None:
        raise UsageError("--churn runs its own timeline and ignores --pods: give one of them")
    if churn is None and churn_step_s is not None:
        raise UsageError("--every sets the rows of a --churn timeline: add --churn N or drop it")
    # The simulator stays off the import path of the quick commands.
    from cnisim.sim.warmpool import churn_timeline, max_pods_with_ip, node_spec, steady_state

    cat = load_catalog(catalog)
    selected = cat.take(cat.locate([instance_type]))
    config = IpamdConfig.from_env(_parse_settings(settings or []))
    counts = _parse_pod_counts(pods) if pods is not None else []
    spec = node_spec(selected.columns, config, max_pods=max_pods_override)
    for warning in config.warnings:
        _warn(warning)
    fallback = config.fallback_warning(spec.instance_type, spec.supports_prefix_delegation)
    if fallback is not None:
        _warn(fallback)
    trunking = trunking_warning(selected.columns, config)
    if trunking is not None:
        _warn(trunking)
    n_admitted = max_pods_with_ip(spec)
    if pods is None and churn is None:
        # The default rows, within what the node admits (no warning for what was not asked).
        counts = sorted({min(count, n_admitted) for count in (0, 5, 15)})
    asked = max(counts, default=0) if churn is None else churn
    if asked > n_admitted:
        _warn(
            f"{asked} pods is more than {instance_type} admits: max pods {spec.max_pods} minus "
            f"{HOST_NETWORK_PODS} host-network pods is {n_admitted} pods with an address; "
            f"larger counts are shown at {n_admitted} (raise --max-pods to go further)"
        )
    if churn is not None:
        timeline = _with_progress(
            "simulating",
            lambda: churn_timeline(spec, config, churn, placement=placement.value, seed=seed),
        )
        step_s = 10 if churn_step_s is None else churn_step_s
        rows = [
            {name: row[key] for key, name in _CHURN_COLUMNS} | {"now_s": round(row["now_s"])}
            for row in timeline
            if round(row["now_s"]) % step_s == 0
        ]
    else:
        states = _with_progress(
            "simulating",
            lambda: steady_state(spec, config, counts, placement=placement.value, seed=seed),
        )
        rows = [
            {name: row[key] for key, name in _WARMPOOL_COLUMNS}
            | {"pods_needing_ip": min(int(row["pods"]), n_admitted)}
            for row in states
        ]
        for row in rows:  # one flat value in every format, e.g. "11/11/3"
            row["ips_per_eni"] = "/".join(map(str, row["ips_per_eni"]))
    typer.echo(_render(rows, OutputFormat(output or RowFormat.table), "ips_held"))


#: Exit status of ``--fail-on-exhaustion`` when a subnet ran dry.
EXIT_EXHAUSTED = 3


class SimulateFormat(StrEnum):
    """``-o`` of ``simulate``: the summary as text tables or one JSON object."""

    table = "table"
    json = "json"


class EngineChoice(StrEnum):
    """``--engine``: which ipamd engine runs the nodes."""

    fast = "fast"
    reference = "reference"


class AutoscalerChoice(StrEnum):
    """``--autoscaler``: the node autoscaler, over the plan's ``autoscaler.kind``."""

    none = "none"
    cluster_autoscaler = "cluster-autoscaler"


class OutputWriteError(CnisimError):
    """``--out`` could not be written."""


def _desired(items: list[str]) -> dict[str, str]:
    """``--desired GROUP=N`` pairs (the sizes are checked with the plan)."""
    return parse_assignments(items, option="--desired", example="general=6")


def _figures(result: SimulationResult) -> dict[str, bytes]:
    """Each plot of :data:`cnisim.plots.PLOTS` as PNG bytes."""
    from cnisim.plots import PLOTS

    return {name: _png(plot, result) for name, plot in PLOTS.items()}


def _png(plot: Callable[[Any, Any], Any], data: Any) -> bytes:
    """One plot of ``data`` (Axes in, Axes out) as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4), layout="constrained")
    plot(figure.subplots(), data)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def _csv(frame: Any) -> bytes:
    return frame.to_csv(index=False).encode()


def write_outputs(out_dir: Path, result: SimulationResult, summary: dict[str, Any]) -> list[str]:
    """Write the time series (CSV), plots (PNG), ``summary.json`` and ``report.html``.

    All files are written to a temporary directory next to ``out_dir`` first and moved into
    place only when every one of them was written, so a failure leaves no partial report.

    Returns
    -------
    list of str
        The names written.

    Raises
    ------
    OutputWriteError
        The directory cannot be created or written (full disk, file-size limit, ...).
    """
    from cnisim.report import report_html

    pngs = _figures(result)
    files: dict[str, bytes] = {
        "summary.json": (json.dumps(summary, indent=2) + "\n").encode(),
        "nodes.csv": _csv(result.ipamd.to_frame()),
        "node_totals.csv": _csv(result.ipamd.nodes_frame()),
        "pod_waits.csv": _csv(result.ipamd.waits_frame()),
        "pods.csv": _csv(result.pods_frame()),
        "subnets.csv": _csv(result.ipamd.subnets_frame()),
        "ec2_calls.csv": _csv(result.ipamd.ec2_frame()),
        "cluster.csv": _csv(result.series_frame()),
        **{f"{name}.png": png for name, png in pngs.items()},
        "report.html": report_html(summary, pngs).encode(),
    }
    write_files(out_dir, files, "the report")
    return list(files)


def write_files(out_dir: Path, files: Mapping[str, bytes], what: str) -> None:
    """Write ``files`` (name -> bytes) into ``out_dir``, all of them or none.

    They are written to a temporary directory next to ``out_dir`` first and moved into place
    only when every one was written, so a failure leaves no partial output.

    Raises
    ------
    OutputWriteError
        The directory cannot be created or written (full disk, file-size limit, ...); the
        message names ``what``.
    """
    out_dir = out_dir.absolute()
    staging = None
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(
            tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.", suffix=".tmp")
        )
        for name, data in files.items():
            (staging / name).write_bytes(data)
        out_dir.mkdir(exist_ok=True)
        for name in files:
            os.replace(staging / name, out_dir / name)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise OutputWriteError(
            f"cannot write {what} into {out_dir} "
            f"({getattr(exc, 'strerror', None) or exc}); "
            "check the path is a writable directory with free space"
        ) from None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def _plan_with_overrides(
    plan_file: Path,
    cat: Catalog,
    workload: list[Path] | None,
    duration: str | None,
    seed: int | None,
    settings: list[str] | None,
    desired: list[str] | None,
    *,
    karpenter: list[Path] | None = None,
) -> Plan:
    """The plan of ``simulate`` and ``recommend``: read, with --workload, --karpenter, --set,
    --desired, --duration and --seed applied; its notes printed on stderr."""
    from cnisim.durations import parse_duration_s
    from cnisim.io import apply_overrides, load_plan

    plan = load_plan(
        plan_file,
        workload_files=tuple(workload or ()),
        catalog=cat,
        karpenter_files=tuple(karpenter or ()),
    )
    plan = apply_overrides(
        plan,
        env=_parse_settings(settings or []),
        desired=_desired(desired or []),
        duration_s=None if duration is None else parse_duration_s(duration),
        seed=seed,
    )
    for note in plan.notes:
        typer.echo(f"cnisim: note: {note}", err=True)
    return plan


# Options simulate and recommend share.
WorkloadOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--workload",
        help="A YAML file with a top-level `workloads:` list; repeat it.",
        parser=_path("--workload"),
        metavar="FILE",
    ),
]
DesiredOption = Annotated[
    list[str] | None,
    typer.Option("--desired", help="A node group's desired size, GROUP=N; repeat it."),
]
SimulateOutputOption = Annotated[
    SimulateFormat, typer.Option("--output", "-o", help="table (default) or json.")
]


@app.command("simulate")
def simulate(
    plan_file: Annotated[
        Path,
        typer.Argument(
            help="A cnisim plan (apiVersion: cnisim/v1, kind: Plan) or an eksctl "
            "ClusterConfig (eksctl.io/v1alpha5).",
            parser=_path("the plan"),
            metavar="PLAN",
        ),
    ],
    workload: WorkloadOption = None,
    karpenter: Annotated[
        list[Path] | None,
        typer.Option(
            "--karpenter",
            help="Karpenter NodePool and EC2NodeClass manifests (multi-document YAML, "
            "karpenter.sh/v1, karpenter.k8s.aws/v1), added to the plan's; repeat it.",
            parser=_path("--karpenter"),
            metavar="FILE",
        ),
    ] = None,
    duration: Annotated[
        str | None, typer.Option("--duration", help="Simulated time, e.g. 90s, 10m, 2h.")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the run.")] = None,
    settings: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="An aws-node variable for every node group, NAME=VALUE; repeat it."
        ),
    ] = None,
    desired: DesiredOption = None,
    output: SimulateOutputOption = SimulateFormat.table,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Directory for the time series (CSV), plots (PNG) and report.html.",
            parser=_path("--out"),
            metavar="DIR",
        ),
    ] = None,
    fail_on_exhaustion: Annotated[
        bool,
        typer.Option(
            "--fail-on-exhaustion",
            help=f"Exit {EXIT_EXHAUSTED} when any subnet ran out of addresses (for pipelines).",
        ),
    ] = False,
    engine: Annotated[
        EngineChoice,
        typer.Option("--engine", help="fast (compiled) or reference (the plain oracle, slow)."),
    ] = EngineChoice.fast,
    autoscaler: Annotated[
        AutoscalerChoice | None,
        typer.Option(
            "--autoscaler",
            help="none or cluster-autoscaler (its flags from the plan's `autoscaler:`, else "
            "its defaults), over the plan's.",
        ),
    ] = None,
    catalog: CatalogDirOption = None,
) -> None:
    """Simulate a cluster: node groups, the scheduler and ipamd on every node, over time.

    Prints per node group the nodes, pods per node, RAM and CPU per pod and idle addresses;
    per subnet its usable addresses, peak use, least free and when it ran out; pod waits for
    an address and failed ADDs by reason; EC2 calls per minute at the peak.

    \b
    Examples:
      cnisim simulate examples/one-node-group.yaml
      cnisim simulate examples/three-az.yaml --set WARM_IP_TARGET=5 --duration 2h
      cnisim simulate cluster.eksctl.yaml --desired general=12 -o json --out report/
      cnisim simulate examples/autoscaled-full-subnet.yaml --autoscaler none
      cnisim simulate plan.yaml --karpenter nodepools.yaml
    """
    from cnisim.report import format_summary, summarize
    from cnisim.sim.scenario import simulate as run_plan

    cat = load_catalog(catalog)
    plan = _plan_with_overrides(
        plan_file, cat, workload, duration, seed, settings, desired, karpenter=karpenter
    )
    if autoscaler is not None:
        plan = replace(plan, autoscaler=replace(plan.autoscaler, kind=autoscaler.value))
    progress = _ProgressBar(plan.run.duration_s) if sys.stderr.isatty() else None
    try:
        result = run_plan(plan, cat, engine=engine.value, progress=progress)
    finally:
        if progress is not None:
            progress.close()
    summary = summarize(result)
    if out is not None:
        write_outputs(out, result, summary)
    text = (
        json.dumps(summary, indent=2) if output is SimulateFormat.json else format_summary(summary)
    )
    typer.echo(text)
    if fail_on_exhaustion and summary["any_subnet_exhausted"]:
        raise typer.Exit(EXIT_EXHAUSTED)


class _ProgressBar:
    """A rich progress bar (over simulated time, or runs of a sweep), on stderr (a terminal
    only)."""

    def __init__(self, total: float, label: str = "simulating") -> None:
        from rich.console import Console
        from rich.progress import Progress

        self._progress = Progress(console=Console(stderr=True), transient=True)
        self._task = self._progress.add_task(label, total=total)
        self._progress.start()

    def __call__(self, completed: float) -> None:
        self._progress.update(self._task, completed=completed)

    def runs(self, n_done: int, n_runs: int) -> None:
        """A sweep's progress: runs done of runs in all."""
        self._progress.update(self._task, completed=n_done, total=n_runs)

    def close(self) -> None:
        self._progress.stop()


@app.command("recommend", epilog="Default grid: " + DEFAULT_GRID_HELP + ".")
def recommend(
    plan_file: Annotated[
        Path,
        typer.Argument(
            help="A cnisim plan or an eksctl ClusterConfig, as for simulate.",
            parser=_path("the plan"),
            metavar="PLAN",
        ),
    ],
    workload: WorkloadOption = None,
    duration: Annotated[
        str | None, typer.Option("--duration", help="Simulated time of each run, e.g. 30m, 2h.")
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed",
            help="Seed the runs' seeds are spawned from (default: the plan's run.seed).",
            parser=_integer("--seed", 0),
        ),
    ] = None,
    n_seeds: Annotated[
        int,
        typer.Option(
            "--seeds", help="Runs (seeds) per setting.", parser=_integer("--seeds", 1, 1000)
        ),
    ] = 3,
    desired: DesiredOption = None,
    settings: Annotated[
        list[str] | None,
        typer.Option("--set", help="An aws-node variable fixed in every run, NAME=VALUE."),
    ] = None,
    grid: Annotated[
        list[str] | None,
        typer.Option(
            "--grid",
            help="Values to sweep, NAME=V1,V2,...; several form their product and replace "
            "the default grid (a swept name wins over its --set and the plan's value).",
        ),
    ] = None,
    max_wait_p99: Annotated[
        str, typer.Option("--max-wait-p99", help="The recommendation's limit on the p99 wait.")
    ] = "10s",
    dask_scheduler: Annotated[
        str | None,
        typer.Option(
            "--dask-scheduler",
            help="Run on a Dask cluster, tcp://HOST:PORT (default: Dask's configured "
            "scheduler-address, else this machine's cores); needs pip install 'cnisim[dask]'.",
            metavar="ADDRESS",
        ),
    ] = None,
    output: SimulateOutputOption = SimulateFormat.table,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Directory for recommendation.json and the trade-off plot (tradeoff.png).",
            parser=_path("--out"),
            metavar="DIR",
        ),
    ] = None,
    catalog: CatalogDirOption = None,
) -> None:
    """Recommend aws-node warm-pool settings: simulate the plan under a grid of them.

    Each setting runs on --seeds seeds (the same for all); prints per setting the idle
    addresses per node, the p99 wait for an address, EC2 calls, throttles and subnets
    exhausted, marks the Pareto-optimal ones and names one: no subnet exhausted in any seed,
    p99 wait within --max-wait-p99, then the fewest idle addresses. Then the smallest subnet
    per zone that held the peak, under the current and the recommended settings.

    \b
    Examples:
      cnisim recommend examples/three-az-24.yaml
      cnisim recommend plan.yaml --grid WARM_IP_TARGET=1,2,5 --grid MINIMUM_IP_TARGET=0,20
      cnisim recommend plan.yaml --seeds 5 -o json --out rec/ --dask-scheduler tcp://h:8786
    """
    from cnisim.durations import parse_duration_s
    from cnisim.plots import plot_tradeoff
    from cnisim.recommend import format_recommendation, parse_grid
    from cnisim.recommend import recommend as run_recommend
    from cnisim.sweep import dask_address_from_config

    cat = load_catalog(catalog)
    plan = _plan_with_overrides(plan_file, cat, workload, duration, None, settings, desired)
    progress = _ProgressBar(1, "sweeping") if sys.stderr.isatty() else None
    try:
        rec = run_recommend(
            plan,
            cat,
            grid=parse_grid(grid or []),
            seed=plan.run.seed if seed is None else seed,
            n_seeds=n_seeds,
            max_wait_p99_s=parse_duration_s(max_wait_p99),
            dask=dask_scheduler or dask_address_from_config(),
            progress=None if progress is None else progress.runs,
        )
    finally:
        if progress is not None:
            progress.close()
    report = rec.to_json()
    if out is not None:
        files = {
            "recommendation.json": (json.dumps(report, indent=2) + "\n").encode(),
            "tradeoff.png": _png(plot_tradeoff, rec),
        }
        write_files(out, files, "the recommendation")
    if rec.recommended is None:
        _warn(
            f"no setting qualifies: each exhausted a subnet or waited over "
            f"{rec.max_wait_p99_s:g} s at p99 (recommended is null)"
        )
    typer.echo(
        json.dumps(report, indent=2)
        if output is SimulateFormat.json
        else format_recommendation(rec)
    )


def main() -> None:
    """Entry point of the ``cnisim`` console script."""
    app(prog_name="cnisim")
