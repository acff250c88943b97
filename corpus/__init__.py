"""Build character-persona corpora from public-domain novels."""

__version__ = "0.1.0"
