// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package net.imglib2.img;

import net.imglib2.*;
public interface Img<T> extends RandomAccessibleInterval<T>, IterableInterval<T> {}
