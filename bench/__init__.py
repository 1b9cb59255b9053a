"""Benchmarks of backprop-lens: one command that measures the engine, the API, training and the page.

``python -m backprop_lens.bench`` (or ``backprop-lens bench``) prints a table of medians and of
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

Optional dependencies (``backprop-lens[bench]``, ``[torch]``, ``[jax]``, Playwright and
Chromium, wrk) only add rows; a missing one leaves its rows empty with the extra to install.
A target is judged on a median of at least three samples taken after a warm-up, never on
one (cold) sample; with fewer, the row shows the figure and says it is not judged.

Left out: asserting any of it. Timing thresholds belong in a report a person
reads, not in tests that fail on a busy machine.
"""
