"""backprop-lens web app: JSON API, HTML pages and Server-Sent Events over the engine."""
