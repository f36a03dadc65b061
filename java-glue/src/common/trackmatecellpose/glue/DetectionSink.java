package trackmatecellpose.glue;

/**
 * Receives the detections of one detection call from the Python service as flat primitive arrays (one call per frame
 * and kind), plus progress, log lines, the cancel state and failures. Plain Java types only.
 */
public interface DetectionSink
{
	/**
	 * Adds the 2D objects of one frame.
	 *
	 * @param frame
	 *            absolute frame index.
	 * @param nPoints
	 *            number of polygon vertices of each object (length n).
	 * @param x
	 *            concatenated vertex x, absolute physical coordinates.
	 * @param y
	 *            concatenated vertex y, absolute physical coordinates.
	 * @param quality
	 *            QUALITY of each object (length n).
	 * @param featureNames
	 *            names of extra numeric features (length f, may be empty).
	 * @param featureValues
	 *            row-major n x f values (NaN = missing).
	 */
	void addRois( int frame, int[] nPoints, double[] x, double[] y, double[] quality, String[] featureNames,
			double[] featureValues );

	/**
	 * Adds the 3D objects of one frame (meshes where the TrackMate line has them, else equal-volume spheres).
	 *
	 * @param centers
	 *            xyz centre of each object, absolute physical coordinates (length 3n).
	 * @param radius
	 *            equal-volume radius of each object (length n).
	 * @param nVertices
	 *            number of mesh vertices of each object.
	 * @param vertices
	 *            concatenated xyz vertices, absolute physical coordinates.
	 * @param nFaces
	 *            number of triangles of each object.
	 * @param faces
	 *            concatenated vertex indices, 3 per triangle, local to each object's vertices.
	 */
	void addMeshes( int frame, double[] centers, double[] radius, double[] quality, int[] nVertices, double[] vertices,
			int[] nFaces, int[] faces, String[] featureNames, double[] featureValues );

	/** Declares that a frame was processed (an empty frame still counts). */
	void frameDone( int frame );

	/** Progress in [0, 1] and a short status. */
	void progress( double fraction, String status );

	/** A line for TrackMate's log. */
	void log( String message );

	/** True once TrackMate (or the user) asked to cancel: the service must stop at the next check. */
	boolean isCanceled();

	/** Reports a failure: a one-line summary for TrackMate's error message, details (traceback) for the log. */
	void fail( String summary, String details );
}
