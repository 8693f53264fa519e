"""Raster and vector output writers; every output appears atomically."""
