package trackmatecellpose.glue;

import java.util.Map;

import net.imagej.ImgPlus;
import net.imagej.axis.Axes;
import net.imagej.axis.AxisType;
import net.imglib2.Interval;
import net.imglib2.RandomAccess;
import net.imglib2.img.Img;
import net.imglib2.img.array.ArrayImg;
import net.imglib2.img.basictypeaccess.array.ArrayDataAccess;
import net.imglib2.img.planar.PlanarImg;
import net.imglib2.type.numeric.IntegerType;
import net.imglib2.type.numeric.RealType;

/**
 * {@link DetectionRequest} over a TrackMate image ({@code ImgPlus}, axes X, Y[, C][, Z][, T]) and TrackMate's crop
 * interval. Each frame is copied into one primitive array when the Python side asks for it: row by row with
 * {@code System.arraycopy} from the image's storage arrays when it has them (see {@link #frame(int)}).
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

	/**
	 * Frame {@code i} as one primitive array (C, Z, Y, X order; {@code byte[]} for (u)int8, {@code short[]} for
	 * (u)int16, {@code float[]} otherwise). When the image is an {@code ArrayImg} or a {@code PlanarImg} (what
	 * TrackMate gets from an ImagePlus) whose storage is that same primitive type, each image row of the crop is one
	 * {@code System.arraycopy} from the storage array; any other image is read row by row through a
	 * {@code RandomAccess}, with the type decided once per row, not per pixel.
	 */
	@Override
	public Object frame( final int i )
	{
		final long[] s = frameShapeCZYX();
		final long n = s[ 0 ] * s[ 1 ] * s[ 2 ] * s[ 3 ];
		if ( n > Integer.MAX_VALUE )
			throw new IllegalArgumentException( "A frame of " + n + " pixels is too large to copy in one array." );
		final int len = ( int ) n;
		final Object out = dtype.endsWith( "int8" ) ? new byte[ len ]
				: dtype.endsWith( "int16" ) ? ( Object ) new short[ len ] : new float[ len ];
		final long t = tmin + i;
		if ( !copyStorageRows( out, s, t ) )
			copyPixelRows( out, s, t );
		return out;
	}

	/**
	 * True when {@link #frame(int)} copies rows from the image's storage arrays (an {@code ArrayImg} or
	 * {@code PlanarImg} whose storage has the frame's primitive type); false when it reads pixel by pixel.
	 */
	public boolean copiesInBulk()
	{
		final Object[] storage = storageOf( 0 );
		final Class< ? > want = dtype.endsWith( "int8" ) ? byte[].class
				: dtype.endsWith( "int16" ) ? short[].class : float[].class;
		return storage != null && storage[ 0 ] != null && storage[ 0 ].getClass() == want;
	}

	/**
	 * The primitive storage array holding XY plane {@code plane} (planes numbered over the dimensions after X and
	 * Y, the first fastest), and the offset of that plane in it; null when the image has no such array.
	 */
	private Object[] storageOf( final long plane )
	{
		if ( xd != 0 || yd != 1 )
			return null;
		final Img< ? > raw = img.getImg();
		final long planeSize = raw.dimension( 0 ) * raw.dimension( 1 );
		if ( raw instanceof PlanarImg )
		{
			final PlanarImg< ?, ? > planar = ( PlanarImg< ?, ? > ) raw;
			if ( plane >= planar.numSlices() )
				return null;
			return new Object[] { planar.getPlane( ( int ) plane ).getCurrentStorageArray(), 0L };
		}
		if ( raw instanceof ArrayImg )
		{
			final Object access = ( ( ArrayImg< ?, ? > ) raw ).update( null );
			if ( !( access instanceof ArrayDataAccess ) )
				return null;
			return new Object[] { ( ( ArrayDataAccess< ? > ) access ).getCurrentStorageArray(), plane * planeSize };
		}
		return null;
	}

	private long planeIndex( final long c, final long z, final long t )
	{
		long index = 0, stride = 1;
		for ( int d = 2; d < img.numDimensions(); d++ )
		{
			final long pos = d == cd ? c : d == zd ? z : d == td ? t : 0;
			index += pos * stride;
			stride *= img.dimension( d );
		}
		return index;
	}

	private boolean copyStorageRows( final Object out, final long[] s, final long t )
	{
		final long width = img.dimension( 0 );
		final int w = ( int ) s[ 3 ];
		int k = 0;
		for ( long c = 0; c < s[ 0 ]; c++ )
			for ( long z = 0; z < s[ 1 ]; z++ )
			{
				final Object[] storage = storageOf( planeIndex( c, zd >= 0 ? min[ 2 ] + z : 0, t ) );
				if ( storage == null || storage[ 0 ] == null || storage[ 0 ].getClass() != out.getClass() )
					return false; // the caller then reads the whole frame again, pixel by pixel
				final long base = ( Long ) storage[ 1 ] + min[ 0 ];
				for ( long y = 0; y < s[ 2 ]; y++ )
				{
					System.arraycopy( storage[ 0 ], ( int ) ( base + ( min[ 1 ] + y ) * width ), out, k, w );
					k += w;
				}
			}
		return true;
	}

	private void copyPixelRows( final Object out, final long[] s, final long t )
	{
		final RandomAccess< ? extends RealType< ? > > ra = img.randomAccess();
		if ( td >= 0 )
			ra.setPosition( t, td );
		final int w = ( int ) s[ 3 ];
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
					copyRow( ra, out, k, w );
					k += w;
				}
			}
		}
	}

	/** One image row along X into {@code out} from {@code k}: the array type is decided once per row. */
	private void copyRow( final RandomAccess< ? extends RealType< ? > > ra, final Object out, final int k, final int w )
	{
		if ( out instanceof byte[] )
		{
			final byte[] b = ( byte[] ) out;
			for ( int x = 0; x < w; x++, ra.fwd( xd ) )
				b[ k + x ] = ( byte ) ( ( long ) ra.get().getRealDouble() );
		}
		else if ( out instanceof short[] )
		{
			final short[] sh = ( short[] ) out;
			for ( int x = 0; x < w; x++, ra.fwd( xd ) )
				sh[ k + x ] = ( short ) ( ( long ) ra.get().getRealDouble() );
		}
		else
		{
			final float[] f = ( float[] ) out;
			for ( int x = 0; x < w; x++, ra.fwd( xd ) )
				f[ k + x ] = ( float ) ra.get().getRealDouble();
		}
	}

	private double scale( final int d )
	{
		if ( d < 0 )
			return 1.;
		final double s = img.averageScale( d );
		return s > 0 && !Double.isNaN( s ) && !Double.isInfinite( s ) ? s : 1.;
	}
}
