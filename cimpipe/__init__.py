"""cimpipe: co-design of neural networks and compute-in-memory crossbar accelerators."""

__version__ = "0.1.0"
