"""The package version, written here only: pyproject.toml reads it (``[tool.setuptools.dynamic]``) for the
distribution's metadata, and ``trackmate_cellpose.__version__`` re-exports it.

Imports: none; package: none.
"""

__version__ = "0.1.0"
