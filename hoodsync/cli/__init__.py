"""The ``hoodsync`` command line: the click commands (:mod:`.commands`) and the terminal views
(:mod:`.views`). The only package that prints."""

from hoodsync.cli.commands import cli, main

__all__ = ["cli", "main"]
