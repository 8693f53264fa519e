"""Executes jobs: one entrypoint (`python -m dlpk.runners JOBDIR`), tasks, tiling and chip I/O."""
