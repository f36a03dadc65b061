// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package net.imglib2.type;


public interface Type<T extends Type<T>> {}
