"""Small, self-explaining detectors that all read the same parsed comment."""
