"""One error hierarchy: every expected failure carries a one-line message and an exit code.

Each error also subclasses the matching builtin, as rasterio does, so callers that only know
Python's exceptions still catch them sensibly.
"""

from __future__ import annotations

from typing import Any


class DlpkError(Exception):
    """Base of every expected failure; `exit_code` is what the CLI returns for it."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.result: Any = None  # the job's Result (warnings, timings) when a job reported it
        self.log: str | None = None  # the job's out/log.txt, shown by --debug

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


class InvalidJobError(DlpkError, ValueError):
    """A job directory or its job.json does not satisfy the job contract."""

    exit_code = 2


class BadInputError(DlpkError, ValueError):
    """An input exists but cannot be used as asked (wrong CRS, no overlap, missing field...)."""

    exit_code = 3


class ModelError(DlpkError, RuntimeError):
    """The model could not be loaded or failed while running."""

    exit_code = 4


class JobStoppedError(DlpkError, TimeoutError):
    """A job was stopped before it finished (--timeout); it left no finished-looking output."""

    exit_code = 1


class FrameworkMissingError(ModelError):
    """The framework a model needs is not installed; the message names the extra to install."""


class DockerUnavailableError(DlpkError, ConnectionError):
    """The Docker daemon cannot be reached (not running, or no access to its socket)."""

    exit_code = 2


class ImageMissingError(DlpkError, LookupError):
    """The runner image a job needs has not been built or loaded."""

    exit_code = 2


class ContainerError(DlpkError, RuntimeError):
    """A container could not be started or was killed (GPU runtime missing, out of memory)."""


class ImageBuildError(DlpkError, RuntimeError):
    """`docker build` of a runner image failed."""


class BootstrapError(DlpkError, RuntimeError):
    """Making the base image without a registry (debootstrap, docker import) failed."""


class JobIOError(DlpkError, OSError):
    """Reading or writing data failed mid-job: a truncated or corrupt raster, a full disk, a
    read-only or vanished folder."""

    exit_code = 3


class JobFailedError(DlpkError, RuntimeError):
    """A job ended without a result, or with an error of a kind this process does not know."""


def error_from_result(kind: str, message: str, exit_code: int) -> DlpkError:
    """The error a runner reported in result.json, as its own class where it is one of ours,
    so a job run in another process or a container raises what it would have raised here."""
    found = globals().get(kind)
    if isinstance(found, type) and issubclass(found, DlpkError):
        error = found(message)
    else:  # not one of ours: a bug in the runner, whose traceback is in the job's log
        error = JobFailedError(f"internal error in the job: {message}", "rerun with --debug")
    error.exit_code = exit_code
    return error
