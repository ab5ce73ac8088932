"""mi-starter: shared machinery for the thinking-models starters."""

__version__ = "0.1.0"
