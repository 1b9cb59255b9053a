"""Benchmarks of backprop-lens: one command that measures the engine, the API, training and the page.

``python -m bench`` (or ``backprop-lens bench``) prints a table of medians and of
ratios against baselines measured in the same run, and writes it as JSON with
``--json FILE``; ``--quick`` runs a reduced set in seconds.

* ``gradients``: the engine's matrix form against the book's per-example loop,
  PyTorch autograd and JAX ``jit`` (when installed), central finite differences
  and the arithmetic floor; the cost of the step trace and of serialising a step.
  Measured in a subprocess per thread setting (one BLAS thread, then the
  libraries' defaults), since the thread variables must be set before NumPy loads.
* ``server``: uvicorn on loopback, driven by a bounded number of connections for
  a bounded time.
* ``page``: the bytes of script and style the page at ``/`` loads.

Left out: asserting any of it. Timing thresholds belong in a report a person
reads, not in tests that fail on a busy machine.
"""
