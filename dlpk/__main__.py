"""Allow `python -m dlpk`."""

from dlpk.cli import main

raise SystemExit(main())
