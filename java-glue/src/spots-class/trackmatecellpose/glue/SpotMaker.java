package trackmatecellpose.glue;

import fiji.plugin.trackmate.Spot;
import fiji.plugin.trackmate.SpotRoi;

/**
 * Spot construction for TrackMate lines where {@code Spot} is a class (7.x and 8.x): 2D objects become ROI spots, 3D
 * objects spheres of equal volume (these lines have no meshes).
 */
final class SpotMaker
{
	static final boolean SUPPORTS_MESHES = false;

	private SpotMaker()
	{}

	/** ROI spot from an absolute polygon in physical units (centre = polygon centroid, radius from the area). */
	static Spot roi( final double[] x, final double[] y, final double quality )
	{
		return SpotRoi.createSpot( x, y, quality );
	}

	/** Sphere of the given centre and radius; the mesh is ignored on this line. */
	static Spot mesh( final double[] vertices, final int[] faces, final double x, final double y, final double z,
			final double radius, final double quality )
	{
		return new Spot( x, y, z, radius, quality );
	}
}
