// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package net.imglib2.mesh.impl.nio;


public class BufferMesh implements net.imglib2.mesh.Mesh {
  public BufferMesh(int vertexMax, int triangleMax) {}
  public Vertices vertices() { return null; }
  public Triangles triangles() { return null; }
  public class Vertices implements net.imglib2.mesh.Vertices { public long sizel() { return 0; } }
  public class Triangles implements net.imglib2.mesh.Triangles { public long sizel() { return 0; } }
}
