"""The version of dlpk: the one place it is written (pyproject.toml reads it from here), in a
module of its own so anything may import it cheaply, without the public API or package
metadata."""

__version__ = "0.1.0"
