// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package fiji.plugin.trackmate.util;

import org.scijava.Context;
import fiji.plugin.trackmate.Settings;
import ij.ImagePlus;
import net.imagej.ImgPlus;
import net.imglib2.Interval;
public class TMUtils { public static Context getContext() { return null; }
  @SuppressWarnings("rawtypes") public static final ImgPlus rawWraps(ImagePlus imp) { return null; }
  public static final Interval getIntervalWithTime(ImgPlus<?> img, Settings settings) { return null; } }
