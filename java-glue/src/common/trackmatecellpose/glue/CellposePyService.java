package trackmatecellpose.glue;

/**
 * The narrow interface that the Python side ({@code trackmate_cellpose.bridge}) implements with a JPype proxy and
 * registers with {@link CellposePyServices#register(CellposePyService)}.
 * <p>
 * Only plain Java types cross the boundary: the detector hands a {@link DetectionRequest} (frames as primitive arrays,
 * calibration, settings map) and a {@link DetectionSink} that receives the detections as flat primitive arrays, so the
 * Python side never touches TrackMate's {@code Spot} API, which differs between TrackMate lines.
 */
public interface CellposePyService
{
	/**
	 * Detects objects in every frame of {@code request} and reports them to {@code sink}.
	 * <p>
	 * Must not throw: failures go to {@link DetectionSink#fail(String, String)} (a one-line summary and the Python
	 * traceback). Must poll {@link DetectionSink#isCanceled()} between batches of frames and stop when it is set.
	 */
	void detect( DetectionRequest request, DetectionSink sink );

	/** One line describing the Python side, e.g. package, cellpose and torch versions and the device. */
	String describe();
}
