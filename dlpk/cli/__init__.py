"""The `dlpk` command line: one module per command group; the only place that parses arguments
or prints errors. Each command body calls the library (`dlpk.api` and below)."""

from dlpk.cli.main import main

__all__ = ["main"]
