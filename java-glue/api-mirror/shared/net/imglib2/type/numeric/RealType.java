// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package net.imglib2.type.numeric;


public interface RealType<T extends RealType<T>> extends net.imglib2.type.Type<T> { double getRealDouble(); float getRealFloat(); int getBitsPerPixel(); double getMinValue(); double getMaxValue(); }
