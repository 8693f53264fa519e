"""Per-framework runner images and the Docker daemon they live in: connecting to it, tags,
building, listing, and a base image made without a registry."""
