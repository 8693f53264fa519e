"""`python -m dlpk.runners JOBDIR`: the entrypoint of every backend."""

from dlpk.runners.entrypoint import main

raise SystemExit(main())
