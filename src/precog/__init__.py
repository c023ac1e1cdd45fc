"""Precog: market and game data collection with full history, for prediction-market trading."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("precog")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"
