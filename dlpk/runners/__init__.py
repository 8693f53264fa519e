"""Running models and jobs over imagery."""
