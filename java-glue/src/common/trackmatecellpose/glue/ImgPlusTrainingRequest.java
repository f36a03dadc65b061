package trackmatecellpose.glue;

import java.util.Map;

/** {@link TrainingRequest} over a TrackMate image: the frames of an {@link ImgPlusDetectionRequest} plus options. */
final class ImgPlusTrainingRequest implements TrainingRequest
{
	private final DetectionRequest frames;

	private final Map< String, Object > options;

	ImgPlusTrainingRequest( final DetectionRequest frames, final Map< String, Object > options )
	{
		this.frames = frames;
		this.options = options;
	}

	@Override
	public Map< String, Object > options()
	{
		return options;
	}

	@Override
	public Map< String, Object > settings()
	{
		return frames.settings();
	}

	@Override
	public boolean is3D()
	{
		return frames.is3D();
	}

	@Override
	public int firstFrame()
	{
		return frames.firstFrame();
	}

	@Override
	public int nFrames()
	{
		return frames.nFrames();
	}

	@Override
	public long[] frameShapeCZYX()
	{
		return frames.frameShapeCZYX();
	}

	@Override
	public long[] originXYZ()
	{
		return frames.originXYZ();
	}

	@Override
	public double[] calibrationXYZT()
	{
		return frames.calibrationXYZT();
	}

	@Override
	public String spaceUnit()
	{
		return frames.spaceUnit();
	}

	@Override
	public String timeUnit()
	{
		return frames.timeUnit();
	}

	@Override
	public String dtype()
	{
		return frames.dtype();
	}

	@Override
	public String imageName()
	{
		return frames.imageName();
	}

	@Override
	public Object frame( final int i )
	{
		return frames.frame( i );
	}
}
