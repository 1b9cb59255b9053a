"""backprop-lens web app: JSON API, HTML pages and Server-Sent Events over the engine."""

__version__ = "0.1.0"
