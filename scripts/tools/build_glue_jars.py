"""Rebuild the prebuilt glue jars in the source tree (python/trackmate_cellpose/data/java/glue/), as an editable
install's build hook does, without reinstalling: after editing java-glue/src in a development checkout.

Usage: python scripts/tools/build_glue_jars.py   (needs a JDK: $JAVA_HOME/bin/javac or javac on PATH)
"""

import importlib.util
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def main() -> int:
    spec = importlib.util.spec_from_file_location("_tmcp_prebuilt",
                                                  REPO / "python/trackmate_cellpose/bridge/_prebuilt.py")
    pb = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pb)
    javac = pb.find_javac_simple()
    if javac is None:
        print("no javac: set JAVA_HOME to a JDK or put javac on PATH", file=sys.stderr)
        return 1
    pkg = REPO / "python" / "trackmate_cellpose"
    found = (re.search(r'^__version__ = "([^"]+)"', p.read_text(), re.M)
             for p in (pkg / "_version.py", pkg / "__init__.py") if p.is_file())
    version = next(m.group(1) for m in found if m)
    for jar in pb.build_prebuilt_jars(REPO / "java-glue/src", REPO / "java-glue/api-mirror",
                                      REPO / "python/trackmate_cellpose/data/java/glue", javac=javac, version=version,
                                      table=pb.load_settings_table(pkg), builder=pb.load_env_builder(pkg)):
        print(jar)
    return 0


if __name__ == "__main__":
    sys.exit(main())
