package trackmatecellpose.glue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import fiji.plugin.trackmate.Logger;
import fiji.plugin.trackmate.Spot;

/**
 * {@link DetectionSink} that turns the detections into TrackMate spots with the line-specific {@link SpotMaker},
 * reports progress and log lines to TrackMate's logger, and records cancel and failure. Thread-safe.
 */
public final class SpotSink implements DetectionSink
{
	private final Logger logger;

	private final Map< Integer, List< Spot > > spots = new TreeMap<>();

	private volatile boolean canceled;

	private volatile String failure;

	private volatile String failureDetails;

	private boolean meshNoteLogged;

	public SpotSink( final Logger logger )
	{
		this.logger = logger;
	}

	@Override
	public synchronized void addRois( final int frame, final int[] nPoints, final double[] x, final double[] y,
			final double[] quality, final String[] featureNames, final double[] featureValues )
	{
		final List< Spot > list = frameList( frame );
		int offset = 0;
		for ( int i = 0; i < nPoints.length; i++ )
		{
			final int n = nPoints[ i ];
			final double[] px = new double[ n ];
			final double[] py = new double[ n ];
			System.arraycopy( x, offset, px, 0, n );
			System.arraycopy( y, offset, py, 0, n );
			offset += n;
			final Spot spot = SpotMaker.roi( px, py, quality[ i ] );
			putFeatures( spot, i, featureNames, featureValues );
			list.add( spot );
		}
	}

	@Override
	public synchronized void addMeshes( final int frame, final double[] centers, final double[] radius,
			final double[] quality, final int[] nVertices, final double[] vertices, final int[] nFaces, final int[] faces,
			final String[] featureNames, final double[] featureValues )
	{
		final List< Spot > list = frameList( frame );
		if ( !SpotMaker.SUPPORTS_MESHES && !meshNoteLogged && radius.length > 0 )
		{
			meshNoteLogged = true;
			logger.log( "Note: this TrackMate version has no 3D meshes; 3D objects are stored as spheres of equal volume "
					+ "and the same centre. Meshes need TrackMate v9.\n" );
		}
		int vOff = 0;
		int fOff = 0;
		for ( int i = 0; i < radius.length; i++ )
		{
			final double[] v = new double[ 3 * nVertices[ i ] ];
			final int[] f = new int[ 3 * nFaces[ i ] ];
			System.arraycopy( vertices, vOff, v, 0, v.length );
			System.arraycopy( faces, fOff, f, 0, f.length );
			vOff += v.length;
			fOff += f.length;
			final Spot spot = SpotMaker.mesh( v, f, centers[ 3 * i ], centers[ 3 * i + 1 ], centers[ 3 * i + 2 ],
					radius[ i ], quality[ i ] );
			putFeatures( spot, i, featureNames, featureValues );
			list.add( spot );
		}
	}

	@Override
	public synchronized void frameDone( final int frame )
	{
		frameList( frame );
	}

	@Override
	public void progress( final double fraction, final String status )
	{
		logger.setProgress( Math.max( 0., Math.min( 1., fraction ) ) );
		if ( status != null && !status.isEmpty() )
			logger.setStatus( status );
	}

	@Override
	public void log( final String message )
	{
		logger.log( message.endsWith( "\n" ) ? message : message + "\n" );
	}

	@Override
	public boolean isCanceled()
	{
		return canceled;
	}

	void cancel()
	{
		canceled = true;
	}

	@Override
	public void fail( final String summary, final String details )
	{
		failureDetails = details;
		failure = summary == null || summary.isEmpty() ? "Python detection failed." : summary;
	}

	public String failure()
	{
		return failure;
	}

	public String failureDetails()
	{
		return failureDetails;
	}

	/** Spots per absolute frame. */
	public synchronized Map< Integer, List< Spot > > spots()
	{
		return spots;
	}

	private List< Spot > frameList( final int frame )
	{
		List< Spot > list = spots.get( frame );
		if ( list == null )
		{
			list = new ArrayList<>();
			spots.put( frame, list );
		}
		return list;
	}

	private static void putFeatures( final Spot spot, final int i, final String[] names, final double[] values )
	{
		if ( names == null )
			return;
		for ( int f = 0; f < names.length; f++ )
		{
			final double v = values[ i * names.length + f ];
			if ( !Double.isNaN( v ) )
				spot.putFeature( names[ f ], Double.valueOf( v ) );
		}
	}
}
