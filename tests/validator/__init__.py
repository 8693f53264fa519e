"""Tests of the validator (dlpk/validator/)."""
