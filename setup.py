"""Build hook: ship the Java glue sources (java-glue/src) inside the package as trackmate_cellpose/data/java/src.

Users compile the glue with plain javac against their own Fiji at run time (no Maven); a wheel therefore needs the
sources. java-glue/api-mirror (CI-only compile stubs) is never packaged. All metadata lives in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

GLUE_SRC = Path(__file__).resolve().parent / "java-glue" / "src"


class BuildPyWithGlue(build_py):
    def run(self):
        super().run()
        if GLUE_SRC.is_dir():
            dest = Path(self.build_lib) / "trackmate_cellpose" / "data" / "java" / "src"
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(GLUE_SRC, dest, ignore=shutil.ignore_patterns("*.class"))


setup(cmdclass={"build_py": BuildPyWithGlue})
