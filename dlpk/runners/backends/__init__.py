"""Backends launch the entrypoint somewhere (a local process; containers and clusters later)."""
