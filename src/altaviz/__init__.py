"""Altaviz: compressor fleet integrity on a Delta Lake lakehouse."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("altaviz")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"
