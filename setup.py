"""Build hook: ship the Java glue inside the package, compiled and as sources.

* ``trackmate_cellpose/data/java/glue/trackmate-cellpose-glue-<line>.jar`` (tm7, tm8, tm9): compiled here with
  ``javac --release 8`` against the clean-room API mirror (java-glue/api-mirror), so users need no JDK. The mirror
  itself is never packaged. Needs a JDK (javac 11+) on the BUILD machine: ``$JAVA_HOME/bin/javac`` or ``javac`` on
  PATH. Without one a wheel/sdist build FAILS with a message saying so (a wheel without jars would make every user
  need a JDK); ``TRACKMATE_CELLPOSE_NO_PREBUILT_GLUE=1`` builds without jars on purpose (run time then compiles the
  glue against the user's Fiji, which needs a JDK there). An editable install (``pip install -e``) writes the jars
  into the source tree (python/trackmate_cellpose/data/java/glue/, git-ignored) and only warns without a JDK.
  Each jar holds the detector settings table generated from ``trackmate_cellpose/settings.py`` (loaded by path).
* ``trackmate_cellpose/data/java/src``: the sources (for the fallback compile against a user's Fiji, and to check
  that the jars are current: each jar's manifest records a hash of its sources).

All metadata lives in pyproject.toml.
"""

import importlib.util
import os
import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
GLUE_SRC = HERE / "java-glue" / "src"
MIRROR = HERE / "java-glue" / "api-mirror"
PREBUILT = HERE / "python" / "trackmate_cellpose" / "bridge" / "_prebuilt.py"  # stdlib only: loaded by path


def _prebuilt_module():
    spec = importlib.util.spec_from_file_location("_tmcp_prebuilt", PREBUILT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


class BuildPyWithGlue(build_py):
    def run(self):
        super().run()
        if not GLUE_SRC.is_dir():  # building from an sdist that was made without the glue: nothing to add
            return
        editable = bool(getattr(self, "editable_mode", False))
        pkg = (HERE / "python" if editable else Path(self.build_lib)) / "trackmate_cellpose"
        if not editable:
            dest = pkg / "data" / "java" / "src"
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(GLUE_SRC, dest, ignore=shutil.ignore_patterns("*.class"))
        self._build_jars(pkg / "data" / "java" / "glue", editable)

    def _build_jars(self, out_dir: Path, editable: bool) -> None:
        if os.environ.get("TRACKMATE_CELLPOSE_NO_PREBUILT_GLUE") == "1":
            print("trackmate-cellpose: TRACKMATE_CELLPOSE_NO_PREBUILT_GLUE=1: no prebuilt glue jars", file=sys.stderr)
            return
        pb = _prebuilt_module()
        javac = pb.find_javac_simple()
        if javac is None:
            msg = ("trackmate-cellpose: building the prebuilt TrackMate glue jars needs a JDK (javac 11+) on the build "
                   "machine: set JAVA_HOME or put javac on PATH, or set TRACKMATE_CELLPOSE_NO_PREBUILT_GLUE=1 to build "
                   "without them (users then need a JDK to compile the glue against their Fiji)")
            if editable:
                print(msg.replace("trackmate-cellpose:", "trackmate-cellpose: warning:"), file=sys.stderr)
                return
            raise SystemExit(msg)
        try:
            jars = pb.build_prebuilt_jars(GLUE_SRC, MIRROR, out_dir, javac=javac,
                                          version=self.distribution.get_version(),
                                          table=pb.load_settings_table(HERE / "python" / "trackmate_cellpose"),
                                          builder=pb.load_env_builder(HERE / "python" / "trackmate_cellpose"))
        except (RuntimeError, OSError) as e:  # e.g. a javac too old for --release 8
            if not editable:
                raise
            print(f"trackmate-cellpose: warning: the prebuilt TrackMate glue jars were not built ({e}); the glue is "
                  "compiled against the user's Fiji instead", file=sys.stderr)
            return
        print(f"trackmate-cellpose: built {', '.join(j.name for j in jars)} with {javac}", file=sys.stderr)


setup(cmdclass={"build_py": BuildPyWithGlue})
