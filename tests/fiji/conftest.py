"""Fixtures shared by the real-Fiji tests."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

#: TrackMate's log line of a detection in the Python worker: pid, Python executable, trackmate-cellpose and cellpose
#: versions, device.
WORKER_MODE = re.compile(r"Cellpose advanced \(Python\): Python worker \(pid (\d+), (.+?)\), trackmate-cellpose "
                         r"(\S+), cellpose (\S+), device (\w+)")


@pytest.fixture(scope="session")
def glue_cache(tmp_path_factory) -> Path:
    """One trackmate-cellpose cache for the session: the glue is compiled once, not once per Fiji process."""
    return tmp_path_factory.mktemp("tmcp-cache")


@pytest.fixture(scope="session")
def trackmate_line(fiji_dir) -> str:
    """API line of the Fiji under test: ``tm7``, ``tm8`` or ``tm9`` (read from its TrackMate jar, no JVM)."""
    from _shapes import line_of

    return line_of(fiji_dir)


@pytest.fixture(scope="module")
def xvfb_display():
    """A virtual X display (``:N``) for the module's GUI checks; skips without Xvfb."""
    exe = shutil.which("Xvfb")
    if exe is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb) - the GUI check needs a virtual display")
    for n in range(91, 160):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            break
    proc = subprocess.Popen([exe, f":{n}", "-screen", "0", "1400x1000x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(50):
        if Path(f"/tmp/.X11-unix/X{n}").exists():
            break
        time.sleep(0.1)
    yield f":{n}"
    proc.terminate()
    proc.wait(10)


def _link_or_copy(src, dst):
    try:
        os.link(src, dst)
    except OSError:  # another file system: a real copy
        shutil.copy2(src, dst)


def java_executable() -> str:
    """``$JAVA_HOME/bin/java`` when set (8.1.6 needs Java 21+), else the ``java`` on the PATH."""
    home = os.environ.get("JAVA_HOME")
    java = Path(home) / "bin" / "java" if home else None
    return str(java) if java and java.exists() else shutil.which("java")


def copy_fiji(fiji_dir: Path, dst: Path) -> Path:
    """A copy of ``fiji_dir`` at ``dst`` with hard links where possible: only for what writes NEW files (install-fiji,
    the update site's files), so the shared Fiji is never modified."""
    shutil.copytree(fiji_dir, dst, symlinks=True, copy_function=_link_or_copy)
    return dst


def classic_command(fiji: Path, home: Path, main: list[str], props: dict | None = None, *, headless: bool = True,
                    jvm_options: list[str] = ()) -> list[str]:
    """A plain JVM set up by ImageJ's ClassLauncher as Fiji's launcher does (a classic launch: no Python in it),
    running ``main`` (a class and its arguments); ``props`` become ``-Dtmcp.KEY=VALUE``. Skips without a launcher."""
    launcher = sorted((fiji / "jars").glob("imagej-launcher-*.jar"))
    if not launcher:
        pytest.skip("this Fiji has no imagej-launcher jar")
    return [java_executable(), "--add-opens=java.base/java.lang=ALL-UNNAMED",
            "--add-opens=java.base/java.util=ALL-UNNAMED", "--add-opens=java.desktop/sun.awt=ALL-UNNAMED",
            *(["-Djava.awt.headless=true"] if headless else []), f"-Dplugins.dir={fiji}", f"-Dimagej.dir={fiji}",
            f"-Dij.dir={fiji}", f"-Duser.home={home}", "-XX:-UsePerfData",
            *(f"-Dtmcp.{k}={v}" for k, v in (props or {}).items()), *jvm_options,
            "-cp", str(launcher[-1]), "net.imagej.launcher.ClassLauncher", "-ijjarpath", "jars", "-ijjarpath",
            "plugins", *main]


def install_into_copy(fiji_dir: Path, work: Path) -> Path:
    """A copy of ``fiji_dir`` (:func:`copy_fiji`) with our glue installed by the CLI; returns the copy's folder."""
    import sys

    copy = copy_fiji(fiji_dir, work / "Fiji.app")
    proc = subprocess.run([sys.executable, "-m", "trackmate_cellpose", "install-fiji", "--fiji", str(copy)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return copy
