"""Inference tasks: classify pixels, detect objects, over any raster size in flat memory."""
