"""Tests of the spec and its schemas (dlpk/spec/)."""
