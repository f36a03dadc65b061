"""Test-only start-up hook for cellpose-4 runs: put this folder on PYTHONPATH (the tests do it for the
subprocesses, dask workers and in-process Fiji they start) so every Python process of a test run can import
cellpose 4 beside the CPU torch and build the tiny Cellpose-SAM. Does nothing under cellpose 3, and nothing until
cellpose is imported (``import trackmate_cellpose`` must still load neither torch nor cellpose)."""

import importlib.abc
import os
import sys


class _OnCellposeImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "cellpose":
            sys.meta_path.remove(self)
            from tiny_cpsam import install_tiny_encoder, shim_torchvision_ops

            shim_torchvision_ops()
            install_tiny_encoder()
        return None  # the normal finders load cellpose itself


if os.environ.get("TMCP_TEST_TINY_CPSAM") == "1":
    try:
        from importlib.metadata import version

        _major = int(version("cellpose").split(".")[0])
    except Exception:  # noqa: BLE001 - no cellpose: nothing to prepare
        _major = 0
    if _major == 4:
        sys.meta_path.insert(0, _OnCellposeImport())
