"""``python -m bench``: the same command as ``backprop-lens bench``."""

from bench.cli import main

raise SystemExit(main())
