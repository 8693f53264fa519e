"""The Ray backend: a job's plan cut into shares, each run by a Ray actor on a node of the
cluster, the outputs assembled on the driver exactly as one local run writes them
(docs/cluster.md). Ray is imported only when a job runs: `pip install 'dlpk[ray]'`."""

from __future__ import annotations

from dlpk.runners.backends.ray.backend import Ray

__all__ = ["Ray"]
