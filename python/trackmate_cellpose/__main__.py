"""``python -m trackmate_cellpose``: the same command line as ``trackmate-cellpose``."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
