"""Old spellings kept for one release (0.2) with a :class:`DeprecationWarning` naming the new one.

The package's modules were renamed so that a module's name says what it holds (issue #23). Importing an old public
module name (``trackmate_cellpose.objects``, ``trackmate_cellpose.export.xml_read`` ...) still works through one
import hook, and a name that moved between public modules (``trackmate_cellpose.axes.Calibration``) through
:func:`moved_name`. Both read the tables below and nothing else: a renamed module or name is added to a table, not
written as a shim module.

Imports: none; package: none.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

REMOVED_IN = "0.3"

#: old public module -> its new home
RENAMED_MODULES = {
    "trackmate_cellpose.objects": "trackmate_cellpose.results",
    "trackmate_cellpose.call": "trackmate_cellpose._call",
    "trackmate_cellpose.doctor": "trackmate_cellpose.diagnosis",
    "trackmate_cellpose.segment.adapter": "trackmate_cellpose.segment._adapter",
    "trackmate_cellpose.segment.models": "trackmate_cellpose.segment._models",
    "trackmate_cellpose.segment.labels": "trackmate_cellpose.segment._label_cleanup",
    "trackmate_cellpose.segment.runtime": "trackmate_cellpose.segment._torch_state",
    "trackmate_cellpose.export.xml": "trackmate_cellpose.export._xml_write",
    "trackmate_cellpose.export.xml_read": "trackmate_cellpose.export._xml_read",
    "trackmate_cellpose.export.xml_model": "trackmate_cellpose.export._xml_from_model",
    "trackmate_cellpose.export.labels": "trackmate_cellpose.export._label_tiffs",
    "trackmate_cellpose.export.meshes": "trackmate_cellpose.export._meshes_file",
    "trackmate_cellpose.export.tables": "trackmate_cellpose.export._tables",
    "trackmate_cellpose.export.pictures": "trackmate_cellpose.export._pictures",
    "trackmate_cellpose.export.ctc": "trackmate_cellpose.export._ctc",
    "trackmate_cellpose.export.geff": "trackmate_cellpose.export._geff_write",
    "trackmate_cellpose.export.geff_read": "trackmate_cellpose.export._geff_read",
    "trackmate_cellpose.export.convert": "trackmate_cellpose.export._convert",
}

#: (public module, old attribute) -> module that holds it now
MOVED_NAMES = {
    ("trackmate_cellpose.axes", "Calibration"): "trackmate_cellpose.calibration",
    ("trackmate_cellpose.axes", "AnisotropyWarning"): "trackmate_cellpose.calibration",
    ("trackmate_cellpose.axes", "CalibrationWarning"): "trackmate_cellpose.calibration",
    ("trackmate_cellpose.axes", "um_per_unit"): "trackmate_cellpose.calibration",
    ("trackmate_cellpose.axes", "LENGTH_UNITS"): "trackmate_cellpose.calibration",
    ("trackmate_cellpose.cli", "UsageError"): "trackmate_cellpose.errors",
    ("trackmate_cellpose.pipeline", "check_model"): "trackmate_cellpose.segment",
}

#: (public module, name) -> (where it lives now, privately; what to use instead)
DROPPED_NAMES = {
    ("trackmate_cellpose", "Placement"): ("trackmate_cellpose._call",
                                          "detect()'s keywords frames=, origin_xyz=, frame_offset="),
    ("trackmate_cellpose", "Hooks"): ("trackmate_cellpose._call", "detect()'s keywords progress=, cancel=, log="),
}


def warn(old: str, new: str, *, stacklevel: int = 3) -> None:
    """One deprecation notice: ``old`` still works until :data:`REMOVED_IN`; use ``new``."""
    warnings.warn(f"{old} is deprecated and will be removed in trackmate-cellpose {REMOVED_IN}; use {new}",
                  DeprecationWarning, stacklevel=stacklevel)


def moved_name(module: str, name: str):
    """For a public module's ``__getattr__``: the object ``name`` now defined elsewhere, with a notice."""
    new_module = MOVED_NAMES.get((module, name))
    if new_module is not None:
        warn(f"{module}.{name}", f"{new_module}.{name}")
        return getattr(importlib.import_module(new_module), name)
    if (module, name) in DROPPED_NAMES:
        home, instead = DROPPED_NAMES[(module, name)]
        warn(f"{module}.{name}", instead)
        return getattr(importlib.import_module(home), name)
    raise AttributeError(f"module {module!r} has no attribute {name!r}")


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec):
        warn(spec.name, self.new if not self.new.rpartition(".")[2].startswith("_")
             else f"the names of {self.new.rpartition('.')[0]}", stacklevel=4)
        return importlib.import_module(self.new)  # the module object itself: one module under two names

    def exec_module(self, module) -> None:  # already executed under its new name
        pass


class _RenamedModuleFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        new = RENAMED_MODULES.get(fullname)
        return None if new is None else importlib.util.spec_from_loader(fullname, _AliasLoader(new))


def install_module_aliases() -> None:
    """Let the old module names of :data:`RENAMED_MODULES` import (once per process)."""
    if not any(isinstance(f, _RenamedModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(_RenamedModuleFinder())
