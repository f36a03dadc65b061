// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package net.imglib2;


public interface Positionable extends EuclideanSpace { void fwd(int d); void setPosition(long position, int d); void setPosition(int position, int d); }
