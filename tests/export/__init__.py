"""Tests of the export_chips task (dlpk/runners/tasks/export_chips/)."""
