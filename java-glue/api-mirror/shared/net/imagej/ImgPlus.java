// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package net.imagej;


import net.imagej.axis.AxisType;
import net.imagej.axis.CalibratedAxis;
import net.imagej.space.AnnotatedSpace;
import net.imglib2.img.Img;
// axis(int) is inherited from AnnotatedSpace (erasure: Axis), not declared here: the real class inherits it too.
public abstract class ImgPlus<T> implements Img<T>, AnnotatedSpace<CalibratedAxis> {
  public int dimensionIndex(AxisType axis) { return -1; }
  public double averageScale(int d) { return 0; }
  public String getName() { return null; }
  public Img<T> getImg() { return null; }
}
