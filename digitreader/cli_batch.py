"""The ``digitreader batch`` subcommand."""

from __future__ import annotations

import click


@click.command("batch", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def batch_cmd(args: tuple[str, ...]) -> None:
    """(Reserved) Resumable parallel reading of folders of scans; not in this version."""
    raise click.UsageError("'batch' is not available in this version yet; use 'digitreader read IMAGE...'")
