// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package net.imglib2.img.planar;

import net.imglib2.img.Img;
import net.imglib2.img.basictypeaccess.array.ArrayDataAccess;
import net.imglib2.type.NativeType;

// getPlane(int) returns A (erasure: ArrayDataAccess), as in ImgLib2; planes are the XY planes, in the order of the
// remaining dimensions (the first of them fastest).
public abstract class PlanarImg<T extends NativeType<T>, A extends ArrayDataAccess<A>> implements Img<T> {
  public int numSlices() { return 0; }
  public A getPlane(int no) { return null; }
}
