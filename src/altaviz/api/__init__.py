"""The HTTP API: ``altaviz serve`` (FastAPI on port 8001)."""
