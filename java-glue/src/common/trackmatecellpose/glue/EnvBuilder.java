package trackmatecellpose.glue;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.jar.JarFile;

/**
 * Builds the Python environment the worker of a classic launch runs in, from Fiji alone: fetches uv
 * ({@link UvBootstrap}), then runs the package's environment builder ({@code trackmate_cellpose/envs/_builder.py},
 * carried in this jar as {@value #BUILDER_RESOURCE}) with {@code uv run}, which finds a suitable Python or fetches one.
 * The builder installs torch for the machine, cellpose 3 or 4 and trackmate-cellpose into
 * {@code <data>/envs/<version>-cellpose<N>-<variant>} and reports progress as JSON lines; on success the environment's
 * Python is recorded in {@code <Fiji>/config/trackmate-cellpose.json}, where {@link WorkerPython} reads it, so the
 * worker uses it from then on. {@link #cancel()} stops a build (it resumes when run again). JDK only.
 */
public final class EnvBuilder
{
	/** The builder script inside the glue jar (a copy of {@code trackmate_cellpose/envs/_builder.py}). */
	public static final String BUILDER_RESOURCE = "trackmatecellpose/glue/env_builder.py";

	/** Where the menu command is (named in messages). */
	public static final String MENU = "Plugins > Tracking > TrackMate-Cellpose > Set up a Python environment";

	/** The command class a script runs headless (named in messages). */
	public static final String COMMAND = "trackmatecellpose.glue.SetUpPythonCommand";

	/** Python versions the environment may use (== the builder's {@code PYTHON_REQUEST}; a test compares). */
	public static final String PYTHON_REQUEST = ">=3.10,<3.14";

	/** The package index uv's wheel comes from unless another index URL is given. */
	public static final String DEFAULT_INDEX = "https://pypi.org/simple";

	public static final String CELLPOSE_3 = "3";

	public static final String CELLPOSE_4 = "4";

	public static final String AUTO = "auto";

	public static final String CPU = "cpu";

	public static final String CUDA = "cuda";

	public static final String MPS = "mps";

	/** What to build; empty strings mean "the default". List-valued options are separated by spaces. */
	public static final class Options
	{
		public String cellpose = CELLPOSE_3;

		public String variant = AUTO;

		public String indexUrl = "";

		public String extraIndexUrls = "";

		public String findLinks = "";

		public String torchBackend = "";

		public String python = "";

		public String packageSpec = "";
	}

	/** Receives the build's progress (fraction 0..1 and what it does) and its log lines, on the builder's threads. */
	public interface Listener
	{
		void progress( double fraction, String message );

		void log( String line );
	}

	/** How a build ended. */
	public static final class Result
	{
		/**
		 * {@code "done"}, {@code "cancelled"}, {@code "index"} (a package index cannot be reached), {@code "python"}
		 * (no suitable Python, none downloadable) or {@code "failed"}.
		 */
		public final String status;

		/** The environment's Python executable (when done). */
		public final String python;

		/** The environment's folder (when done). */
		public final String env;

		/** What happened, one paragraph. */
		public final String message;

		Result( final String status, final String python, final String env, final String message )
		{
			this.status = status;
			this.python = python;
			this.env = env;
			this.message = message;
		}

		public boolean ok()
		{
			return "done".equals( status );
		}
	}

	/** uv's line when it cannot download an interpreter (as the builder's own classification). */
	private static final java.util.regex.Pattern PYTHON_DOWNLOAD = java.util.regex.Pattern
			.compile( "Failed to download `?(\\S*(?:cpython|python-build-standalone)\\S*?)`?$", java.util.regex.Pattern.MULTILINE );

	private volatile boolean cancelled;

	private volatile Process process;

	/** Asks a running {@link #build} to stop (it returns status {@code "cancelled"}); the next build resumes. */
	public void cancel()
	{
		cancelled = true;
		final Process p = process;
		if ( p == null )
			return;
		try
		{
			p.getOutputStream().close(); // the builder's stdin closes: it stops its uv and exits
		}
		catch ( final IOException e )
		{
			// already closed
		}
		final Thread killer = new Thread( () -> {
			try
			{
				if ( !p.waitFor( 15, java.util.concurrent.TimeUnit.SECONDS ) )
					p.destroy();
			}
			catch ( final InterruptedException e )
			{
				p.destroy();
			}
		}, "trackmate-cellpose-env-cancel" );
		killer.setDaemon( true );
		killer.start();
	}

	/**
	 * Builds (or resumes, or confirms) the environment and, when done, records its Python for this Fiji. Never throws:
	 * a failure is a {@link Result} whose message says what to do.
	 */
	public Result build( final Options o, final Listener listener )
	{
		cancelled = false;
		final File data = dataDir();
		final String index = o.indexUrl.trim().isEmpty() ? DEFAULT_INDEX : o.indexUrl.trim();
		try
		{
			final File uv = UvBootstrap.find( data, index, listener );
			if ( cancelled )
				return new Result( "cancelled", null, null, "Cancelled; run the setup again to resume it." );
			final File script = extractBuilder( data );
			final Result r = runBuilder( command( uv, script, data, o ), data, listener );
			if ( r.ok() )
				listener.log( record( r.python, r.env ) );
			return r;
		}
		catch ( final UvBootstrap.IndexUnreachable e )
		{
			return new Result( "index", null, null, e.getMessage() );
		}
		catch ( final IOException | RuntimeException e )
		{
			return new Result( "failed", null, null, "Setting up the Python environment failed: " + e.getMessage() );
		}
	}

	List< String > command( final File uv, final File script, final File data, final Options o ) throws IOException
	{
		final String python = o.python.trim().isEmpty() ? PYTHON_REQUEST : o.python.trim();
		final List< String > cmd = new ArrayList<>();
		for ( final String s : new String[] { uv.getPath(), "run", "--no-project", "--python", python, script.getPath(),
				"build", "--events", "--cellpose", o.cellpose.trim(), "--variant", o.variant.trim(), "--python", python,
				"--version", version(), "--data", data.getPath(), "--uv", uv.getPath() } )
			cmd.add( s );
		addOption( cmd, "--index-url", o.indexUrl );
		for ( final String url : split( o.extraIndexUrls ) )
			addOption( cmd, "--extra-index-url", url );
		for ( final String link : split( o.findLinks ) )
			addOption( cmd, "--find-links", link );
		addOption( cmd, "--torch-backend", o.torchBackend );
		addOption( cmd, "--package", o.packageSpec );
		// the update site's Python code, which the worker runs (WorkerPython): then the environment gets
		// trackmate-cellpose's dependencies only
		final File code = o.packageSpec.trim().isEmpty() ? WorkerPython.privateCode() : null;
		if ( code != null )
			addOption( cmd, "--code", code.getPath() );
		return cmd;
	}

	private static void addOption( final List< String > cmd, final String name, final String value )
	{
		if ( value != null && !value.trim().isEmpty() )
		{
			cmd.add( name );
			cmd.add( value.trim() );
		}
	}

	private static List< String > split( final String s )
	{
		final List< String > out = new ArrayList<>();
		for ( final String p : ( s == null ? "" : s ).trim().split( "\\s+" ) )
			if ( !p.isEmpty() )
				out.add( p );
		return out;
	}

	private Result runBuilder( final List< String > cmd, final File data, final Listener listener ) throws IOException
	{
		final ProcessBuilder pb = new ProcessBuilder( cmd ).directory( data );
		final Map< String, String > env = pb.environment();
		for ( final String k : new String[] { "VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONHOME" } )
			env.remove( k );
		// as the builder does for its own uv calls: an interpreter uv fetches to run the builder, and uv's cache, go
		// into the data folder (removed with the environments) unless the user chose otherwise
		if ( !env.containsKey( "UV_PYTHON_INSTALL_DIR" ) )
			env.put( "UV_PYTHON_INSTALL_DIR", new File( data, "python" ).getPath() );
		if ( !env.containsKey( "UV_CACHE_DIR" ) )
			env.put( "UV_CACHE_DIR", new File( data, "uv-cache" ).getPath() );
		listener.log( "$ " + String.join( " ", cmd ) );
		final Process p = pb.start();
		process = p;
		if ( cancelled )
			cancel();
		final ArrayDeque< String > stderr = new ArrayDeque<>();
		final Thread drain = new Thread( () -> pump( p.getErrorStream(), line -> {
			synchronized ( stderr )
			{
				stderr.addLast( line );
				if ( stderr.size() > 40 )
					stderr.removeFirst();
			}
			listener.log( line );
		} ), "trackmate-cellpose-env-stderr" );
		drain.setDaemon( true );
		drain.start();
		final Map< String, Object > last = new LinkedHashMap<>();
		pump( p.getInputStream(), line -> {
			final Map< String, Object > e = event( line );
			if ( e == null )
			{
				listener.log( line );
				return;
			}
			final Object kind = e.get( "event" );
			if ( "progress".equals( kind ) )
				listener.progress( ( ( Number ) e.get( "fraction" ) ).doubleValue(), String.valueOf( e.get( "message" ) ) );
			else if ( "log".equals( kind ) )
				listener.log( String.valueOf( e.get( "message" ) ) );
			else
			{
				last.clear();
				last.putAll( e );
			}
		} );
		final int rc;
		try
		{
			rc = p.waitFor();
			drain.join( 5000 );
		}
		catch ( final InterruptedException e )
		{
			cancel();
			Thread.currentThread().interrupt();
			return new Result( "cancelled", null, null, "Interrupted; run the setup again to resume it." );
		}
		finally
		{
			process = null;
		}
		if ( "done".equals( last.get( "event" ) ) )
			return new Result( "done", String.valueOf( last.get( "python" ) ), String.valueOf( last.get( "env" ) ),
					"The Python environment " + last.get( "env" ) + " is ready." );
		if ( "error".equals( last.get( "event" ) ) )
		{
			final String kind = String.valueOf( last.get( "kind" ) );
			return new Result( "cancelled".equals( kind ) || "index".equals( kind ) || "python".equals( kind ) ? kind
					: "failed", null, null,
					String.valueOf( last.get( "message" ) ) );
		}
		if ( cancelled )
			return new Result( "cancelled", null, null, "Cancelled; run the setup again to resume it." );
		final StringBuilder tail = new StringBuilder();
		synchronized ( stderr )
		{
			for ( final String l : stderr )
				tail.append( '\n' ).append( l );
		}
		final java.util.regex.Matcher download = PYTHON_DOWNLOAD.matcher( tail );
		if ( download.find() ) // uv run found no Python for the builder and could not fetch one
			return new Result( "python", null, null, "No Python matching " + cmd.get( 4 ) + " was found on this "
					+ "machine and uv could not download one: " + download.group( 1 ) + ". Install Python 3.10 to 3.13 "
					+ "(python.org), or give the interpreter to use (the command's Python field), then run the setup "
					+ "again." );
		return new Result( "failed", null, null, "The environment builder (" + cmd.get( 0 ) + " run ...) ended with exit "
				+ "code " + rc + " and no report:" + tail );
	}

	private interface LineSink
	{
		void line( String line );
	}

	private static void pump( final InputStream in, final LineSink sink )
	{
		try (BufferedReader r = new BufferedReader( new InputStreamReader( in, StandardCharsets.UTF_8 ) ))
		{
			String line;
			while ( ( line = r.readLine() ) != null )
				sink.line( line );
		}
		catch ( final IOException e )
		{
			// the process ended
		}
	}

	@SuppressWarnings( "unchecked" )
	private static Map< String, Object > event( final String line )
	{
		if ( !line.startsWith( "{" ) )
			return null;
		try
		{
			final Object o = SettingsTable.parse( line );
			return o instanceof Map && ( ( Map< ?, ? > ) o ).containsKey( "event" ) ? ( Map< String, Object > ) o : null;
		}
		catch ( final RuntimeException e )
		{
			return null;
		}
	}

	/** Writes the builder script from this jar to {@code <data>/builder/env_builder.py}. */
	static File extractBuilder( final File data ) throws IOException
	{
		final File dir = new File( data, "builder" );
		if ( !dir.isDirectory() && !dir.mkdirs() )
			throw new IOException( "cannot create " + dir );
		final File script = new File( dir, "env_builder.py" );
		try (InputStream in = EnvBuilder.class.getClassLoader().getResourceAsStream( BUILDER_RESOURCE ))
		{
			if ( in == null )
				throw new IOException( "this glue jar lacks " + BUILDER_RESOURCE + "; reinstall trackmate-cellpose" );
			Files.copy( in, script.toPath(), StandardCopyOption.REPLACE_EXISTING );
		}
		return script;
	}

	/**
	 * Per-user data folder of trackmate-cellpose ({@code $TRACKMATE_CELLPOSE_DATA} overrides): Linux
	 * {@code $XDG_DATA_HOME/trackmate-cellpose} ({@code ~/.local/share/...}), macOS
	 * {@code ~/Library/Application Support/trackmate-cellpose}, Windows {@code %LOCALAPPDATA%\trackmate-cellpose\Data}.
	 * The same folder as the Python side's {@code trackmate_cellpose.envs.data_dir()} (a test compares them).
	 */
	public static File dataDir()
	{
		final String set = System.getenv( "TRACKMATE_CELLPOSE_DATA" );
		if ( set != null && !set.isEmpty() )
			return new File( set ).getAbsoluteFile();
		final String os = System.getProperty( "os.name", "" ).toLowerCase( Locale.ROOT );
		final File home = new File( System.getProperty( "user.home" ) );
		if ( os.startsWith( "windows" ) )
		{
			final String local = System.getenv( "LOCALAPPDATA" );
			final File base = local != null && !local.isEmpty() ? new File( local )
					: new File( new File( home, "AppData" ), "Local" );
			return new File( new File( base, "trackmate-cellpose" ), "Data" );
		}
		if ( os.startsWith( "mac" ) )
			return new File( new File( new File( home, "Library" ), "Application Support" ), "trackmate-cellpose" );
		final String xdg = System.getenv( "XDG_DATA_HOME" );
		final File base = xdg != null && !xdg.isEmpty() ? new File( xdg ) : new File( new File( home, ".local" ), "share" );
		return new File( base, "trackmate-cellpose" );
	}

	/** The trackmate-cellpose version of this glue (its jar's manifest). */
	static String version() throws IOException
	{
		try
		{
			final File jar = new File( EnvBuilder.class.getProtectionDomain().getCodeSource().getLocation().toURI() );
			if ( jar.isFile() )
				try (JarFile j = new JarFile( jar ))
				{
					final String v = j.getManifest() == null ? null
							: j.getManifest().getMainAttributes().getValue( "TrackMate-Cellpose-Version" );
					if ( v != null )
						return v;
				}
		}
		catch ( final URISyntaxException | SecurityException | NullPointerException e )
		{
			// no code source: said below
		}
		throw new IOException( "cannot tell this glue's trackmate-cellpose version (no TrackMate-Cellpose-Version in "
				+ "its jar's manifest); reinstall trackmate-cellpose" );
	}

	/**
	 * Records {@code python} (and {@code env}) in {@code <Fiji>/config/trackmate-cellpose.json} of this Fiji, keeping
	 * the file's other entries; returns what was done.
	 */
	static String record( final String python, final String env ) throws IOException
	{
		File fiji = null;
		for ( final File f : WorkerPython.fijiDirs() )
			if ( fiji == null && new File( f, "jars" ).isDirectory() )
				fiji = f;
		if ( fiji == null )
			return "This Fiji's folder is unknown: set PYTHON_EXECUTABLE to " + python + " in the detector settings.";
		final File configDir = new File( fiji, "config" );
		final File cfg = new File( configDir, WorkerPython.CONFIG_NAME );
		final Map< String, Object > doc = new LinkedHashMap<>();
		if ( cfg.isFile() )
		{
			try
			{
				final Object old = SettingsTable.parse( new String( Files.readAllBytes( cfg.toPath() ), StandardCharsets.UTF_8 ) );
				if ( old instanceof Map )
					for ( final Map.Entry< ?, ? > e : ( ( Map< ?, ? > ) old ).entrySet() )
						doc.put( String.valueOf( e.getKey() ), e.getValue() );
			}
			catch ( final RuntimeException e )
			{
				// malformed: replaced
			}
		}
		else if ( !configDir.isDirectory() )
		{
			if ( !configDir.mkdirs() )
				throw new IOException( "cannot create " + configDir + ": set PYTHON_EXECUTABLE to " + python
						+ " in the detector settings instead" );
			doc.put( "created_config_dir", Boolean.TRUE );
		}
		doc.put( "python", python );
		doc.put( "env", env );
		final File tmp = new File( configDir, "." + WorkerPython.CONFIG_NAME + ".tmp" );
		Files.write( tmp.toPath(), ( toJson( doc ) + "\n" ).getBytes( StandardCharsets.UTF_8 ) );
		Files.move( tmp.toPath(), cfg.toPath(), StandardCopyOption.REPLACE_EXISTING );
		return "Recorded the Python " + python + " in " + cfg + ": the detector's worker uses it from now on.";
	}

	/** JSON of a flat map of strings, booleans, numbers and nulls (what the config holds). */
	static String toJson( final Map< String, Object > m )
	{
		final StringBuilder s = new StringBuilder( "{" );
		for ( final Map.Entry< String, Object > e : m.entrySet() )
		{
			if ( s.length() > 1 )
				s.append( ", " );
			s.append( quote( e.getKey() ) ).append( ": " );
			final Object v = e.getValue();
			s.append( v == null || v instanceof Boolean || v instanceof Number ? String.valueOf( v ) : quote( v.toString() ) );
		}
		return s.append( '}' ).toString();
	}

	private static String quote( final String v )
	{
		final StringBuilder s = new StringBuilder( "\"" );
		for ( final char c : v.toCharArray() )
		{
			if ( c == '"' || c == '\\' )
				s.append( '\\' ).append( c );
			else if ( c < 0x20 || c > 0x7e )
				s.append( String.format( "\\u%04x", ( int ) c ) );
			else
				s.append( c );
		}
		return s.append( '"' ).toString();
	}
}
