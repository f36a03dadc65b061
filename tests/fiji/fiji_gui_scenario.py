"""GUI check under a (virtual) X display, in one subprocess: TrackMate's own wizard lists the detector, its panel
opens with every field (3D-only fields for a 3D image only), Preview runs the current frame of a 2D and of a 3D
image and TrackMate draws the spots it found (ROIs; for 3D spheres on 7.x/8.x, meshes on v9), and screenshots of
each panel and of the image with the drawn spots are saved. Where the Preview has a Cancel button (8.x, v9), a long
full-3D Preview is cancelled with it and the next Preview still runs.

Usage: ``python fiji_gui_scenario.py OUT.json WORKDIR`` with ``FIJI_DIR`` and ``DISPLAY`` set.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path

from trackmate_cellpose import DetectorSettings, sample_path, test_model_path
from trackmate_cellpose.bridge import start_fiji
from trackmate_cellpose.bridge._jvm import jvm_options_for_tests
from trackmate_cellpose.bridge._service import set_detect_function

from _shapes import Shapes  # test support next to this script

KEY = "CELLPOSE_ADVANCED_PY_DETECTOR"
NAME = "Cellpose advanced (Python)"


def J(name):
    from jpype import JClass

    return JClass(name)


def on_edt(fn):
    from jpype import JImplements, JOverride

    box = {}

    @JImplements("java.lang.Runnable")
    class R:
        @JOverride
        def run(self):
            try:
                box["value"] = fn()
            except Exception as e:  # noqa: BLE001
                box["error"] = e

    J("javax.swing.SwingUtilities").invokeAndWait(R())
    if "error" in box:
        raise box["error"]
    return box.get("value")


def walk(comp):
    yield comp
    if hasattr(comp, "getComponents"):
        for c in comp.getComponents():
            yield from walk(c)


def find(root, class_name):
    return [c for c in walk(root) if c.getClass().getName() == class_name
            or J(class_name).class_.isInstance(c)]


def field(obj, cls_name, name):
    f = J(cls_name).class_.getDeclaredField(name)
    f.setAccessible(True)
    return f.get(obj)


def wizard_frame(before):
    for _ in range(100):
        frames = [f for f in J("java.awt.Frame").getFrames() if f.isVisible() and f not in before
                  and find(f, "fiji.plugin.trackmate.gui.wizard.WizardPanel")]
        if frames:
            return frames[0]
        time.sleep(0.2)
    raise RuntimeError("TrackMate's wizard window did not appear")


def screenshot(comp, path: Path, zoom: int = 1):
    """Paint the window (or an image canvas) into an image on the EDT, independent of other windows overlapping it
    on screen; ``zoom`` enlarges it (nearest neighbour) for small images."""
    BufferedImage, ImageIO, File = (J(c) for c in ("java.awt.image.BufferedImage", "javax.imageio.ImageIO",
                                                   "java.io.File"))

    def paint():
        w, h = int(comp.getWidth()), int(comp.getHeight())
        img = BufferedImage(w, h, BufferedImage.TYPE_INT_RGB)
        g = img.createGraphics()
        comp.paint(g)
        g.dispose()
        if zoom == 1:
            return img
        big = BufferedImage(w * zoom, h * zoom, BufferedImage.TYPE_INT_RGB)
        g = big.createGraphics()
        g.drawImage(img, 0, 0, w * zoom, h * zoom, None)
        g.dispose()
        return big

    ImageIO.write(on_edt(paint), "png", File(str(path)))
    return str(path)


def coloured_pixels(imp) -> int:
    """Pixels of the image window's canvas that are not grey: TrackMate's overlay (the image itself is greyscale)."""
    import numpy as np

    canvas = imp.getCanvas()
    w, h = int(canvas.getWidth()), int(canvas.getHeight())
    BufferedImage = J("java.awt.image.BufferedImage")

    def paint():
        img = BufferedImage(w, h, BufferedImage.TYPE_INT_RGB)
        g = img.createGraphics()
        canvas.paint(g)
        g.dispose()
        return img.getRGB(0, 0, w, h, None, 0, w)

    rgb = np.array(on_edt(paint), dtype=np.int64) & 0xFFFFFF
    r, g, b = rgb >> 16, (rgb >> 8) & 0xFF, rgb & 0xFF
    return int(np.count_nonzero((r != g) | (g != b)))


def overlay_model(imp):
    """TrackMate's model behind the spots drawn on ``imp`` (the SpotOverlay of its HyperStackDisplayer)."""
    SpotOverlay = J("fiji.plugin.trackmate.visualization.hyperstack.SpotOverlay")
    overlay = imp.getOverlay()
    for i in range(0 if overlay is None else overlay.size()):
        roi = overlay.get(i)
        if SpotOverlay.class_.isInstance(roi):
            return field(roi, "fiji.plugin.trackmate.visualization.hyperstack.SpotOverlay", "model")
    raise RuntimeError("no TrackMate spot overlay on the image")


def run_preview(panel, imp, settings, position_czt, calls, returned, timeout=600.0):
    """Set the panel's settings, move the image to (c, z, t) (1-based) and press Preview; wait for the spots."""
    from trackmate_cellpose.bridge._headless import to_java_map

    calls.clear()
    returned.clear()
    on_edt(lambda: panel.setSettings(to_java_map(settings)))
    on_edt(lambda: imp.setPosition(*position_czt))
    prev = find(panel, "fiji.plugin.trackmate.util.DetectionPreviewPanel")[0]
    btn = field(prev, "fiji.plugin.trackmate.util.DetectionPreviewPanel", "btnPreview")
    on_edt(lambda: btn.doClick())
    t0 = time.perf_counter()
    while not returned and time.perf_counter() - t0 < timeout:
        time.sleep(0.2)
    if not returned:  # what TrackMate's Preview panel shows (its log line: an error from the detector, if any)
        texts = [str(c.getText()) for c in walk(prev) if J("javax.swing.JLabel").class_.isInstance(c)]
        raise RuntimeError(f"Preview returned no detection in {timeout:.0f} s; detect calls {calls}; the Preview "
                           f"panel shows {texts}")
    # TrackMate then puts the spots into the preview model and draws them: wait for that, not a fixed time (on a
    # loaded machine it takes longer than seconds)
    frame0, t1 = position_czt[2] - 1, time.perf_counter()
    while returned and returned[-1] > 0 and time.perf_counter() - t1 < 120.0:
        try:
            if overlay_model(imp).getSpots().iterable(frame0, False) is not None:
                break
        except RuntimeError:  # no spot overlay on the image yet
            pass
        time.sleep(0.2)
    time.sleep(1.0)  # the drawing and the quality histogram
    return btn


def cancel_3d_preview(panel, imp, settings, calls, returned, raised, res):
    """Cancel a long full-3D Preview with the Preview panel's own Cancel button (TrackMate 8.x and v9; 7.13's Preview
    has none), while cellpose computes the masks (a stage that asks no cancel check, stretched here to a minute as on
    a large stack); then a short Preview must still work (Fiji responsive)."""
    import threading

    from cellpose import dynamics

    from trackmate_cellpose.bridge._headless import to_java_map

    name = "fiji.plugin.trackmate.util.DetectionPreviewPanel"
    prev = find(panel, name)[0]
    try:
        cancel_btn = field(prev, name, "btnCancel")
    except Exception:  # noqa: BLE001 - TrackMate 7.13
        cancel_btn = None
    res["3d_cancel_button"] = cancel_btn is not None
    if cancel_btn is None:
        return
    preview_btn = field(prev, name, "btnPreview")
    real, started, running = dynamics.compute_masks, threading.Event(), []

    def stretched(*args, **kwargs):  # cellpose's real masks again and again for a minute
        running.append(1)
        started.set()
        try:
            end = time.monotonic() + 60
            out = real(*args, **kwargs)
            while time.monotonic() < end:
                out = real(*args, **kwargs)
            return out
        finally:
            running.pop()

    dynamics.compute_masks = stretched
    try:
        calls.clear(), returned.clear(), raised.clear()
        on_edt(lambda: panel.setSettings(to_java_map(settings.replace(do_2dz=False))))
        on_edt(lambda: imp.setPosition(1, 6, 2))
        on_edt(lambda: preview_btn.doClick())
        res["3d_cancel_stage_reached"] = started.wait(600)
        res["3d_cancel_button_shown"] = bool(cancel_btn.isVisible())
        t0 = time.perf_counter()
        on_edt(lambda: cancel_btn.doClick())
        while not (raised or returned) and time.perf_counter() - t0 < 120:
            time.sleep(0.05)
        res["3d_cancel_s"] = time.perf_counter() - t0
        res["3d_cancel_raised"], res["3d_cancel_returned"] = list(raised), list(returned)
        while not preview_btn.isVisible() and time.perf_counter() - t0 < 120:
            time.sleep(0.05)
        res["3d_cancel_preview_button_back_s"] = time.perf_counter() - t0 if preview_btn.isVisible() else None
        time.sleep(1.0)
        res["3d_cancel_stage_still_running"] = len(running)
    finally:
        dynamics.compute_masks = real
    # Fiji goes on: the next (short, 2D+Z) Preview of the same panel runs
    run_preview(panel, imp, settings.replace(do_2dz=True), (1, 6, 2), calls, returned)
    res["3d_after_cancel_detections"] = list(returned)


def next_panel(frame):
    wp = find(frame, "fiji.plugin.trackmate.gui.wizard.WizardPanel")[0]
    btn = field(wp, "fiji.plugin.trackmate.gui.wizard.WizardPanel", "btnNext")
    on_edt(lambda: btn.doClick())
    time.sleep(1.5)  # the wizard animates transitions


def open_config_panel(sample: str, work: Path, tag: str, res: dict):
    imp = J("ij.IJ").openImage(str(sample_path(sample)))
    on_edt(lambda: imp.show())
    time.sleep(1.0)
    before = set(J("java.awt.Frame").getFrames())
    J("fiji.plugin.trackmate.TrackMatePlugIn")().run("")
    frame = wizard_frame(before)
    time.sleep(1.5)
    next_panel(frame)  # start panel -> detector chooser
    chooser = find(frame, "fiji.plugin.trackmate.gui.components.ModuleChooserPanel")[0]
    combo = find(chooser, "javax.swing.JComboBox")[0]
    items = [str(combo.getItemAt(i)) for i in range(combo.getItemCount())]
    res[f"{tag}_chooser_items"] = items
    on_edt(lambda: chooser.setSelectedModuleKey(KEY))
    time.sleep(0.5)
    res[f"{tag}_chooser_selected"] = str(chooser.getSelectedModuleKey())
    res[f"{tag}_chooser_png"] = screenshot(frame, work / f"{tag}_chooser.png")
    next_panel(frame)  # -> our configuration panel
    panels = find(frame, "trackmatecellpose.glue.CellposePyConfigurationPanel")
    if not panels:
        raise RuntimeError("the Cellpose advanced (Python) configuration panel did not open")
    panel = panels[0]
    res[f"{tag}_shown_keys"] = [str(k) for k in panel.shownKeys()]
    # the labels of the fields, as the user reads them
    res[f"{tag}_labels"] = [str(c.getText()) for c in walk(panel) if J("javax.swing.JLabel").class_.isInstance(c)]
    res[f"{tag}_settings"] = {str(k): str(v) for k, v in panel.getSettings().items()}
    res[f"{tag}_panel_png"] = screenshot(frame, work / f"{tag}_panel.png")
    return frame, panel, imp


def main(argv):
    out, work = Path(argv[0]), Path(argv[1])
    work.mkdir(parents=True, exist_ok=True)
    res: dict = {}
    try:
        session = start_fiji(os.environ["FIJI_DIR"], mode="interactive",
                             jvm_options=jvm_options_for_tests(work / "home"))
        shapes = Shapes(session.line)
        res["line"] = session.line
        calls = []
        returned = []

        raised = []

        def recording_detect(image, settings, **kw):
            calls.append({"frame_offset": kw["frame_offset"], "n_frames": int(image.shape[0])})
            from trackmate_cellpose import detect

            try:
                result = detect(image, settings, **kw)
            except BaseException as e:
                raised.append(type(e).__name__)
                raise
            returned.append(result.n_detections)
            return result

        set_detect_function(recording_detect)
        s = DetectorSettings(model="CUSTOM", model_path=os.environ.get("TMCP_TEST_MODEL") or str(test_model_path()),
                             diameter=10.0, use_gpu=False)

        # 2D+t: Preview on frame 4 (1-based) -> TrackMate's DetectionPreview runs our detector on that frame only.
        frame, panel, imp = open_config_panel("2dt", work, "2d", res)
        res["2d_coloured_px_before"] = coloured_pixels(imp)
        btn = run_preview(panel, imp, s, (1, 1, 4), calls, returned)
        res["preview_calls"] = list(calls)
        res["preview_panel_showing"] = bool(btn.isShowing()) and on_edt(lambda: btn.getVisibleRect().getHeight() > 0)
        res["preview_detections"] = list(returned)
        res["2d_preview_kinds"] = sorted({shapes.kind(sp) for sp in overlay_model(imp).getSpots().iterable(3, False)})
        res["2d_coloured_px_after"] = coloured_pixels(imp)
        res["preview_png"] = screenshot(frame, work / "2d_preview.png")
        # the image canvas (an AWT canvas: painting its window does not paint it) with TrackMate's overlay
        res["2d_image_png"] = screenshot(imp.getCanvas(), work / "2d_preview_image.png", zoom=3)
        on_edt(lambda: frame.dispose())

        # 3D+t: the 3D settings are shown; Preview on frame 2, plane 6 (2D+Z keeps it short on a CPU): TrackMate
        # draws the spots of that frame where they cut the plane (spheres on 7.x/8.x, meshes on v9).
        frame3, panel3, imp3 = open_config_panel("3dt", work, "3d", res)
        res["3d_coloured_px_before"] = coloured_pixels(imp3)
        run_preview(panel3, imp3, s.replace(do_2dz=True), (1, 6, 2), calls, returned)
        res["3d_preview_calls"] = list(calls)
        res["3d_preview_detections"] = list(returned)
        spots = overlay_model(imp3).getSpots()
        res["3d_preview_frames"] = sorted(int(f) for f in spots.keySet() if spots.getNSpots(int(f), False) > 0)
        res["3d_preview_spots"] = [shapes.describe(sp) for sp in spots.iterable(1, False)]
        res["3d_coloured_px_after"] = coloured_pixels(imp3)
        res["3d_preview_png"] = screenshot(frame3, work / "3d_preview_panel.png")
        res["3d_image_png"] = screenshot(imp3.getCanvas(), work / "3d_preview_image.png", zoom=3)
        cancel_3d_preview(panel3, imp3, s, calls, returned, raised, res)
        on_edt(lambda: frame3.dispose())
        res["ok"] = True
    except BaseException as e:  # noqa: BLE001
        res["ok"] = False
        res["error"] = "".join(traceback.format_exception(e))
    out.write_text(json.dumps(res, indent=1, default=str))
    os._exit(0)  # interactive mode: do not wait for the AWT threads


if __name__ == "__main__":
    main(sys.argv[1:])
