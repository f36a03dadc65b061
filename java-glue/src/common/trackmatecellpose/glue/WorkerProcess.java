package trackmatecellpose.glue;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.BufferedReader;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.RandomAccessFile;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One running Python worker and its end of the protocol (see the worker module
 * {@code trackmate_cellpose.bridge.worker} and java-glue/README.md). Big-endian; a string is an int32 byte length +
 * UTF-8; an array is an int32 count + elements. Pixels are written little-endian into a memory-mapped file of a
 * private temporary folder (readable by the user only), reused across frames and calls, replaced by a bigger one when
 * a frame does not fit, and removed with the folder when the worker ends. JDK only.
 */
final class WorkerProcess
{
	/** Seconds the worker may take to import cellpose and answer the handshake. */
	static final long START_TIMEOUT_MS = 1000L * Long.getLong( "trackmate.cellpose.worker.startTimeout", 300L );

	/** Seconds a worker may keep running after a cancel before it is killed. */
	static final long CANCEL_GRACE_MS = 1000L * Long.getLong( "trackmate.cellpose.worker.cancelGrace", 10L );

	/**
	 * Seconds a training worker may keep running after a cancel: it stops before the next training step (one step
	 * of a large crop batch takes tens of seconds on a CPU) and then saves the best epoch so far.
	 */
	static final long TRAINING_CANCEL_GRACE_MS = 1000L * Long.getLong( "trackmate.cellpose.worker.trainingCancelGrace", 600L );

	private static final int STDERR_LINES = 60;

	final String python;

	private final Process process;

	private final File dir;

	private final DataOutputStream out;

	private final DataInputStream in;

	private final ArrayDeque< String > stderr = new ArrayDeque<>();

	private final Thread stderrDrain;

	private Map< String, String > hello = new LinkedHashMap<>();

	private MappedByteBuffer pixels;

	private File pixelsFile;

	private int pixelsFiles;

	private volatile String killReason;

	/** With {@code -Dtrackmate.cellpose.worker.echo=true} the worker's stderr also goes to TrackMate's log. */
	private static final boolean ECHO = Boolean.getBoolean( "trackmate.cellpose.worker.echo" );

	/** The sink of the running request (for {@link #ECHO}). */
	private volatile DetectionSink current;

	private WorkerProcess( final String python, final Process process, final File dir )
	{
		this.python = python;
		this.process = process;
		this.dir = dir;
		out = new DataOutputStream( new BufferedOutputStream( process.getOutputStream(), 1 << 16 ) );
		in = new DataInputStream( new BufferedInputStream( process.getInputStream(), 1 << 16 ) );
		stderrDrain = new Thread( this::drainStderr, "trackmate-cellpose-worker-stderr" );
		stderrDrain.setDaemon( true );
		stderrDrain.start();
	}

	/**
	 * Starts {@code python -m trackmate_cellpose.bridge.worker --shared-dir DIR} with a new private DIR, in the
	 * environment {@link WorkerPython#configure} gives (the update site's Python code first on its path).
	 */
	static WorkerProcess launch( final String python ) throws IOException
	{
		final File dir = privateDir();
		try
		{
			final ProcessBuilder pb = new ProcessBuilder( python, "-m", "trackmate_cellpose.bridge.worker",
					"--shared-dir", dir.getAbsolutePath() );
			WorkerPython.configure( pb.environment() );
			return new WorkerProcess( python, pb.start(), dir );
		}
		catch ( final IOException | RuntimeException e )
		{
			deleteDir( dir );
			throw e instanceof IOException ? ( IOException ) e : new IOException( e.toString(), e );
		}
	}

	private static File privateDir() throws IOException
	{
		final String prefix = "trackmate-cellpose-worker-";
		if ( FileSystems.getDefault().supportedFileAttributeViews().contains( "posix" ) )
			return Files.createTempDirectory( prefix, PosixFilePermissions.asFileAttribute(
					PosixFilePermissions.fromString( "rwx------" ) ) ).toFile();
		return Files.createTempDirectory( prefix ).toFile(); // Windows: the user's own temp folder
	}

	/** Reads the handshake ({@code H}); the worker is killed when none comes within {@link #START_TIMEOUT_MS}. */
	Map< String, String > handshake() throws IOException
	{
		final WorkerWatchdog w = new WorkerWatchdog( this, null, 0, START_TIMEOUT_MS,
				"no handshake within " + START_TIMEOUT_MS / 1000 + " s" );
		try
		{
			final int tag = in.read();
			if ( tag != 'H' )
				throw tag < 0 ? new EOFException() : new IOException( "unexpected first message " + tag );
			final int n = in.readInt();
			final Map< String, String > h = new LinkedHashMap<>();
			for ( int i = 0; i < n; i++ )
				h.put( readStr(), readStr() );
			hello = h;
			return h;
		}
		finally
		{
			w.finish();
		}
	}

	Map< String, String > hello()
	{
		return hello;
	}

	boolean isAlive()
	{
		try
		{
			process.exitValue();
			return false;
		}
		catch ( final IllegalThreadStateException e )
		{
			return true;
		}
	}

	String killReason()
	{
		return killReason;
	}

	/** Runs one request to its end message {@code E}; an IOException means the worker is gone or out of step. */
	void runRequest( final int id, final DetectionRequest request, final DetectionSink sink ) throws IOException
	{
		writeRequest( id, request );
		final WorkerWatchdog w = new WorkerWatchdog( this, sink, id, 0, null );
		current = sink;
		try
		{
			serve( request, sink, null );
		}
		finally
		{
			current = null;
			w.finish();
		}
	}

	/**
	 * Runs one training request ({@code T}) to its end message {@code E}: frames, progress, log lines and a failure
	 * as for a detection, the result as {@code K}. An IOException means the worker is gone or out of step.
	 */
	void runTraining( final int id, final TrainingRequest request, final TrainingSink sink ) throws IOException
	{
		synchronized ( out )
		{
			out.writeByte( 'T' );
			out.writeInt( id );
			writeMap( request.options() );
			writeRequestBody( request );
			out.flush();
		}
		final WorkerWatchdog w = new WorkerWatchdog( this, sink::isCanceled, TRAINING_CANCEL_GRACE_MS, id, 0, null );
		try
		{
			serve( request, asDetectionSink( sink ), sink );
		}
		finally
		{
			w.finish();
		}
	}

	/**
	 * Answers the worker's messages for one request until its end message {@code E}: frames asked for, progress, log
	 * lines, spots (to {@code sink}), a failure, and a training result ({@code K}, to {@code training}; a detection
	 * has none).
	 */
	private void serve( final DetectionRequest request, final DetectionSink sink, final TrainingSink training )
			throws IOException
	{
		while ( true )
		{
			final int tag = in.read();
			switch ( tag )
			{
			case 'F':
				sendFrame( request, in.readInt() );
				break;
			case 'G':
			{
				final double f = in.readDouble();
				sink.progress( f, readStr() );
				break;
			}
			case 'L':
				sink.log( readStr() );
				break;
			case 'D':
				sink.frameDone( in.readInt() );
				break;
			case 'O':
			{
				final int frame = in.readInt();
				final int[] nPoints = readInts();
				final double[] x = readDoubles(), y = readDoubles(), q = readDoubles();
				final String[] names = readStrs();
				sink.addRois( frame, nPoints, x, y, q, names, readDoubles() );
				break;
			}
			case 'M':
			{
				final int frame = in.readInt();
				final double[] centers = readDoubles(), radius = readDoubles(), q = readDoubles();
				final int[] nV = readInts();
				final double[] v = readDoubles();
				final int[] nF = readInts(), f = readInts();
				final String[] names = readStrs();
				sink.addMeshes( frame, centers, radius, q, nV, v, nF, f, names, readDoubles() );
				break;
			}
			case 'K':
			{
				if ( training == null )
					throw new IOException( "a training result from the worker during a detection" );
				final String[] keys = new String[ readCount( 8 ) ];
				final String[] values = new String[ keys.length ];
				for ( int i = 0; i < keys.length; i++ )
				{
					keys[ i ] = readStr();
					values[ i ] = readStr();
				}
				training.finished( keys, values );
				break;
			}
			case 'X':
			{
				final String summary = readStr();
				sink.fail( summary, readStr() );
				break;
			}
			case 'E':
				in.readInt();
				in.readByte();
				return;
			case -1:
				throw new EOFException( "the worker's output ended" );
			default:
				throw new IOException( "unexpected message " + tag + " from the worker" );
			}
		}
	}

	/**
	 * A training sink seen as a detection sink (no spots): its progress, log lines, cancel state and failures. For
	 * starting the worker for a training, and for the messages a training shares with a detection.
	 */
	static DetectionSink asDetectionSink( final TrainingSink sink )
	{
		return new DetectionSink()
		{
			@Override
			public void addRois( final int frame, final int[] nPoints, final double[] x, final double[] y,
					final double[] quality, final String[] featureNames, final double[] featureValues )
			{}

			@Override
			public void addMeshes( final int frame, final double[] centers, final double[] radius,
					final double[] quality, final int[] nVertices, final double[] vertices, final int[] nFaces,
					final int[] faces, final String[] featureNames, final double[] featureValues )
			{}

			@Override
			public void frameDone( final int frame )
			{}

			@Override
			public void progress( final double fraction, final String status )
			{
				sink.progress( fraction, status );
			}

			@Override
			public void log( final String message )
			{
				sink.log( message );
			}

			@Override
			public boolean isCanceled()
			{
				return sink.isCanceled();
			}

			@Override
			public void fail( final String summary, final String details )
			{
				sink.fail( summary, details );
			}
		};
	}

	private void writeRequest( final int id, final DetectionRequest request ) throws IOException
	{
		synchronized ( out )
		{
			out.writeByte( 'R' );
			out.writeInt( id );
			writeRequestBody( request );
			out.flush();
		}
	}

	/** int32 n, then n (str key, int8 type 's'/'i'/'d'/'b', value). */
	private void writeMap( final Map< String, Object > map ) throws IOException
	{
		out.writeInt( map.size() );
		for ( final Map.Entry< String, Object > e : map.entrySet() )
		{
			writeStr( e.getKey() );
			final Object v = e.getValue();
			if ( v instanceof Boolean )
			{
				out.writeByte( 'b' );
				out.writeByte( ( ( Boolean ) v ).booleanValue() ? 1 : 0 );
			}
			else if ( v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte )
			{
				out.writeByte( 'i' );
				out.writeLong( ( ( Number ) v ).longValue() );
			}
			else if ( v instanceof Number )
			{
				out.writeByte( 'd' );
				out.writeDouble( ( ( Number ) v ).doubleValue() );
			}
			else
			{
				out.writeByte( 's' );
				writeStr( String.valueOf( v ) );
			}
		}
	}

	/** The settings and the frame geometry of a request (everything of {@code R} after its id). */
	private void writeRequestBody( final DetectionRequest request ) throws IOException
	{
		writeMap( request.settings() );
		out.writeByte( request.is3D() ? 1 : 0 );
		out.writeInt( request.firstFrame() );
		out.writeInt( request.nFrames() );
		for ( final long s : request.frameShapeCZYX() )
			out.writeLong( s );
		for ( final long o : request.originXYZ() )
			out.writeLong( o );
		for ( final double c : request.calibrationXYZT() )
			out.writeDouble( c );
		writeStr( request.spaceUnit() );
		writeStr( request.timeUnit() );
		writeStr( request.dtype() );
		writeStr( request.imageName() == null ? "" : request.imageName() );
	}

	/** Copies frame {@code i} into the mapped file and answers {@code P}; a copy failure travels as its message. */
	private void sendFrame( final DetectionRequest request, final int i ) throws IOException
	{
		String error = "";
		long nbytes = 0;
		try
		{
			final Object a = request.frame( i );
			if ( a instanceof byte[] )
				nbytes = ( ( byte[] ) a ).length;
			else if ( a instanceof short[] )
				nbytes = 2L * ( ( short[] ) a ).length;
			else
				nbytes = 4L * ( ( float[] ) a ).length;
			final ByteBuffer b = mapFor( nbytes );
			b.clear();
			if ( a instanceof byte[] )
				b.put( ( byte[] ) a );
			else if ( a instanceof short[] )
				b.asShortBuffer().put( ( short[] ) a );
			else
				b.asFloatBuffer().put( ( float[] ) a );
		}
		catch ( final IOException | RuntimeException | OutOfMemoryError e )
		{
			error = e.toString();
			nbytes = 0;
		}
		synchronized ( out )
		{
			out.writeByte( 'P' );
			out.writeInt( i );
			writeStr( pixelsFile == null ? "" : pixelsFile.getAbsolutePath() );
			out.writeLong( nbytes );
			writeStr( error );
			out.flush();
		}
	}

	private ByteBuffer mapFor( final long nbytes ) throws IOException
	{
		if ( nbytes > Integer.MAX_VALUE )
			throw new IOException( "a frame of " + nbytes + " bytes is larger than one mapped file can hold (2 GiB)" );
		if ( pixels == null || pixels.capacity() < nbytes )
		{
			final long size = Math.min( Integer.MAX_VALUE, Math.max( nbytes, pixels == null ? 0 : 2L * pixels.capacity() ) );
			final File f = new File( dir, "pixels-" + pixelsFiles++ + ".bin" );
			final Path p = f.toPath();
			if ( FileSystems.getDefault().supportedFileAttributeViews().contains( "posix" ) )
				Files.createFile( p, PosixFilePermissions.asFileAttribute( PosixFilePermissions.fromString( "rw-------" ) ) );
			try (RandomAccessFile raf = new RandomAccessFile( f, "rw" ))
			{
				raf.setLength( Math.max( 1, size ) );
				pixels = raf.getChannel().map( FileChannel.MapMode.READ_WRITE, 0, Math.max( 1, size ) );
			}
			pixels.order( ByteOrder.LITTLE_ENDIAN );
			final File old = pixelsFile;
			pixelsFile = f;
			if ( old != null && !old.delete() )
				old.deleteOnExit(); // still mapped (Windows): removed with the folder or at exit
		}
		return pixels.duplicate().order( ByteOrder.LITTLE_ENDIAN );
	}

	void sendCancel( final int id ) throws IOException
	{
		synchronized ( out )
		{
			out.writeByte( 'C' );
			out.writeInt( id );
			out.flush();
		}
	}

	/** Kills the process at once (timeouts, cancel grace); the reader then sees the end of the stream. */
	void kill( final String reason )
	{
		killReason = reason;
		process.destroyForcibly();
	}

	/** Ends the worker: closes its stdin (it exits by itself), then terminates it if needed; removes the folder. */
	void destroy()
	{
		try
		{
			out.close();
		}
		catch ( final IOException e )
		{
			// already gone
		}
		try
		{
			if ( !process.waitFor( 3, TimeUnit.SECONDS ) )
			{
				process.destroy();
				if ( !process.waitFor( 2, TimeUnit.SECONDS ) )
					process.destroyForcibly().waitFor( 2, TimeUnit.SECONDS );
			}
		}
		catch ( final InterruptedException e )
		{
			process.destroyForcibly();
			Thread.currentThread().interrupt();
		}
		try
		{
			in.close();
		}
		catch ( final IOException e )
		{
			// already closed
		}
		pixels = null;
		deleteDir( dir );
	}

	/** What happened to a worker that stopped answering, and what to do. */
	String diedMessage( final String when, final String origin )
	{
		Integer code = null;
		try
		{
			if ( process.waitFor( 3, TimeUnit.SECONDS ) )
				code = process.exitValue();
		}
		catch ( final InterruptedException e )
		{
			Thread.currentThread().interrupt();
		}
		final String pid = hello.get( "pid" );
		final String who = "The Python worker (" + ( pid == null ? "" : "pid " + pid + ", " ) + python + ", " + origin + ")";
		final String tail = stderrTail();
		if ( tail.contains( "No module named 'trackmate_cellpose'" ) || tail.contains( "No module named trackmate_cellpose\n" )
				|| tail.endsWith( "No module named trackmate_cellpose" ) )
			return "trackmate-cellpose is not installed in the Python '" + python + "' (" + origin + "): install it "
					+ "there (pip install trackmate-cellpose), or " + CellposePyWorker.fixPython();
		if ( tail.contains( "No module named" ) && tail.contains( "trackmate_cellpose.bridge.worker" ) )
			return "The trackmate-cellpose installed in the Python '" + python + "' (" + origin + ") is older than "
					+ "this Fiji's glue (it has no Python worker): upgrade it there (pip install -U trackmate-cellpose) "
					+ "and run 'trackmate-cellpose install-fiji' again from it.";
		final String how;
		if ( killReason != null )
			how = "was stopped: " + killReason;
		else if ( code == null )
			how = "stopped answering";
		else if ( code > 128 && code < 160 && File.separatorChar == '/' )
			how = "was killed by signal " + ( code - 128 ) + ( code == 137 ? " (SIGKILL: out of memory, or killed by a user)" : "" );
		else
			how = "exited with code " + code;
		final String last = lastLine( tail );
		return who + " " + how + " " + when + "." + ( last.isEmpty() ? "" : " Last output: " + last )
				+ " The next detection starts a new worker; if this repeats, " + CellposePyWorker.fixPython();
	}

	/** The worker's last stderr lines (bounded). */
	String stderrTail()
	{
		try
		{
			stderrDrain.join( 500 ); // let the last lines of a dead worker arrive
		}
		catch ( final InterruptedException e )
		{
			Thread.currentThread().interrupt();
		}
		synchronized ( stderr )
		{
			return String.join( "\n", stderr );
		}
	}

	private static String lastLine( final String text )
	{
		final String[] lines = text.split( "\n" );
		for ( int i = lines.length - 1; i >= 0; i-- )
			if ( !lines[ i ].trim().isEmpty() )
				return lines[ i ].trim();
		return "";
	}

	private void drainStderr()
	{
		try (BufferedReader r = new BufferedReader( new InputStreamReader( process.getErrorStream(), StandardCharsets.UTF_8 ) ))
		{
			String line;
			while ( ( line = r.readLine() ) != null )
			{
				final int cr = line.lastIndexOf( '\r' ); // progress bars redraw with \r: keep the last state
				if ( cr >= 0 )
					line = line.substring( cr + 1 );
				if ( line.length() > 500 )
					line = line.substring( 0, 500 ) + "...";
				synchronized ( stderr )
				{
					stderr.addLast( line );
					while ( stderr.size() > STDERR_LINES )
						stderr.removeFirst();
				}
				final DetectionSink sink = current;
				if ( ECHO && sink != null && !line.trim().isEmpty() )
					sink.log( "  [Python worker] " + line );
			}
		}
		catch ( final IOException e )
		{
			// the process is gone
		}
	}

	// -- encoding --------------------------------------------------------------------------------------------------

	private void writeStr( final String s ) throws IOException
	{
		final byte[] b = s.getBytes( StandardCharsets.UTF_8 );
		out.writeInt( b.length );
		out.write( b );
	}

	private String readStr() throws IOException
	{
		final byte[] b = new byte[ readCount( 1 ) ];
		in.readFully( b );
		return new String( b, StandardCharsets.UTF_8 );
	}

	private String[] readStrs() throws IOException
	{
		final String[] a = new String[ readCount( 4 ) ];
		for ( int i = 0; i < a.length; i++ )
			a[ i ] = readStr();
		return a;
	}

	private int[] readInts() throws IOException
	{
		final int n = readCount( 4 );
		final byte[] b = new byte[ 4 * n ];
		in.readFully( b );
		final int[] a = new int[ n ];
		ByteBuffer.wrap( b ).asIntBuffer().get( a );
		return a;
	}

	private double[] readDoubles() throws IOException
	{
		final int n = readCount( 8 );
		final byte[] b = new byte[ 8 * n ];
		in.readFully( b );
		final double[] a = new double[ n ];
		ByteBuffer.wrap( b ).asDoubleBuffer().get( a );
		return a;
	}

	private int readCount( final int elementSize ) throws IOException
	{
		final int n = in.readInt();
		if ( n < 0 || ( long ) n * elementSize > Integer.MAX_VALUE - 8 )
			throw new IOException( "the worker's stream is out of step (a count of " + n + ")" );
		return n;
	}

	static String stackTrace( final Throwable t )
	{
		final StringWriter sw = new StringWriter();
		t.printStackTrace( new PrintWriter( sw ) );
		return sw.toString();
	}

	private static void deleteDir( final File dir )
	{
		final File[] files = dir.listFiles();
		if ( files != null )
			for ( final File f : files )
				if ( !f.delete() )
					f.deleteOnExit();
		if ( !dir.delete() )
			dir.deleteOnExit();
	}
}
