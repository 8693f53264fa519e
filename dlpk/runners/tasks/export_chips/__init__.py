"""Writers for exported training chips: images, labels per metadata format, root files."""
