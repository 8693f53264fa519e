"""Building, rewriting and describing .dlpk packages."""
