"""``python -m benchmarks SUITE [options]``: see the package docstring."""

from benchmarks import main

if __name__ == "__main__":  # asv imports every module of this package while it looks for benchmarks
    raise SystemExit(main())
