"""Tests of windows and tiles (dlpk/runners/io/)."""
