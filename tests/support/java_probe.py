"""Test support: a small Java ``main`` class (a probe) compiled against one of the package's prebuilt glue jars, to
call the glue's package-private Java code in a plain JVM (JDK only, no Fiji)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


def compile_probe(work: Path, class_name: str, source: str, line: str = "tm7") -> dict:
    """Compile ``source`` (class ``trackmatecellpose.glue.<class_name>``) against the prebuilt glue jar of ``line``
    into ``work``; returns ``{"java", "classes", "jar"}``. Skips without a JDK; fails without a current jar."""
    from trackmate_cellpose.bridge._glue import find_javac, shipped_jar
    from trackmate_cellpose.errors import BackendUnavailableError

    try:
        javac = find_javac()
    except BackendUnavailableError as e:
        pytest.skip(f"no JDK: {e}")
    jar = shipped_jar(line)
    if jar is None:
        pytest.fail("no current prebuilt glue jar: run python scripts/tools/build_glue_jars.py")
    src = work / "src" / "trackmatecellpose" / "glue" / f"{class_name}.java"
    src.parent.mkdir(parents=True)
    src.write_text(source)
    classes = work / "classes"
    subprocess.run([str(javac.path), "--release", "8", "-Xlint:-options", "-cp", str(jar), "-d", str(classes),
                    str(src)], check=True, capture_output=True, timeout=300)
    return {"java": str(javac.path.with_name("java")), "classes": classes, "jar": jar}
