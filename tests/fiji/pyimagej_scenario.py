"""A Fiji started by plain pyimagej (``imagej.init(FIJI_DIR, mode="headless")``), NOT by this package's launcher,
runs TrackMate with the "Cellpose advanced (Python)" detector as a user's script would: through TrackMate's Java API
only. Nothing of trackmate_cellpose is imported here: the glue must find Python in its own process (pyimagej's
``PythonScriptRunner``) and register the service itself.

Usage: ``python pyimagej_scenario.py OUT.json FIJI_DIR MODEL_FILE IMAGE_2DT [IMAGE_3DT]`` (the Fiji must have our jar,
put there by ``install-fiji``). Phases, in one JVM:

1. ``blocked``: ``trackmate_cellpose`` is made unimportable (as if not installed in this Python): TrackMate's error;
2. ``run_2dt``: importable again: TrackMate (detector by key + LAP tracker) on the 2D+t image, frames 0-2;
3. ``scripts``: script files given in ``TMCP_SCENARIO_SCRIPTS`` (JSON: name, path, params) run through SciJava's
   ScriptService as from Fiji's Script Editor (``TMCP_SCENARIO_ONLY_SCRIPTS=1``: only this phase);
4. ``panel_2d``/``panel_3d``: the detector's configuration panel, built headless, read back component by component;
5. ``run_3dt`` (if IMAGE_3DT is given): frame 0 of a 3D+t image (2D+Z mode, short on a CPU).

Records plain facts in OUT.json, including every network-related event of this Python (audit hook: sockets, URL
requests, and programs that download, e.g. Maven through jgo) during the whole run.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path

EVENTS: list[list[str]] = []
#: Programs that fetch from the network (jgo resolves Maven endpoints with mvn).
_DOWNLOADERS = {"mvn", "mvnw", "curl", "wget", "git"}


def _audit(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "urllib.Request", "http.client.connect"):
        EVENTS.append([event, repr(args)[:300]])
    elif event == "subprocess.Popen" and Path(str(args[0])).name.split(".")[0] in _DOWNLOADERS:
        EVENTS.append([event, repr(args)[:300]])


sys.addaudithook(_audit)
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
KEY = "CELLPOSE_ADVANCED_PY_DETECTOR"


class _Blocker:
    """A meta-path finder that makes trackmate_cellpose unimportable (as in a Python without it)."""

    active = True

    def find_spec(self, name, path=None, target=None):
        if self.active and name.split(".")[0] == "trackmate_cellpose":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def _start(fiji_dir: str):
    import imagej
    import scyjava

    # Offline with a local Fiji (the test machine has no network): use the installed Java instead of downloading one
    # (scyjava's default), no Maven endpoints, and no imglyb start hook when the Fiji lacks imglib2-imglyb.
    scyjava.config.set_java_constraints(fetch="auto")
    scyjava.config.endpoints.clear()
    if not list(Path(fiji_dir, "jars").glob("imglib2-imglyb-*.jar")):
        import scyjava._jvm as sj

        sj._startup_callbacks[:] = [c for c in sj._startup_callbacks
                                    if not str(getattr(c, "__module__", "")).startswith("imglyb")]
    scyjava.config.add_option("-Djava.awt.headless=true")
    return imagej.init(fiji_dir, mode="headless")


def _trackmate(image: str, model_file: str, *, frames: tuple[int, int], do_2dz: bool = False) -> dict:
    from jpype import JClass

    from _shapes import Shapes

    imp = JClass("ij.IJ").openImage(image)
    settings = JClass("fiji.plugin.trackmate.Settings")(imp)
    settings.tstart, settings.tend = frames
    factory = JClass("fiji.plugin.trackmate.providers.DetectorProvider")().getFactory(KEY)
    settings.detectorFactory = factory
    ds = factory.getDefaultSettings()
    ds.put("CELLPOSE_MODEL", "CUSTOM")
    ds.put("CELLPOSE_MODEL_FILEPATH", model_file)
    ds.put("CELL_DIAMETER", JClass("java.lang.Double")(10.0))
    ds.put("USE_GPU", JClass("java.lang.Boolean")(False))
    ds.put("DO2DZ", JClass("java.lang.Boolean")(do_2dz))
    settings.detectorSettings = ds
    tracker = JClass("fiji.plugin.trackmate.providers.TrackerProvider")().getFactory("SIMPLE_SPARSE_LAP_TRACKER")
    settings.trackerFactory = tracker
    settings.trackerSettings = tracker.getDefaultSettings()
    model = JClass("fiji.plugin.trackmate.Model")()
    tm = JClass("fiji.plugin.trackmate.TrackMate")(model, settings)
    t0 = time.perf_counter()
    ok = bool(tm.process())
    shapes = Shapes(_line(factory))
    spots = [shapes.describe(s) for s in model.getSpots().iterable(True)]
    return {"ok": ok, "error": str(tm.getErrorMessage() or ""), "seconds": time.perf_counter() - t0,
            "pixel_width": float(imp.getCalibration().pixelWidth), "spots": spots,
            "n_tracks": int(model.getTrackModel().nTracks(True))}


def _panel(image: str) -> dict:
    """The detector's configuration panel for ``image``, built headless as TrackMate's wizard does (no model: no
    Preview): per shown setting, its label, tooltip, editor class and bounds or choices."""
    from jpype import JClass

    imp = JClass("ij.IJ").openImage(image)
    factory = JClass("fiji.plugin.trackmate.providers.DetectorProvider")().getFactory(KEY)
    panel = factory.getDetectorConfigurationPanel(JClass("fiji.plugin.trackmate.Settings")(imp), None)
    found: dict = {}

    def walk(c):
        name = str(c.getName()) if c.getName() is not None else ""
        if name.startswith("label:"):
            found.setdefault(name[6:], {})["label"] = str(c.getText())
        elif name in {str(k) for k in panel.shownKeys()}:
            info = found.setdefault(name, {})
            info["editor"] = str(c.getClass().getSimpleName())
            info["tooltip"] = str(c.getToolTipText())
            if info["editor"] == "JSpinner":
                m = c.getModel()
                info["min"], info["max"] = float(m.getMinimum()), float(m.getMaximum())
            elif info["editor"] == "JComboBox":
                info["items"] = [str(c.getItemAt(i)) for i in range(c.getItemCount())]
        if hasattr(c, "getComponents"):
            for child in c.getComponents():
                walk(child)

    walk(panel)
    return {"unit": str(imp.getCalibration().getUnit()), "n_channels": int(imp.getNChannels()),
            "shown": [str(k) for k in panel.shownKeys()], "fields": found,
            "settings": {str(k): str(v) for k, v in panel.getSettings().items()}}


def _script(ij, path: str, params: dict) -> dict:
    """Run a SciJava script file (BeanShell, Jython, ...) as Fiji's Script Editor does, through the ScriptService."""
    from jpype import JClass

    lang = ij.script().getLanguageByExtension(path.rsplit(".", 1)[1])
    if lang is None:
        return {"ok": False, "error": f"no script language for {path}"}
    jparams = JClass("java.util.HashMap")()
    for k, v in params.items():
        jparams.put(k, str(v))
    t0 = time.perf_counter()
    module = ij.script().run(JClass("java.io.File")(path), True, jparams).get()
    return {"ok": module is not None, "language": str(lang.getLanguageName()), "seconds": time.perf_counter() - t0}


def _line(factory) -> str:
    from jpype import JClass

    loader = factory.getClass().getClassLoader()
    for name, line in (("fiji.plugin.trackmate.SpotMesh", "tm9"), ("fiji.plugin.trackmate.TrackMateFactoryBase", "tm8")):
        try:
            JClass("java.lang.Class").forName(name, False, loader)
            return line
        except Exception:  # noqa: BLE001 - a class absent on this line
            continue
    return "tm7"


def main(argv: list[str]) -> int:
    out, fiji_dir, model_file, image_2dt = argv[:4]
    image_3dt = argv[4] if len(argv) > 4 else None
    res: dict = {}
    blocker = _Blocker()
    sys.meta_path.insert(0, blocker)
    try:
        t0 = time.perf_counter()
        ij = _start(fiji_dir)
        res["init_seconds"] = time.perf_counter() - t0
        res["imagej_version"] = str(ij.getVersion())
        res["imported_before"] = sorted(m for m in sys.modules if m.startswith("trackmate_cellpose"))
        scripts = json.loads(os.environ.get("TMCP_SCENARIO_SCRIPTS", "[]"))
        if os.environ.get("TMCP_SCENARIO_ONLY_SCRIPTS") == "1":
            blocker.active = False
            res["scripts"] = {sc["name"]: _script(ij, sc["path"], sc["params"]) for sc in scripts}
            return 0
        res["blocked"] = _trackmate(image_2dt, model_file, frames=(0, 0))
        blocker.active = False
        res["run_2dt"] = _trackmate(image_2dt, model_file, frames=(0, 2))
        res["imported_after"] = sorted(m for m in sys.modules if m.startswith("trackmate_cellpose.bridge"))
        res["scripts"] = {sc["name"]: _script(ij, sc["path"], sc["params"]) for sc in scripts}
        res["panel_2d"] = _panel(image_2dt)
        if image_3dt:
            res["panel_3d"] = _panel(image_3dt)
            res["run_3dt"] = _trackmate(image_3dt, model_file, frames=(0, 0), do_2dz=True)
    except BaseException:  # noqa: BLE001 - recorded for the test's message
        res["exception"] = traceback.format_exc()
    finally:
        res["network_events"] = EVENTS
        Path(out).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
