"""One error hierarchy: every expected failure carries a one-line message and an exit code.

Each error also subclasses the matching builtin, as rasterio does, so callers that only know
Python's exceptions still catch them sensibly.
"""

from __future__ import annotations


class DlpkError(Exception):
    """Base of every expected failure; `exit_code` is what the CLI returns for it."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(DlpkError, ValueError):
    """The command line asked for something impossible."""

    exit_code = 2


class InputNotFoundError(DlpkError, FileNotFoundError):
    """A path the user named does not exist."""

    exit_code = 2


class InputReadError(DlpkError, OSError):
    """A path exists but cannot be read (permissions, I/O failure)."""

    exit_code = 2


class OutputExistsError(DlpkError, FileExistsError):
    """Refusing to overwrite something the user already has."""

    exit_code = 2


class PackageError(DlpkError, ValueError):
    """A .dlpk or model folder is unusable (for example it lints with errors)."""

    exit_code = 1


class BadInputError(DlpkError, ValueError):
    """An input raster or feature file cannot be used with this model (bands, size, format)."""

    exit_code = 3


class ModelError(DlpkError, RuntimeError):
    """The model cannot be loaded or run: corrupt file, framework missing, unexpected outputs."""

    exit_code = 4
