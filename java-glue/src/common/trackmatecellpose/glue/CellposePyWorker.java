package trackmatecellpose.glue;

import java.io.File;
import java.io.IOException;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The detection service of a classic Fiji launch (a Fiji with no Python in its process): ONE Python worker process,
 * {@code <python> -m trackmate_cellpose.bridge.worker}, started on the first detection or Preview and kept for every
 * later call of this JVM (the model loads once and stays warm in the worker), ended when Fiji exits (shutdown hook;
 * the worker also ends by itself when its stdin closes, e.g. when Fiji is killed).
 * <p>
 * Protocol: a few tagged binary messages on the worker's stdin/stdout ({@link WorkerProcess}; documented in
 * java-glue/README.md and in the worker's module). Pixels go through a memory-mapped file in a private temporary
 * folder; results come back as length-prefixed arrays. JDK only.
 * <p>
 * Never throws and never hangs: a worker that cannot start, dies, or stops answering gives a
 * {@link DetectionSink#fail(String, String)} that says what happened and what to fix (with the worker's last stderr
 * lines as details), and the next call starts a fresh worker. A TrackMate cancel reaches the worker at once; a worker
 * that does not stop within {@link WorkerProcess#CANCEL_GRACE_MS} is killed.
 */
public final class CellposePyWorker implements CellposePyService, CellposePyTrainer
{
	/** Protocol version; the worker reports its own in the handshake. */
	public static final String PROTOCOL = "1";

	/** Version of the training messages; a worker that trains announces it as {@code train} in its handshake. */
	public static final String TRAINING_PROTOCOL = "1";

	private static final CellposePyWorker SHARED = new CellposePyWorker();

	private final Object lock = new Object();

	private final AtomicInteger requestIds = new AtomicInteger();

	private volatile WorkerProcess running;

	private CellposePyWorker()
	{
		try
		{
			Runtime.getRuntime().addShutdownHook( new Thread( this::stop, "trackmate-cellpose-worker-shutdown" ) );
		}
		catch ( final IllegalStateException e )
		{
			// the JVM is already shutting down: nothing will start a worker
		}
	}

	/** The worker service of this JVM. */
	public static CellposePyWorker shared()
	{
		return SHARED;
	}

	@Override
	public void detect( final DetectionRequest request, final DetectionSink sink )
	{
		synchronized ( lock )
		{
			try
			{
				detectLocked( request, sink );
			}
			catch ( final Throwable t )
			{
				// e.g. a failure while turning results into spots: the stream is out of step, start afresh next time
				stop();
				sink.fail( "Python worker: " + t, WorkerProcess.stackTrace( t ) );
			}
		}
	}

	/**
	 * Retrains cellpose in the worker (TrackMate's action "Retrain cellpose on these spots"); the worker is started
	 * as for a detection, and must announce the training protocol in its handshake.
	 */
	@Override
	public void train( final TrainingRequest request, final TrainingSink sink )
	{
		synchronized ( lock )
		{
			try
			{
				trainLocked( request, sink );
			}
			catch ( final Throwable t )
			{
				stop();
				sink.fail( "Python worker: " + t, WorkerProcess.stackTrace( t ) );
			}
		}
	}

	@Override
	public String describe()
	{
		final WorkerProcess r = running;
		return r == null ? "Python worker (not started)" : modeLine( r, true );
	}

	/** Stops the worker (if any); the next detection starts a fresh one. */
	public void stop()
	{
		final WorkerProcess r = running;
		running = null;
		if ( r != null )
			r.destroy();
	}

	private void detectLocked( final DetectionRequest request, final DetectionSink sink ) throws IOException
	{
		final Map< String, Object > settings = request.settings();
		final WorkerProcess r = ready( settings, sink );
		if ( r == null )
			return;
		sink.log( modeLine( r, !Boolean.FALSE.equals( settings.get( WorkerPython.KEY_USE_GPU ) ) ) );
		final int id = requestIds.incrementAndGet();
		try
		{
			r.runRequest( id, request, sink );
		}
		catch ( final IOException e )
		{
			stop();
			if ( r.killReason() != null && sink.isCanceled() )
				return; // killed by us after the cancel grace: the detector reports the cancel
			sink.fail( r.diedMessage( "during detection", origin( settings ) ), r.stderrTail() );
		}
	}

	private void trainLocked( final TrainingRequest request, final TrainingSink sink ) throws IOException
	{
		final Map< String, Object > settings = request.settings();
		final WorkerProcess r = ready( settings, WorkerProcess.asDetectionSink( sink ) );
		if ( r == null )
			return;
		if ( !TRAINING_PROTOCOL.equals( r.hello().get( "train" ) ) )
		{
			sink.fail( "The Python worker (" + r.python + ") has trackmate-cellpose " + r.hello().get( "version" )
					+ ", which cannot retrain cellpose: upgrade it there (pip install -U trackmate-cellpose) and run "
					+ "'trackmate-cellpose install-fiji' again from it.", null );
			return;
		}
		sink.log( modeLine( r, !Boolean.FALSE.equals( settings.get( WorkerPython.KEY_USE_GPU ) ) ) );
		final int id = requestIds.incrementAndGet();
		try
		{
			r.runTraining( id, request, sink );
		}
		catch ( final IOException e )
		{
			stop();
			sink.fail( r.diedMessage( "during training", origin( settings ) ), r.stderrTail() );
		}
	}

	/** The running worker for {@code settings}' Python (started, or restarted for another Python); null on failure. */
	private WorkerProcess ready( final Map< String, Object > settings, final DetectionSink sink )
	{
		final String python;
		try
		{
			python = WorkerPython.executable( settings );
		}
		catch ( final WorkerPython.NotFound e )
		{
			sink.fail( e.getMessage(), null );
			return null;
		}
		WorkerProcess r = running;
		if ( r != null && r.python.equals( python ) && !new File( python ).exists() )
		{
			// removed or moved while Fiji ran: the warm worker started from it could still answer, but it can no
			// longer import what it has not imported yet, so it is stopped rather than left to fail half-way
			sink.log( "Cellpose advanced (Python): stopping the Python worker (pid " + r.hello().get( "pid" )
					+ "): its Python executable " + python + " no longer exists." );
			stop();
			sink.fail( "The Python executable '" + python + "' (" + origin( settings ) + ") no longer exists: it was "
					+ "removed or moved while Fiji ran, and the worker started from it is stopped. " + fix(), null );
			return null;
		}
		if ( r != null && !r.python.equals( python ) )
		{
			sink.log( "Cellpose advanced (Python): the Python executable changed to " + python
					+ ": restarting the Python worker." );
			stop();
			r = null;
		}
		else if ( r != null && !r.isAlive() )
		{
			stop();
			r = null;
		}
		if ( r == null )
		{
			r = start( python, settings, sink );
			if ( r == null )
				return null;
			running = r;
		}
		return r;
	}

	/** Starts a worker and reads its handshake; on failure reports to {@code sink} and returns {@code null}. */
	private WorkerProcess start( final String python, final Map< String, Object > settings, final DetectionSink sink )
	{
		final long t0 = System.currentTimeMillis();
		final String origin = origin( settings );
		final WorkerProcess r;
		try
		{
			r = WorkerProcess.launch( python );
		}
		catch ( final IOException e )
		{
			sink.fail( "The Python executable '" + python + "' (" + origin + ") cannot be started: " + e.getMessage()
					+ ". " + fix(), null );
			return null;
		}
		final Map< String, String > hello;
		try
		{
			hello = r.handshake();
		}
		catch ( final IOException e )
		{
			sink.fail( r.diedMessage( "before its handshake", origin ), r.stderrTail() );
			r.destroy();
			return null;
		}
		final String error = hello.get( "error" );
		if ( error != null )
		{
			sink.fail( "The Python worker (" + python + ", " + origin + ") cannot run cellpose: " + error
					+ ". Install cellpose there (pip install 'cellpose>=3.1'), or " + fixPython(), r.stderrTail() );
			r.destroy();
			return null;
		}
		if ( !PROTOCOL.equals( hello.get( "protocol" ) ) )
		{
			sink.fail( "The Python worker (" + python + ") has trackmate-cellpose " + hello.get( "version" )
					+ ", whose worker protocol " + hello.get( "protocol" ) + " differs from this Fiji's glue ("
					+ PROTOCOL + "). Run 'trackmate-cellpose install-fiji' again from that Python.", null );
			r.destroy();
			return null;
		}
		final String models = hello.get( "models" );
		if ( hello.get( "default_model" ) != null && models != null && !models.isEmpty() )
			CellposePyServices.setModels( hello.get( "default_model" ), models.split( "," ) );
		sink.log( String.format( "Cellpose advanced (Python): started the Python worker in %.1f s.",
				( System.currentTimeMillis() - t0 ) / 1000. ) );
		return r;
	}

	private static String modeLine( final WorkerProcess r, final boolean useGpu )
	{
		final Map< String, String > h = r.hello();
		return "Cellpose advanced (Python): Python worker (pid " + h.get( "pid" ) + ", " + h.get( "python" )
				+ "), trackmate-cellpose " + h.get( "version" ) + ", cellpose " + h.get( "cellpose" ) + ", device "
				+ ( useGpu ? h.get( "device" ) : "cpu" )
				+ ( WorkerPython.privateCode() == null ? "" : ", code " + WorkerPython.privateCode() );
	}

	private static String origin( final Map< String, Object > settings )
	{
		final Object set = settings == null ? null : settings.get( WorkerPython.KEY_PYTHON_EXECUTABLE );
		return set instanceof String && !( ( String ) set ).trim().isEmpty()
				? "the " + WorkerPython.KEY_PYTHON_EXECUTABLE + " setting"
				: "recorded by trackmate-cellpose install-fiji";
	}

	static String fixPython()
	{
		if ( WorkerPython.privateCode() != null ) // the update site's glue brings its Python code: cellpose is enough
			return "set " + WorkerPython.KEY_PYTHON_EXECUTABLE + " in the detector settings to a Python that has "
					+ "cellpose (3 or 4).";
		return "set " + WorkerPython.KEY_PYTHON_EXECUTABLE + " in the detector settings to a Python that has "
				+ "trackmate-cellpose and cellpose, or run 'trackmate-cellpose install-fiji --fiji <this Fiji.app>' "
				+ "from such a Python.";
	}

	static String fix()
	{
		return "Fix: " + fixPython();
	}
}
