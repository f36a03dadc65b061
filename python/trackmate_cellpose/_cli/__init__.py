"""Subcommands of the trackmate-cellpose command line (one module each, with register(subparsers))."""
