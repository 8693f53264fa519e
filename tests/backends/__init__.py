"""Tests of the backends (dlpk/runners/backends/)."""
