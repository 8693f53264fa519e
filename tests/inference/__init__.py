"""Tests of the inference tasks (dlpk/runners/tasks/inference/)."""
