"""The ``cnisim`` command line: parse, call the library, print.

Module-level imports stay light (typer, numpy, light cnisim modules) so that quick commands
start fast; pandas, boto3 and matplotlib are imported inside the commands that need them.
Every :class:`~cnisim.errors.CnisimError` becomes one line on stderr,
``cnisim: error: <message>``, and its exit code; no traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from cnisim import __version__
from cnisim.catalog import load_catalog, refresh_snapshot
from cnisim.errors import CnisimError

if TYPE_CHECKING:
    # typer 0.29 vendors click; its Context is the type TyperGroup.invoke is declared with.
    from typer._click import Context


class _OneLineErrors(TyperGroup):
    """A command group that prints user errors as one line and exits with their code."""

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except CnisimError as exc:
            message = " ".join(str(exc).split())
            typer.echo(f"cnisim: error: {message}", err=True)
            raise typer.Exit(exc.exit_code) from None


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

#: ``--catalog DIR``: read a snapshot written by ``cnisim catalog refresh`` instead of the
#: packaged one. Reuse it on every command that reads instance data.
CatalogDirOption = Annotated[
    Path | None,
    typer.Option(
        "--catalog",
        help="Snapshot directory written by `cnisim catalog refresh --output DIR` "
        "(default: the snapshot shipped with cnisim).",
        file_okay=False,
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
        Path,
        typer.Option(
            "--output",
            help="Directory to write the snapshot into (created if missing). Required: "
            "the packaged snapshot is never overwritten. Read it back with --catalog DIR.",
            file_okay=False,
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
) -> None:
    """Fetch every EC2 instance type (DescribeInstanceTypes) into a snapshot directory.

    Needs the IAM action ec2:DescribeInstanceTypes. The old snapshot in DIR is replaced only
    when the new one is complete.

    \b
    Example:
      cnisim catalog refresh --region us-east-1 --output ./cnisim-data
      cnisim catalog info --catalog ./cnisim-data
    """
    provenance = refresh_snapshot(
        output, region=region, profile=profile, endpoint_url=endpoint_url, note=note
    )
    typer.echo(
        f"wrote {provenance['count']} instance types from {provenance['source']} "
        f"({provenance['region']}) to {output}"
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
        "raw sha256": provenance.get("raw_sha256"),
    }
    for name, value in fields.items():
        typer.echo(f"{name + ':':<12} {'' if value is None else value}")


def main() -> None:
    """Entry point of the ``cnisim`` console script."""
    app(prog_name="cnisim")
