// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package net.imglib2.mesh;


public interface Vertices { long sizel(); default long add(double x, double y, double z) { return 0; } }
