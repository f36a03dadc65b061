package trackmatecellpose.glue;

import java.util.Map;

import net.imagej.ImgPlus;
import net.imagej.axis.Axes;
import net.imagej.axis.AxisType;
import net.imglib2.Interval;
import net.imglib2.RandomAccess;
import net.imglib2.type.numeric.IntegerType;
import net.imglib2.type.numeric.RealType;

/**
 * What the Python service needs to detect objects in a TrackMate image: the frames of the crop interval, copied in
 * bulk (one primitive array per frame), the calibration and the settings.
 * <p>
 * Frame data is laid out C-contiguously as {@code (C, Z, Y, X)} (X fastest), all channels included; Python reshapes it
 * without copying. Integer images of at most 16 bits are sent as {@code byte[]}/{@code short[]} (to be reinterpreted
 * as unsigned when {@link #dtype()} says so), everything else as {@code float[]}.
 */
public final class DetectionRequest
{
	private final ImgPlus< ? extends RealType< ? > > img;

	private final Map< String, Object > settings;

	private final int xd, yd, cd, zd, td;

	private final long[] min = new long[ 3 ];

	private final long[] max = new long[ 3 ];

	private final int tmin, tmax;

	private final int nChannels;

	private final String dtype;

	/**
	 * @param interval
	 *            TrackMate's interval: X, Y[, Z][, T] in absolute pixel coordinates (channel dimension removed).
	 */
	public DetectionRequest( final ImgPlus< ? extends RealType< ? > > img, final Interval interval,
			final Map< String, Object > settings )
	{
		this.img = img;
		this.settings = settings;
		xd = img.dimensionIndex( Axes.X );
		yd = img.dimensionIndex( Axes.Y );
		cd = img.dimensionIndex( Axes.CHANNEL );
		zd = img.dimensionIndex( Axes.Z );
		td = img.dimensionIndex( Axes.TIME );
		final int nd = interval.numDimensions();
		final int nSpace = zd >= 0 ? 3 : 2;
		for ( int d = 0; d < 3; d++ )
		{
			if ( d < nSpace )
			{
				min[ d ] = interval.min( d );
				max[ d ] = interval.max( d );
			}
		}
		if ( nd > nSpace )
		{
			tmin = ( int ) interval.min( nd - 1 );
			tmax = ( int ) interval.max( nd - 1 );
		}
		else
		{
			tmin = 0;
			tmax = 0;
		}
		nChannels = cd >= 0 ? ( int ) img.dimension( cd ) : 1;
		final RealType< ? > t = img.firstElement();
		final int bits = t.getBitsPerPixel();
		if ( t instanceof IntegerType && bits <= 8 )
			dtype = t.getMinValue() < 0 ? "int8" : "uint8";
		else if ( t instanceof IntegerType && bits <= 16 )
			dtype = t.getMinValue() < 0 ? "int16" : "uint16";
		else
			dtype = "float32";
	}

	public Map< String, Object > settings()
	{
		return settings;
	}

	public boolean is3D()
	{
		return zd >= 0 && img.dimension( zd ) > 1;
	}

	/** Absolute index of the first frame of the interval. */
	public int firstFrame()
	{
		return tmin;
	}

	public int nFrames()
	{
		return tmax - tmin + 1;
	}

	/** Shape of one frame as {C, Z, Y, X}. */
	public long[] frameShapeCZYX()
	{
		return new long[] { nChannels, zd >= 0 ? max[ 2 ] - min[ 2 ] + 1 : 1, max[ 1 ] - min[ 1 ] + 1, max[ 0 ] - min[ 0 ] + 1 };
	}

	/** Pixel offset {x, y, z} of the crop interval inside the full image. */
	public long[] originXYZ()
	{
		return new long[] { min[ 0 ], min[ 1 ], zd >= 0 ? min[ 2 ] : 0 };
	}

	/** Pixel size {x, y, z} in {@link #spaceUnit()}, and frame interval in {@link #timeUnit()}, as {x, y, z, t}. */
	public double[] calibrationXYZT()
	{
		return new double[] { scale( xd ), scale( yd ), scale( zd ), scale( td ) };
	}

	public String spaceUnit()
	{
		final String u = img.axis( xd ).unit();
		return u == null ? "pixel" : u;
	}

	public String timeUnit()
	{
		final String u = td >= 0 ? img.axis( td ).unit() : null;
		return u == null ? "frame" : u;
	}

	/** numpy dtype name of the arrays returned by {@link #frame(int)}. */
	public String dtype()
	{
		return dtype;
	}

	public String imageName()
	{
		return img.getName();
	}

	/**
	 * Copies frame {@code firstFrame() + i} of the crop interval (all channels) into a new primitive array, laid out
	 * as {@code (C, Z, Y, X)}.
	 */
	public Object frame( final int i )
	{
		final long[] s = frameShapeCZYX();
		final long n = s[ 0 ] * s[ 1 ] * s[ 2 ] * s[ 3 ];
		if ( n > Integer.MAX_VALUE )
			throw new IllegalArgumentException( "A frame of " + n + " pixels is too large to copy in one array." );
		final int len = ( int ) n;
		final RandomAccess< ? extends RealType< ? > > ra = img.randomAccess();
		if ( td >= 0 )
			ra.setPosition( tmin + i, td );
		final boolean isByte = dtype.endsWith( "int8" );
		final boolean isShort = dtype.endsWith( "int16" );
		final byte[] b = isByte ? new byte[ len ] : null;
		final short[] sh = isShort ? new short[ len ] : null;
		final float[] f = !isByte && !isShort ? new float[ len ] : null;
		int k = 0;
		for ( long c = 0; c < s[ 0 ]; c++ )
		{
			if ( cd >= 0 )
				ra.setPosition( c, cd );
			for ( long z = 0; z < s[ 1 ]; z++ )
			{
				if ( zd >= 0 )
					ra.setPosition( min[ 2 ] + z, zd );
				for ( long y = 0; y < s[ 2 ]; y++ )
				{
					ra.setPosition( min[ 1 ] + y, yd );
					ra.setPosition( min[ 0 ], xd );
					for ( long x = 0; x < s[ 3 ]; x++ )
					{
						final double v = ra.get().getRealDouble();
						if ( isByte )
							b[ k ] = ( byte ) ( ( long ) v );
						else if ( isShort )
							sh[ k ] = ( short ) ( ( long ) v );
						else
							f[ k ] = ( float ) v;
						k++;
						ra.fwd( xd );
					}
				}
			}
		}
		return isByte ? b : isShort ? sh : f;
	}

	private double scale( final int d )
	{
		if ( d < 0 )
			return 1.;
		final double s = img.averageScale( d );
		return s > 0 && !Double.isNaN( s ) && !Double.isInfinite( s ) ? s : 1.;
	}
}
