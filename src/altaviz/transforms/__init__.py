"""Engine-neutral transforms (Narwhals): pure functions from frames to frames."""
