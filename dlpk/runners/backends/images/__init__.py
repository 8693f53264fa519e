"""Per-framework runner images: tags, building, listing, and a base made without a registry."""
