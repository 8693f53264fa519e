"""Tests of the public Python API (dlpk/api.py, dlpk/__init__.py)."""
