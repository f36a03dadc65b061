// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package net.imglib2.type.numeric;


public interface IntegerType<T extends IntegerType<T>> extends RealType<T> {}
