// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package net.imglib2.mesh;


public interface Triangles { long sizel(); default long add(long v0, long v1, long v2) { return 0; } }
