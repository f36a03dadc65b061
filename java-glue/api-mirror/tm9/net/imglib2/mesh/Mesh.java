// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package net.imglib2.mesh;


public interface Mesh { Vertices vertices(); Triangles triangles(); }
