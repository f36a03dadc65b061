#@ File (label = "Image (ImageJ hyperstack, calibrated)") imageFile
#@ File (label = "TrackMate XML to write", style = "save") outFile
#@ String (label = "Cellpose model (built-in name or CUSTOM)", value = "cyto3") modelName
#@ String (label = "Custom model file (when CUSTOM)", value = "") modelPath
#@ Double (label = "Cell diameter (physical units)", value = 10.0) diameter
#@ Boolean (label = "Use GPU", value = true) useGpu
#@ Double (label = "Overlap tracker minimum IoU", value = 0.3) minIou

/*
 * TrackMate with the "Cellpose advanced (Python)" detector, selected by its key, then TrackMate's Overlap tracker,
 * then TrackMate's XML writer. Run it in your Fiji's Script Editor (File > Open... this script, Run) after
 * "trackmate-cellpose install-fiji --fiji /path/to/Fiji.app", in a Fiji whose process has Python: Fiji's Python mode
 * (Edit > Options > Python...), any Fiji started by pyimagej, or one started with
 *
 *     trackmate-cellpose fiji --fiji /path/to/Fiji.app
 *
 * Works with TrackMate 7.x and 8.x/v9 (only APIs common to these lines are used). Values must have the exact Java
 * types of the defaults: Double for CELL_DIAMETER, Integer for TARGET_CHANNEL (write 10d, 1).
 */

import ij.IJ
import fiji.plugin.trackmate.Logger
import fiji.plugin.trackmate.Model
import fiji.plugin.trackmate.Settings
import fiji.plugin.trackmate.TrackMate
import fiji.plugin.trackmate.io.TmXmlWriter
import fiji.plugin.trackmate.providers.DetectorProvider
import fiji.plugin.trackmate.providers.TrackerProvider

def imp = IJ.openImage(imageFile.getAbsolutePath())
if (imp == null)
	throw new IllegalArgumentException("Cannot open " + imageFile)

def settings = new Settings(imp)
def factory = new DetectorProvider().getFactory("CELLPOSE_ADVANCED_PY_DETECTOR")
if (factory == null)
	throw new IllegalStateException("TrackMate does not know CELLPOSE_ADVANCED_PY_DETECTOR: run 'trackmate-cellpose install-fiji --fiji <this Fiji>' (or start Fiji with 'trackmate-cellpose fiji')")
settings.detectorFactory = factory
def ds = factory.getDefaultSettings()
ds.put("CELLPOSE_MODEL", modelName)
ds.put("CELLPOSE_MODEL_FILEPATH", modelPath)
ds.put("CELL_DIAMETER", diameter as Double)
ds.put("USE_GPU", useGpu as Boolean)
ds.put("TARGET_CHANNEL", 1 as Integer)
settings.detectorSettings = ds

def tracker = new TrackerProvider().getFactory("OVERLAP_TRACKER")
settings.trackerFactory = tracker
settings.trackerSettings = tracker.getDefaultSettings()
settings.trackerSettings.put("MIN_IOU", minIou as Double)
settings.trackerSettings.put("IOU_CALCULATION", "PRECISE")
settings.addAllAnalyzers()

def model = new Model()
model.setLogger(Logger.IJ_LOGGER)
def cal = imp.getCalibration()
model.setPhysicalUnits(cal.getUnit(), cal.getTimeUnit())  // TrackMate 7.x keeps "pixels" otherwise
// TrackMate 7.x gives global detectors no logger: route the detector's messages to the same log.
trackmatecellpose.glue.CellposePyLogging.setFallbackLogger(model.getLogger())

def trackmate = new TrackMate(model, settings)
if (!trackmate.checkInput() || !trackmate.process())
	throw new RuntimeException("TrackMate failed: " + trackmate.getErrorMessage())

def writer = new TmXmlWriter(outFile, model.getLogger())
writer.appendModel(model)
writer.appendSettings(settings)
writer.writeToFile()
println "${model.getSpots().getNSpots(true)} spots, ${model.getTrackModel().nTracks(true)} tracks -> ${outFile}"
