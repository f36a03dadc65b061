// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package net.imagej;


import net.imagej.axis.AxisType;
import net.imagej.axis.CalibratedAxis;
import net.imglib2.img.Img;
public abstract class ImgPlus<T> implements Img<T> {
  public int dimensionIndex(AxisType axis) { return -1; }
  public CalibratedAxis axis(int d) { return null; }
  public double averageScale(int d) { return 0; }
  public String getName() { return null; }
}
