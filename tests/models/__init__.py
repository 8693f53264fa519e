"""Tests of model adapters (dlpk/runners/models/)."""
