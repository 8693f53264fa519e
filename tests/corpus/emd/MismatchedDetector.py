class ObjectDetector:
    """Named unlike its file: the runner looks for MismatchedDetector."""
