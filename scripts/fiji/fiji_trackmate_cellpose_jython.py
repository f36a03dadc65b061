#@ File (label = "Image (ImageJ hyperstack, calibrated)") imageFile
#@ File (label = "TrackMate XML to write", style = "save") outFile
#@ String (label = "Cellpose model (built-in name or CUSTOM)", value = "cyto3") modelName
#@ String (label = "Custom model file (when CUSTOM)", value = "") modelPath
#@ Double (label = "Cell diameter (physical units)", value = 10.0) diameter
#@ Boolean (label = "Use GPU", value = true) useGpu
#@ Double (label = "Overlap tracker minimum IoU", value = 0.3) minIou
"""Jython (Fiji's script editor): TrackMate with the "Cellpose advanced (Python)" detector, selected by its key,
then TrackMate's Overlap tracker and XML writer.

This is a *Fiji* script (Jython 2.7, run by Fiji), not CPython: open it in your Fiji's Script Editor (File > Open...,
Run) after ``trackmate-cellpose install-fiji --fiji /path/to/Fiji.app``, in a Fiji whose process has (C)Python: Fiji's
Python mode (Edit > Options > Python...), any Fiji started by pyimagej, or ``trackmate-cellpose fiji``. The detector
finds its Python side in that process by itself. Works with TrackMate 7.x and 8.x/v9. Values need the exact Java types of the defaults: floats for
Double settings (10.0, not 10), ints for Integer ones.
"""

from java.lang import Boolean, Double, Integer

from ij import IJ
from fiji.plugin.trackmate import Logger, Model, Settings, TrackMate
from fiji.plugin.trackmate.io import TmXmlWriter
from fiji.plugin.trackmate.providers import DetectorProvider, TrackerProvider
from trackmatecellpose.glue import CellposePyLogging

imp = IJ.openImage(imageFile.getAbsolutePath())
if imp is None:
    raise ValueError("Cannot open %s" % imageFile)

settings = Settings(imp)
factory = DetectorProvider().getFactory("CELLPOSE_ADVANCED_PY_DETECTOR")
if factory is None:
    raise RuntimeError("TrackMate does not know CELLPOSE_ADVANCED_PY_DETECTOR: run 'trackmate-cellpose install-fiji "
                       "--fiji <this Fiji>' (or start Fiji with 'trackmate-cellpose fiji')")
settings.detectorFactory = factory
ds = factory.getDefaultSettings()
ds.put("CELLPOSE_MODEL", modelName)
ds.put("CELLPOSE_MODEL_FILEPATH", modelPath)
ds.put("CELL_DIAMETER", Double(diameter))
ds.put("USE_GPU", Boolean(useGpu))
ds.put("TARGET_CHANNEL", Integer(1))
settings.detectorSettings = ds

tracker = TrackerProvider().getFactory("OVERLAP_TRACKER")
settings.trackerFactory = tracker
settings.trackerSettings = tracker.getDefaultSettings()
settings.trackerSettings.put("MIN_IOU", Double(minIou))
settings.trackerSettings.put("IOU_CALCULATION", "PRECISE")
settings.addAllAnalyzers()

model = Model()
model.setLogger(Logger.IJ_LOGGER)
cal = imp.getCalibration()
model.setPhysicalUnits(cal.getUnit(), cal.getTimeUnit())  # TrackMate 7.x keeps "pixels" otherwise
CellposePyLogging.setFallbackLogger(model.getLogger())  # 7.x gives global detectors no logger

trackmate = TrackMate(model, settings)
if not (trackmate.checkInput() and trackmate.process()):
    raise RuntimeError("TrackMate failed: " + str(trackmate.getErrorMessage()))

writer = TmXmlWriter(outFile, model.getLogger())
writer.appendModel(model)
writer.appendSettings(settings)
writer.writeToFile()
print("%d spots, %d tracks -> %s" % (model.getSpots().getNSpots(True), model.getTrackModel().nTracks(True), outFile))
