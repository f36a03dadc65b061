package trackmatecellpose.glue;

import fiji.plugin.trackmate.Spot;
import fiji.plugin.trackmate.SpotMesh;
import fiji.plugin.trackmate.SpotRoi;
import net.imglib2.mesh.impl.nio.BufferMesh;

/**
 * Spot construction for TrackMate v9, where {@code Spot} is an interface: 2D objects become {@code SpotRoi}, 3D objects
 * {@code SpotMesh} (mesh in absolute physical coordinates; TrackMate centres it and writes it to the .meshes file).
 */
final class SpotMaker
{
	static final boolean SUPPORTS_MESHES = true;

	private SpotMaker()
	{}

	static Spot roi( final double[] x, final double[] y, final double quality )
	{
		return SpotRoi.createSpot( x, y, quality );
	}

	static Spot mesh( final double[] vertices, final int[] faces, final double x, final double y, final double z,
			final double radius, final double quality )
	{
		final int nv = vertices.length / 3;
		final int nt = faces.length / 3;
		final BufferMesh mesh = new BufferMesh( nv, nt );
		for ( int i = 0; i < nv; i++ )
			mesh.vertices().add( vertices[ 3 * i ], vertices[ 3 * i + 1 ], vertices[ 3 * i + 2 ] );
		for ( int i = 0; i < nt; i++ )
			mesh.triangles().add( faces[ 3 * i ], faces[ 3 * i + 1 ], faces[ 3 * i + 2 ] );
		return new SpotMesh( mesh, quality );
	}
}
