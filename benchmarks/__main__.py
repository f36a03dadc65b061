"""``python -m benchmarks SUITE [options]``: see the package docstring."""

from . import main

raise SystemExit(main())
