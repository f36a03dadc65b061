// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package ij;

import ij.io.FileInfo;
import ij.measure.Calibration;
public class ImagePlus { public int getNSlices() { return 0; } public int getNChannels() { return 0; } public int getNFrames() { return 0; } public Calibration getCalibration() { return null; }
  public String getTitle() { return null; } public FileInfo getOriginalFileInfo() { return null; } }
