"""The JSON API: gradients, the trace (whole and streamed), health, and its offline documentation page."""
