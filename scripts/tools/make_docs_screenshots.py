"""Take the docs' screenshots in real TrackMate (under Xvfb) and store them, small, in ``docs/images/``.

For each Fiji given (``--fiji TAG=DIR``, e.g. ``tm7=/path/to/Fiji.app``), runs
``tests/fiji/docs_screenshots_scenario.py`` in a fresh process on a private virtual display: it drives TrackMate's
wizard through the tutorial and saves one PNG per step. Each PNG is then reduced to at most 256 colours (and
``--max-width`` pixels) and written as ``docs/images/<step>-<TAG>.png``; what each run found (spots, tracks, what
could not be shown and why) is printed and written to ``docs/images/screenshots-<TAG>.json``.

Needs Xvfb (``apt-get install xvfb``) and a Fiji with TrackMate; the detector runs with the bundled test model on the
CPU. The 3D viewer (TrackMate v9's BigVolumeViewer) needs JOGL's native libraries for the platform, which a Fiji
normally has in ``jars/``; for one without them, ``--gl-natives debian`` takes Debian's (``apt-get install
libgluegen2-jni libjogl2-jni``), linked into a temporary folder under the names JOGL looks for, and Xvfb's GLX
(Mesa's software OpenGL) draws. Not part of the test suite (``tests/fiji/test_docs_screenshots.py`` runs the same scenario under ``FIJI_DIR``).

    python scripts/tools/make_docs_screenshots.py --fiji tm7=/path/to/Fiji.app --fiji tm9=/path/to/fiji-v9
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "tests" / "fiji" / "docs_screenshots_scenario.py"
IMAGES = REPO / "docs" / "images"


def start_xvfb() -> tuple[subprocess.Popen, str]:
    exe = shutil.which("Xvfb")
    if exe is None:
        sys.exit("make_docs_screenshots: Xvfb is not installed (apt-get install xvfb)")
    n = next(n for n in range(91, 140)
             if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists())
    # +extension GLX: Mesa's software OpenGL, for the 3D viewer
    proc = subprocess.Popen([exe, f":{n}", "-screen", "0", "1400x1000x24", "-nolisten", "tcp", "+extension", "GLX"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if Path(f"/tmp/.X11-unix/X{n}").exists():
            break
        time.sleep(0.1)
    return proc, f":{n}"


def shrink(src: Path, dst: Path, max_width: int) -> int:
    img = Image.open(src).convert("RGB")
    if img.width > max_width:
        img = img.resize((max_width, round(img.height * max_width / img.width)), Image.LANCZOS)
    img.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(dst, optimize=True)
    return dst.stat().st_size


def debian_gl_natives(folder: Path) -> Path:
    """Debian's JOGL/gluegen JNI libraries (/usr/lib/jni) linked into ``folder`` under the names JOGL loads."""
    jni = Path("/usr/lib/jni")
    if not (jni / "libgluegen2-rt.so").exists():
        sys.exit("make_docs_screenshots: --gl-natives debian needs apt-get install libgluegen2-jni libjogl2-jni")
    folder.mkdir(parents=True, exist_ok=True)
    for lib in jni.glob("*.so"):
        (folder / lib.name).symlink_to(lib)
    (folder / "libgluegen_rt.so").symlink_to(jni / "libgluegen2-rt.so")
    return folder


def run_one(tag: str, fiji: Path, display: str, max_width: int, keep: Path | None, panels_only: bool,
            gl_natives: str | None) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"tmcp-docs-{tag}-") as tmp:
        work = Path(tmp)
        out = work / "result.json"
        jvm = ""
        if gl_natives:
            natives = debian_gl_natives(work / "gl") if gl_natives == "debian" else Path(gl_natives)
            jvm = f"-Djava.library.path={natives} -Djogamp.gluegen.UseTempJarCache=false"
        env = {**os.environ, "FIJI_DIR": str(fiji), "DISPLAY": display, "HOME": str(work / "pyhome"),
               "TMCP_DOCS_JVM_OPTIONS": jvm,
               "PYTHONPATH": os.pathsep.join([str(REPO / "python"), os.environ.get("PYTHONPATH", "")]),
               "TRACKMATE_CELLPOSE_CACHE": str(work / "cache")}
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, str(SCENARIO), str(out), str(work), *(["panels"] if panels_only else [])],
                              cwd=SCENARIO.parent, env=env,
                              capture_output=True, text=True, timeout=3600)
        res = json.loads(out.read_text()) if out.is_file() else {"ok": False, "error": proc.stderr[-4000:]}
        res["wall_s"] = round(time.perf_counter() - t0, 1)
        res["stderr_tail"] = proc.stderr[-3000:]
        # why a 3D viewer (OpenGL through JOGL) did not open, as Java reported it
        res["gl_messages"] = sorted({line.strip()[:300] for line in proc.stderr.splitlines()
                                     if re.search(r"jogl|gluegen|GLException|GLProfile|UnsatisfiedLink|OpenGL", line,
                                                  re.I)})[:12]
        total = 0
        for png in sorted(work.glob("*.png")):
            dst = IMAGES / f"{png.stem}-{tag}.png"
            total += shrink(png, dst, max_width)
            if keep:
                keep.mkdir(parents=True, exist_ok=True)
                shutil.copy(png, keep / f"{png.stem}-{tag}.png")
        res["bytes"] = total
    facts = {k: v for k, v in res.items() if k != "stderr_tail" and not str(v).endswith(".png")}
    (IMAGES / f"screenshots-{tag}.json").write_text(json.dumps(facts, indent=1, default=str) + "\n")
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fiji", action="append", required=True, metavar="TAG=DIR",
                    help="a Fiji.app folder and the tag its pictures get (tm7, tm9, ...); repeatable")
    ap.add_argument("--max-width", type=int, default=900, help="scale wider pictures down to this width [900]")
    ap.add_argument("--keep", type=Path, help="also keep the full-size PNGs in this folder")
    ap.add_argument("--gl-natives", metavar="DIR|debian",
                    help="folder of JOGL's native libraries for the 3D viewer, or 'debian' (see above)")
    ap.add_argument("--panels-only", action="store_true",
                    help="only the configuration panels (2D and 3D image), not the tutorial's steps")
    args = ap.parse_args(argv)
    IMAGES.mkdir(parents=True, exist_ok=True)
    xvfb, display = start_xvfb()
    status = 0
    try:
        for item in args.fiji:
            tag, _, fiji = item.partition("=")
            res = run_one(tag, Path(fiji), display, args.max_width, args.keep, args.panels_only, args.gl_natives)
            print(json.dumps({k: v for k, v in res.items() if k != "stderr_tail"}, indent=1, default=str))
            if not res.get("ok"):
                print(res.get("stderr_tail", ""), file=sys.stderr)
                status = 1
    finally:
        xvfb.terminate()
        xvfb.wait(10)
    return status


if __name__ == "__main__":
    sys.exit(main())
