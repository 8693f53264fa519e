"""dlpk: an open toolchain for Esri deep-learning model packages (.emd / .dlpk)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dlpk")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
