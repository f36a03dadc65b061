package trackmatecellpose.glue;

import java.util.List;
import java.util.Map;

import org.scijava.Cancelable;

import fiji.plugin.trackmate.Logger;
import fiji.plugin.trackmate.Spot;
import fiji.plugin.trackmate.SpotCollection;
import fiji.plugin.trackmate.detection.SpotGlobalDetector;
import net.imagej.ImgPlus;
import net.imglib2.Interval;
import net.imglib2.algorithm.MultiThreaded;
import net.imglib2.type.NativeType;
import net.imglib2.type.numeric.RealType;

/**
 * Global detector: hands the whole crop interval (all its frames) to the Python service in one call, so the cellpose
 * model stays loaded across frames and frames can be batched. Never throws: failures become
 * {@link #getErrorMessage()} (one line) plus the details in TrackMate's log.
 */
public class CellposePyDetector< T extends RealType< T > & NativeType< T > >
		implements SpotGlobalDetector< T >, Cancelable, MultiThreaded
{
	private final ImgPlus< T > img;

	private final Interval interval;

	private final Map< String, Object > settings;

	private Logger logger;

	private String errorMessage;

	private SpotCollection spots;

	private long processingTime;

	private volatile SpotSink sink;

	private volatile String cancelReason;

	private int numThreads = 1;

	public CellposePyDetector( final ImgPlus< T > img, final Interval interval, final Map< String, Object > settings,
			final Logger logger )
	{
		this.img = img;
		this.interval = interval;
		this.settings = settings;
		this.logger = logger != null ? logger : CellposePyLogging.fallbackLogger();
	}

	/** Called by TrackMate 8.x and later; absent (and harmless) on 7.x. */
	public void setLogger( final Logger logger )
	{
		if ( logger != null )
			this.logger = logger;
	}

	@Override
	public boolean checkInput()
	{
		if ( img == null || interval == null )
		{
			errorMessage = "No image or interval given to the " + CellposePyKeys.DETECTOR_NAME + " detector.";
			return false;
		}
		final String error = CellposePyKeys.check( settings );
		if ( error != null )
		{
			errorMessage = error;
			return false;
		}
		return true;
	}

	@Override
	public boolean process()
	{
		final long start = System.currentTimeMillis();
		spots = null;
		errorMessage = null;
		try
		{
			final CellposePyService service = CellposePyServices.resolve();
			final DetectionRequest request = new ImgPlusDetectionRequest( img, interval, settings );
			final SpotSink s = new SpotSink( logger );
			sink = s;
			if ( cancelReason != null )
				s.cancel();
			service.detect( request, s );
			if ( s.failure() != null )
			{
				errorMessage = s.failure();
				final String details = s.failureDetails();
				logger.error( CellposePyKeys.DETECTOR_NAME + ": " + s.failure() + "\n"
						+ ( details == null ? "" : details + "\n" ) );
				return false;
			}
			if ( s.isCanceled() )
			{
				errorMessage = "Detection canceled" + ( cancelReason == null ? "." : ": " + cancelReason );
				return false;
			}
			final SpotCollection sc = new SpotCollection();
			for ( final Map.Entry< Integer, List< Spot > > e : s.spots().entrySet() )
				sc.put( e.getKey().intValue(), e.getValue() );
			spots = sc;
			return true;
		}
		catch ( final Throwable t )
		{
			// A JPype proxy that leaks a Python exception arrives here without a message: say what we know.
			final String msg = t.getMessage();
			errorMessage = "Python detection failed: " + t.getClass().getSimpleName()
					+ ( msg == null || msg.isEmpty() ? "" : ": " + msg.split( "\n" )[ 0 ] );
			logger.error( errorMessage + "\n" );
			return false;
		}
		finally
		{
			sink = null;
			processingTime = System.currentTimeMillis() - start;
		}
	}

	@Override
	public SpotCollection getResult()
	{
		return spots;
	}

	@Override
	public String getErrorMessage()
	{
		return errorMessage;
	}

	@Override
	public long getProcessingTime()
	{
		return processingTime;
	}

	// --- Cancelable -------------------------------------------------------------------------------------------

	@Override
	public boolean isCanceled()
	{
		return cancelReason != null;
	}

	@Override
	public void cancel( final String reason )
	{
		cancelReason = reason == null ? "canceled" : reason;
		final SpotSink s = sink;
		if ( s != null )
			s.cancel();
	}

	@Override
	public String getCancelReason()
	{
		return cancelReason;
	}

	// --- MultiThreaded (one model on one device: the Python side serializes; kept for TrackMate) ------------------

	@Override
	public void setNumThreads()
	{
		numThreads = Runtime.getRuntime().availableProcessors();
	}

	@Override
	public void setNumThreads( final int n )
	{
		numThreads = n;
	}

	@Override
	public int getNumThreads()
	{
		return numThreads;
	}
}
