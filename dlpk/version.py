"""The installed version of dlpk, in a module of its own so anything may import it without
importing the package's public API."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dlpk")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
