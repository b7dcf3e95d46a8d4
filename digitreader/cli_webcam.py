"""The ``digitreader webcam`` subcommand."""

from __future__ import annotations

import click


@click.command("webcam", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def webcam_cmd(args: tuple[str, ...]) -> None:
    """(Reserved) Live camera and video reading; not in this version."""
    raise click.UsageError("'webcam' is not available in this version yet")
