// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package fiji.plugin.trackmate;


import net.imglib2.mesh.Mesh;
public class SpotMesh extends SpotBase { public SpotMesh(Mesh mesh, double quality) { super(0, 0, 0, 0, quality); } }
