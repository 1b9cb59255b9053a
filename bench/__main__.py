"""``python -m backprop_lens.bench``: the same command as ``backprop-lens bench``."""

from backprop_lens.bench.cli import main

raise SystemExit(main())
