"""bienestar: neighbourhood well-being indicators and indices for city governments."""

__version__ = "0.1.0"
