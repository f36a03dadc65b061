"""The docs' screenshots, taken in real TrackMate under a (virtual) X display, in one subprocess.

Drives TrackMate's own wizard as a user does, on the tutorial's movie (``docs/tutorial/make_tutorial_movie.py``):
a rectangle ROI and a T range on the start panel, the detector chooser, the configuration panel (2D and 3D), Preview
in 3D mode, in 2D+Z and with two smoothing scales, the detection, the Overlap tracker at MIN_IOU 0.25, the tracks on
the image, the 3D viewer where the line has one (v9: BigVolumeViewer), and the "Smooth 3D meshes" action (v9). Every
step's PNG goes to WORKDIR and what happened (spot and track counts, what failed and why) to OUT.json.

Usage: ``python docs_screenshots_scenario.py OUT.json WORKDIR [panels]`` with ``FIJI_DIR`` and ``DISPLAY`` set;
``panels`` takes the two configuration panels only (2D and 3D image), without the tutorial. Run by
``scripts/tools/make_docs_screenshots.py`` (which copies the pictures into ``docs/images``) and by
``tests/fiji/test_docs_screenshots.py``.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import time
import traceback
from pathlib import Path

from trackmate_cellpose import DetectorSettings, sample_path, test_model_path
from trackmate_cellpose.bridge import start_fiji
from trackmate_cellpose.bridge._headless import to_java_map
from trackmate_cellpose.bridge._jvm import jvm_options_for_tests
from trackmate_cellpose.bridge._service import set_detect_function

from fiji_gui_scenario import (J, field, find, next_panel, on_edt, overlay_model, run_preview, screenshot, walk,
                               wizard_frame)

KEY = "CELLPOSE_ADVANCED_PY_DETECTOR"
ACTIONS = "fiji.plugin.trackmate.gui.components.ActionChooserPanel"
REPO = Path(__file__).resolve().parents[2]
#: the tutorial's crop: a rectangle ROI (x, y, width, height in pixels) and the frames (0-based, inclusive)
ROI = (16, 16, 96, 96)
T_RANGE = (0, 2)


def showing(root, class_name):
    return [c for c in find(root, class_name) if c.isShowing()]


def wait_next_ready(frame, timeout=1200.0):
    """After Next: wait until the wizard's forward work (detection, tracking ...) is over and Next is back."""
    wp = find(frame, "fiji.plugin.trackmate.gui.wizard.WizardPanel")[0]
    btn = field(wp, "fiji.plugin.trackmate.gui.wizard.WizardPanel", "btnNext")
    time.sleep(1.0)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        # Next is back (the last panel, the action chooser, keeps it disabled)
        if btn.isVisible() and (btn.isEnabled() or showing(frame, ACTIONS)):
            time.sleep(1.0)
            return time.perf_counter() - t0
        time.sleep(0.5)
    raise RuntimeError("the wizard did not finish its work in time")


def next_and_finish_transition(frame):
    """Press Next and end the wizard's slide animation on the event thread, in the same event.

    TrackMate ends that animation on its own painter thread, which lays the panels out holding the AWT tree lock; the
    next panel (detection, tracking) is a log, and a log line that the event thread inserts at that moment holds the
    log's document lock and waits for the tree lock, while the painter waits for the document: a deadlock (seen twice
    on a loaded machine, both threads blocked for good). Ended here, on the event thread, the layout runs before any
    log line is inserted (those queue behind this event)."""
    wp = find(frame, "fiji.plugin.trackmate.gui.wizard.WizardPanel")[0]
    btn = field(wp, "fiji.plugin.trackmate.gui.wizard.WizardPanel", "btnNext")
    animator_panel = field(wp, "fiji.plugin.trackmate.gui.wizard.WizardPanel", "animatorPanel")
    animator_cls = "fiji.plugin.trackmate.gui.wizard.WizardPanel$AnimatorPanel"

    def click_and_finish():
        btn.doClick()
        deadline = time.perf_counter() + 10.0
        while field(animator_panel, animator_cls, "animator") is not None and time.perf_counter() < deadline:
            time.sleep(0.05)
            animator_panel.paint()  # calls stop() once the 200 ms animation is complete

    on_edt(click_and_finish)
    time.sleep(1.0)


def go_next(frame):
    time.sleep(3.0)  # let earlier events settle
    next_and_finish_transition(frame)
    return wait_next_ready(frame)


def advance_to(frame, class_name, max_steps=4):
    """Press Next (waiting for each panel's work) until a panel of ``class_name`` shows; return it."""
    for _ in range(max_steps):
        found = showing(frame, class_name)
        if found:
            return found[0]
        go_next(frame)
    found = showing(frame, class_name)
    if not found:
        raise RuntimeError(f"no {class_name} after {max_steps} x Next")
    return found[0]


def set_formatted(panel, cls_name, name, value):
    tf = field(panel, cls_name, name)
    on_edt(lambda: tf.setValue(J("java.lang.Integer")(value)))


def new_frames(before):
    return [f for f in J("java.awt.Frame").getFrames() if f.isVisible() and f not in before]


def open_wizard(path, roi=None):
    imp = J("ij.IJ").openImage(str(path))
    on_edt(lambda: imp.show())
    if roi is not None:
        on_edt(lambda: imp.setRoi(J("ij.gui.Roi")(*roi)))
    time.sleep(1.0)
    before = set(J("java.awt.Frame").getFrames())
    J("fiji.plugin.trackmate.TrackMatePlugIn")().run("")
    frame = wizard_frame(before)
    time.sleep(1.5)
    return imp, frame


def choose_detector(frame):
    next_panel(frame)  # start panel -> detector chooser
    chooser = showing(frame, "fiji.plugin.trackmate.gui.components.ModuleChooserPanel")[0]
    on_edt(lambda: chooser.setSelectedModuleKey(KEY))
    time.sleep(0.5)
    return chooser


def config_panel(frame):
    next_panel(frame)  # -> our configuration panel
    panels = find(frame, "trackmatecellpose.glue.CellposePyConfigurationPanel")
    if not panels:
        raise RuntimeError("the Cellpose advanced (Python) configuration panel did not open")
    return panels[0]


def panel_2d(work: Path, settings: DetectorSettings, res: dict):
    imp, frame = open_wizard(sample_path("2dt"))
    choose_detector(frame)
    panel = config_panel(frame)
    on_edt(lambda: panel.setSettings(to_java_map(settings)))
    time.sleep(0.5)
    res["panel_2d"] = screenshot(frame, work / "panel-2d.png")
    on_edt(lambda: frame.dispose())
    on_edt(lambda: imp.close())


def panel_3d(work: Path, movie: Path, settings: DetectorSettings, res: dict):
    imp, frame = open_wizard(movie)
    choose_detector(frame)
    panel = config_panel(frame)
    on_edt(lambda: panel.setSettings(to_java_map(settings)))
    time.sleep(0.5)
    res["panel_3d_keys"] = [str(k) for k in panel.shownKeys()]
    res["panel_3d"] = screenshot(frame, work / "panel-3d.png")
    on_edt(lambda: frame.dispose())
    on_edt(lambda: imp.close())


def tutorial(work: Path, movie: Path, settings: DetectorSettings, res: dict, calls, returned):
    imp, frame = open_wizard(movie, roi=ROI)
    # 1. the start panel: the ROI is read from the image; crop the frames too
    roi_panels = [c for c in walk(frame) if str(c.getClass().getName()).endswith("StartDialogDescriptor$RoiSettingsPanel")]
    cls = "fiji.plugin.trackmate.gui.wizard.descriptors.StartDialogDescriptor$RoiSettingsPanel"
    set_formatted(roi_panels[0], cls, "tfTStart", T_RANGE[0])
    set_formatted(roi_panels[0], cls, "tfTEnd", T_RANGE[1])
    res["tutorial_start"] = screenshot(frame, work / "tutorial-start.png")
    # 2. the detector chooser
    choose_detector(frame)
    res["tutorial_chooser"] = screenshot(frame, work / "tutorial-chooser.png")
    # 3. the configuration panel (3D), Preview in 3D mode, then in 2D+Z, then two smoothing scales (3D mode)
    panel = config_panel(frame)
    on_edt(lambda: panel.setSettings(to_java_map(settings)))
    res["panel_3d_keys"] = [str(k) for k in panel.shownKeys()]
    res["panel_3d"] = screenshot(frame, work / "panel-3d.png")
    z, t = 8, 1  # 1-based plane and frame shown during the previews
    chosen = settings.replace(do_2dz=True)  # 2D+Z: three times less network work than 3D mode on a CPU
    for tag, s in (("3d", settings), ("2dz", chosen), ("smooth0", chosen.replace(smoothing_scale=0.0)),
                   ("smooth2", chosen.replace(smoothing_scale=2.0))):
        t0 = time.perf_counter()
        run_preview(panel, imp, s, (1, z, t), calls, returned)
        res[f"preview_{tag}_s"] = round(time.perf_counter() - t0, 1)
        res[f"preview_{tag}_spots"] = list(returned)
        if tag == "3d":
            res["tutorial_preview_panel"] = screenshot(frame, work / "tutorial-preview-panel.png")
        res[f"tutorial_preview_{tag}"] = screenshot(imp.getCanvas(), work / f"tutorial-preview-{tag}.png", zoom=2)
    on_edt(lambda: panel.setSettings(to_java_map(chosen)))
    time.sleep(0.5)
    res["tutorial_chosen"] = screenshot(frame, work / "tutorial-chosen.png")
    # 4. detection on the crop (ROI, frames T_RANGE), then the initial filter and the spot filter panels
    res["detection_s"] = round(go_next(frame), 1)
    chooser = advance_to(frame, "fiji.plugin.trackmate.gui.components.ModuleChooserPanel")  # the tracker list
    on_edt(lambda: chooser.setSelectedModuleKey("OVERLAP_TRACKER"))
    time.sleep(0.5)
    next_panel(frame)  # -> the overlap tracker's settings
    tracker = find(frame, "fiji.plugin.trackmate.gui.components.tracker.OverlapTrackerSettingsPanel")[0]
    HashMap = J("java.util.HashMap")
    m = HashMap()
    m.put("MIN_IOU", J("java.lang.Double")(0.25))
    m.put("SCALE_FACTOR", J("java.lang.Double")(1.0))
    m.put("IOU_CALCULATION", "PRECISE")
    on_edt(lambda: tracker.setSettings(m))
    time.sleep(0.5)
    res["tutorial_tracker"] = screenshot(frame, work / "tutorial-tracker.png")
    res["tracking_s"] = round(go_next(frame), 1)  # runs the tracker
    advance_to(frame, "fiji.plugin.trackmate.gui.components.ConfigureViewsPanel")  # past the track filters
    model = overlay_model(imp)
    res["spots"] = int(model.getSpots().getNSpots(True))
    res["tracks"] = int(model.getTrackModel().nTracks(True))
    on_edt(lambda: imp.setPosition(1, z, t + 1))
    time.sleep(1.0)
    res["tutorial_views"] = screenshot(frame, work / "tutorial-views.png")
    res["tutorial_tracks"] = screenshot(imp.getCanvas(), work / "tutorial-tracks.png", zoom=2)
    # 6. the action chooser: "Smooth 3D meshes" (v9)
    actions = advance_to(frame, ACTIONS)  # past the plots
    combo = find(actions, "javax.swing.JComboBox")[0]
    keys = [str(combo.getItemAt(i)) for i in range(combo.getItemCount())]
    res["action_keys"] = keys
    if "MESH_SMOOTHER" in keys:
        on_edt(lambda: actions.setSelectedModuleKey("MESH_SMOOTHER"))
        time.sleep(0.5)
        res["tutorial_actions"] = screenshot(frame, work / "tutorial-actions.png")
        before = set(J("java.awt.Frame").getFrames())
        execute = [b for b in find(actions, "javax.swing.JButton") if str(b.getText()) == "Execute"][0]
        on_edt(lambda: execute.doClick())
        time.sleep(5.0)
        smoother = [f for f in new_frames(before) if "Smoothing" in str(f.getTitle())]
        if smoother:
            # "Run on": every visible spot (the window starts on "selection only", and nothing is selected)
            everything = [b for b in find(smoother[0], "javax.swing.JRadioButton")
                          if str(b.getText()) == "all visible spots"][0]
            on_edt(lambda: everything.doClick())
            time.sleep(0.5)
            res["tutorial_smoother"] = screenshot(smoother[0], work / "tutorial-smoother.png")
            run = [b for b in find(smoother[0], "javax.swing.JButton") if str(b.getText()) == "Run"][0]
            on_edt(lambda: run.doClick())
            time.sleep(10.0)
            res["tutorial_smoothed"] = screenshot(imp.getCanvas(), work / "tutorial-smoothed.png", zoom=2)
            # the same plane and time point as tutorial-tracks.png: the outlines must have changed
            res["smoothing_changed_the_picture"] = (Path(res["tutorial_smoothed"]).read_bytes()
                                                    != Path(res["tutorial_tracks"]).read_bytes())


def try_3d_viewer(work: Path, res: dict):
    """The 3D viewer, where the line has one (v9: BigVolumeViewer, OpenGL through JOGL). Tried last: a viewer that
    fails to start can leave the wizard's buttons disabled, or end the JVM."""
    frame = [f for f in J("java.awt.Frame").getFrames() if f.isVisible()
             and find(f, "fiji.plugin.trackmate.gui.wizard.WizardPanel")][0]
    viewer_buttons = [b for b in find(frame, "javax.swing.JButton")
                      if any(w in str(b.getText()) for w in ("3D", "BVV", "BigVolume"))]
    res["viewer_buttons"] = [str(b.getText()) for b in viewer_buttons]
    if viewer_buttons:
        before = set(J("java.awt.Frame").getFrames())
        on_edt(lambda: viewer_buttons[0].doClick())
        time.sleep(20.0)
        opened = new_frames(before)
        res["viewer_windows"] = [str(f.getTitle()) for f in opened]
        if opened:
            try:  # the screen itself: OpenGL draws outside Swing's painting
                img = J("java.awt.Robot")().createScreenCapture(opened[0].getBounds())
                J("javax.imageio.ImageIO").write(img, "png", J("java.io.File")(str(work / "tutorial-viewer.png")))
                res["tutorial_viewer"] = str(work / "tutorial-viewer.png")
            except Exception as e:  # noqa: BLE001 - the finding is the message
                res["viewer_error"] = f"{type(e).__name__}: {e}"


def main(argv):
    out, work = Path(argv[0]), Path(argv[1])
    panels_only = argv[2:] == ["panels"]
    work.mkdir(parents=True, exist_ok=True)
    res: dict = {}
    try:
        movie = work / "tutorial_3dt.tif"
        runpy.run_path(str(REPO / "docs" / "tutorial" / "make_tutorial_movie.py"))["make_movie"](str(movie))
        # TMCP_DOCS_JVM_OPTIONS: e.g. -Djava.library.path=DIR for OpenGL natives (scripts/tools/make_docs_screenshots.py)
        session = start_fiji(os.environ["FIJI_DIR"], mode="interactive",
                             jvm_options=[*jvm_options_for_tests(work / "home"),
                                          *os.environ.get("TMCP_DOCS_JVM_OPTIONS", "").split()])
        settings = DetectorSettings(model="CUSTOM", model_path=os.environ.get("TMCP_TEST_MODEL")
                                    or str(test_model_path()), diameter=10.0, use_gpu=False)
        calls, returned = [], []

        def recording_detect(image, settings, **kw):  # what run_preview waits for
            from trackmate_cellpose import detect

            calls.append(int(image.shape[0]))
            result = detect(image, settings, **kw)
            returned.append(result.n_detections)
            return result

        set_detect_function(recording_detect)
        res["line"] = session.line
        panel_2d(work, settings, res)
        if panels_only:
            panel_3d(work, movie, settings, res)
            res["ok"] = True
        else:
            tutorial(work, movie, settings, res, calls, returned)
            res["ok"] = True
            out.write_text(json.dumps(res, indent=1, default=str))  # kept if the viewer ends the JVM
            try_3d_viewer(work, res)
    except BaseException as e:  # noqa: BLE001
        res["ok"] = False
        res["error"] = "".join(traceback.format_exception(e))
    out.write_text(json.dumps(res, indent=1, default=str))
    os._exit(0)  # interactive mode: do not wait for the AWT threads


if __name__ == "__main__":
    main(sys.argv[1:])
