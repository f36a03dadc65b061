"""Fiji/TrackMate integration: the only package that imports jpype, scyjava or imagej (always lazily).

* :func:`start_fiji` starts Fiji in this process (pyimagej) with the compiled glue on the class path and the Python
  detection service registered;
* :func:`run_trackmate` runs TrackMate headless with the "Cellpose advanced (Python)" detector, TrackMate's tracker
  and TrackMate's XML writer;
* :func:`register_service` registers the Python detection service with the glue (idempotent; the glue calls it
  itself in a Fiji that Python started, through pyimagej's script runner);
* :func:`to_java_map` turns ``DetectorSettings`` into the detector settings map a TrackMate ``Settings`` takes
  (for scripting TrackMate from Python);
* :func:`run_script` runs a SciJava script (Groovy, Jython, ...) in that Fiji;
* :func:`find_fiji` / :func:`build_glue` inspect a Fiji and compile the glue for its TrackMate line (no JVM);
* :func:`install_fiji` / :func:`uninstall_fiji` put the prebuilt glue into a Fiji's ``jars/`` and take it out again.
* ``python -m trackmate_cellpose.bridge.worker`` is the warm Python worker that a Fiji started from its icon (no
  Python in it) starts for the detector (``_worker.py``; imports no JPype).

Importing this package starts no JVM.
"""

from ._fiji import FijiInstallation, find_fiji, trackmate_line_of_jar
from ._glue import build_glue, cache_dir, compile_glue, find_javac, glue_source_root
from ._install import install_fiji, installed_glue, uninstall_fiji
from ._jvm import FijiSession, current_session, start_fiji
from ._headless import TrackMateError, TrackMateRun, run_trackmate, to_java_map
from ._script import run_script
from ._service import register_service

__all__ = [
    "FijiInstallation",
    "find_fiji",
    "trackmate_line_of_jar",
    "build_glue",
    "compile_glue",
    "find_javac",
    "glue_source_root",
    "install_fiji",
    "uninstall_fiji",
    "installed_glue",
    "cache_dir",
    "FijiSession",
    "start_fiji",
    "current_session",
    "TrackMateError",
    "TrackMateRun",
    "run_trackmate",
    "to_java_map",
    "run_script",
    "register_service",
]
