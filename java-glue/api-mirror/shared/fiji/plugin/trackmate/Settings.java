// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package fiji.plugin.trackmate;

import java.util.Map;
import fiji.plugin.trackmate.detection.SpotDetectorFactoryBase;
public class Settings { public final ij.ImagePlus imp = null; public SpotDetectorFactoryBase<?> detectorFactory; public Map<String, Object> detectorSettings; }
