package trackmatecellpose.glue;

/** Texts shown by TrackMate for the detector. */
final class CellposePyInfo
{
	/** No public web page yet: TrackMate shows no link. */
	static final String URL = null;

	static final String INFO_TEXT = "<html>"
			+ "Segments each frame with <b>cellpose</b> (trackmate-cellpose), in the Python that started this Fiji, "
			+ "or, in a Fiji started from its icon, in one Python worker process started on first use. The model "
			+ "stays loaded across frames and previews.<p>"
			+ "2D images give polygon ROIs; 3D images give meshes on TrackMate v9 and equal-volume spheres on "
			+ "earlier versions. QUALITY is the object size in pixels (2D) or voxels (3D).<p>"
			+ "Cellpose: Stringer, Wang, Michaelos &amp; Pachitariu, Nature Methods 18, 100-106 (2021)."
			+ "</html>";

	private CellposePyInfo()
	{}
}
