class GroundingDINO:
    """Placeholder: the class named like the file is the one instantiated."""
