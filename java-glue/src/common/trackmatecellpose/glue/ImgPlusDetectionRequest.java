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
 * {@link DetectionRequest} over a TrackMate image ({@code ImgPlus}, axes X, Y[, C][, Z][, T]) and TrackMate's crop
 * interval. Each frame is copied in bulk into one primitive array when the Python side asks for it.
 */
public final class ImgPlusDetectionRequest implements DetectionRequest
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
	public ImgPlusDetectionRequest( final ImgPlus< ? extends RealType< ? > > img, final Interval interval,
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

	@Override
	public Map< String, Object > settings()
	{
		return settings;
	}

	@Override
	public boolean is3D()
	{
		return zd >= 0 && img.dimension( zd ) > 1;
	}

	@Override
	public int firstFrame()
	{
		return tmin;
	}

	@Override
	public int nFrames()
	{
		return tmax - tmin + 1;
	}

	@Override
	public long[] frameShapeCZYX()
	{
		return new long[] { nChannels, zd >= 0 ? max[ 2 ] - min[ 2 ] + 1 : 1, max[ 1 ] - min[ 1 ] + 1, max[ 0 ] - min[ 0 ] + 1 };
	}

	@Override
	public long[] originXYZ()
	{
		return new long[] { min[ 0 ], min[ 1 ], zd >= 0 ? min[ 2 ] : 0 };
	}

	@Override
	public double[] calibrationXYZT()
	{
		return new double[] { scale( xd ), scale( yd ), scale( zd ), scale( td ) };
	}

	@Override
	public String spaceUnit()
	{
		final String u = img.axis( xd ).unit();
		return u == null ? "pixel" : u;
	}

	@Override
	public String timeUnit()
	{
		final String u = td >= 0 ? img.axis( td ).unit() : null;
		return u == null ? "frame" : u;
	}

	@Override
	public String dtype()
	{
		return dtype;
	}

	@Override
	public String imageName()
	{
		return img.getName();
	}

	@Override
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
