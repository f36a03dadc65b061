// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package net.imglib2.img.array;

import net.imglib2.img.Img;
import net.imglib2.img.basictypeaccess.DataAccess;
import net.imglib2.type.NativeType;

// update(Object) returns A (erasure: DataAccess), as in ImgLib2.
public abstract class ArrayImg<T extends NativeType<T>, A extends DataAccess> implements Img<T> {
  public A update(Object updater) { return null; }
}
