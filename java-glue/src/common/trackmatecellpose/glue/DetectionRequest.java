package trackmatecellpose.glue;

import java.util.Map;

/**
 * What the Python service needs to detect objects: the frames of TrackMate's crop interval (copied in bulk, one
 * primitive array per frame), the calibration and the settings. Plain Java types only.
 * <p>
 * Frame data is laid out C-contiguously as {@code (C, Z, Y, X)} (X fastest), all channels included. Integer images
 * of at most 16 bits come as {@code byte[]}/{@code short[]} (reinterpreted as unsigned when {@link #dtype()} says
 * so), everything else as {@code float[]}.
 */
public interface DetectionRequest
{
	/** TrackMate settings map (keys of {@link CellposePyKeys}). */
	Map< String, Object > settings();

	/** True when the image has more than one Z plane. */
	boolean is3D();

	/** Absolute index of the first frame of the interval. */
	int firstFrame();

	/** Number of frames of the interval. */
	int nFrames();

	/** Shape of one frame as {C, Z, Y, X}. */
	long[] frameShapeCZYX();

	/** Pixel offset {x, y, z} of the crop interval inside the full image. */
	long[] originXYZ();

	/** Pixel size {x, y, z} in {@link #spaceUnit()} and frame interval in {@link #timeUnit()}: {x, y, z, t}. */
	double[] calibrationXYZT();

	String spaceUnit();

	String timeUnit();

	/** numpy dtype name of the arrays returned by {@link #frame(int)}: uint8, int8, uint16, int16 or float32. */
	String dtype();

	String imageName();

	/** A new primitive array holding frame {@code firstFrame() + i} of the interval, (C, Z, Y, X) order. */
	Object frame( int i );
}
