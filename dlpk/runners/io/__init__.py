"""Reading and writing: rasters, windows and tiles, label and feature readers, layer and
classified-raster writers; every output appears atomically."""
