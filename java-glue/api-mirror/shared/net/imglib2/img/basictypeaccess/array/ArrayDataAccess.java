// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package net.imglib2.img.basictypeaccess.array;

import net.imglib2.img.basictypeaccess.DataAccess;

public interface ArrayDataAccess<A> extends DataAccess, java.io.Serializable {
  A createArray(int numEntities);
  Object getCurrentStorageArray();
  int getArrayLength();
}
