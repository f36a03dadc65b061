package trackmatecellpose.glue;

import java.io.File;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Which Python runs the worker of a classic launch, and which code it runs (the one place that decides both):
 * <ul>
 * <li>the executable: the detector setting {@code PYTHON_EXECUTABLE} when the user set one, else the {@code "python"}
 * recorded in {@code <Fiji>/config/trackmate-cellpose.json} (by {@code trackmate-cellpose install-fiji}, or by the
 * environment the detector builds);</li>
 * <li>the code: when this glue came from the update site, the site's {@code trackmate-cellpose-python.zip} beside
 * its jar ({@link #privateCode()}) goes first on the worker's {@code PYTHONPATH}, so the worker runs the Python code of
 * this jar's version and the Python needs only cellpose; otherwise (install-fiji) the Python's own
 * trackmate-cellpose.</li>
 * </ul>
 * JDK only (the JSON is read by {@link SettingsTable#parse(String)}, which needs nothing but the JDK).
 */
public final class WorkerPython
{
	/** Name of the file install-fiji writes into {@code <Fiji>/config/}. */
	public static final String CONFIG_NAME = "trackmate-cellpose.json";

	/** The update site's Python code, beside the glue jar ({@code lib/trackmate-cellpose/} of the Fiji). */
	public static final String PYTHON_CODE = "trackmate-cellpose-python.zip";

	// The worker classes (WorkerPython, WorkerProcess, CellposePyWorker) need only the JDK, so they do not link to
	// CellposePyKeys (which needs jdom2): these equal CellposePyKeys' constants (tests/integration/test_bridge_glue.py).

	/** The detector setting naming the worker's Python (== {@code KEY_PYTHON_EXECUTABLE}). */
	static final String KEY_PYTHON_EXECUTABLE = "PYTHON_EXECUTABLE";

	/** == {@code CellposePyKeys.KEY_USE_GPU}. */
	static final String KEY_USE_GPU = "USE_GPU";

	/** == {@code DETECTOR_NAME}. */
	static final String DETECTOR_NAME = "Cellpose advanced (Python)";

	private WorkerPython()
	{}

	/** A Python executable could not be determined; the message says what to do. */
	public static final class NotFound extends Exception
	{
		private static final long serialVersionUID = 1L;

		NotFound( final String message )
		{
			super( message );
		}
	}

	/**
	 * The Python executable for these detector settings.
	 *
	 * @throws NotFound
	 *             no setting, and no Fiji config recording a Python (message: what to run).
	 */
	public static String executable( final Map< String, Object > settings ) throws NotFound
	{
		final Object set = settings == null ? null : settings.get( KEY_PYTHON_EXECUTABLE );
		if ( set instanceof String && !( ( String ) set ).trim().isEmpty() )
			return ( ( String ) set ).trim();
		final List< File > searched = new ArrayList<>();
		for ( final File fiji : fijiDirs() )
		{
			final File cfg = new File( new File( fiji, "config" ), CONFIG_NAME );
			searched.add( cfg );
			if ( !cfg.isFile() )
				continue;
			try
			{
				final String python = parsePython( new String( Files.readAllBytes( cfg.toPath() ), StandardCharsets.UTF_8 ) );
				if ( python != null && !python.isEmpty() )
					return python;
			}
			catch ( final IOException | RuntimeException e )
			{
				// unreadable or malformed: try the next place, then say what was searched
			}
		}
		final String setUp = "Set one up from Fiji: " + EnvBuilder.MENU + " (the detector panel's button; in a "
				+ "headless script the command " + EnvBuilder.COMMAND + "), or set " + KEY_PYTHON_EXECUTABLE;
		if ( privateCode() != null ) // the update site's glue: the Python code comes with it, the user brings cellpose
			throw new NotFound( "No Python for the " + DETECTOR_NAME + " detector. " + setUp + " (\"Python (worker)\" "
					+ "in the detector's panel) to the Python executable of an environment that has cellpose (3 or 4); "
					+ "nothing else needs installing there." );
		throw new NotFound( "No Python for the " + DETECTOR_NAME + " detector: this Fiji runs no Python "
				+ "itself and " + ( searched.isEmpty() ? "its folder is unknown" : "no Python is recorded in " + searched )
				+ ". " + setUp + " in the detector settings to a Python that has cellpose, or run 'trackmate-cellpose "
				+ "install-fiji --fiji <this Fiji.app>' from a Python environment that has trackmate-cellpose and "
				+ "cellpose." );
	}

	/**
	 * The update site's Python code (a zip Python imports from) beside the jar this class was loaded from, or
	 * {@code null} when there is none (the glue of install-fiji or of {@code trackmate-cellpose fiji}). The system
	 * property {@code trackmate.cellpose.pythonCode} names another one (an empty value: none).
	 */
	public static File privateCode()
	{
		final String set = System.getProperty( "trackmate.cellpose.pythonCode" );
		if ( set != null )
			return set.isEmpty() ? null : new File( set ).getAbsoluteFile();
		final File jar = glueJar();
		final File zip = jar == null ? null : new File( jar.getParentFile(), PYTHON_CODE );
		return zip != null && zip.isFile() ? zip : null;
	}

	/**
	 * The worker's environment: {@link #privateCode()} first on {@code PYTHONPATH} (before anything the user set
	 * there, so a trackmate-cellpose of another version in that Python is not the one that runs).
	 */
	static void configure( final Map< String, String > environment )
	{
		final File code = privateCode();
		if ( code == null )
			return;
		final String before = environment.get( "PYTHONPATH" );
		environment.put( "PYTHONPATH", code.getPath()
				+ ( before == null || before.isEmpty() ? "" : File.pathSeparator + before ) );
	}

	private static File glueJar()
	{
		try
		{
			final File jar = new File( WorkerPython.class.getProtectionDomain().getCodeSource().getLocation().toURI() );
			return jar.isFile() ? jar : null;
		}
		catch ( final URISyntaxException | SecurityException | NullPointerException | IllegalArgumentException e )
		{
			return null; // no code source (e.g. a custom class loader)
		}
	}

	/**
	 * Candidate Fiji folders, best first: the {@code imagej.dir}, {@code ij.dir} and {@code plugins.dir} system
	 * properties (set by Fiji's launchers), then the Fiji holding the jar of this class ({@code jars/} of install-fiji,
	 * {@code lib/trackmate-cellpose/} of the update site).
	 */
	static List< File > fijiDirs()
	{
		final List< File > out = new ArrayList<>();
		for ( final String p : new String[] { "imagej.dir", "ij.dir", "plugins.dir" } )
		{
			final String v = System.getProperty( p );
			if ( v != null && !v.isEmpty() )
				add( out, new File( v ) );
		}
		final File jar = glueJar();
		File dir = jar == null ? null : jar.getParentFile();
		if ( dir != null && dir.getName().equals( "trackmate-cellpose" ) && dir.getParentFile() != null )
			dir = dir.getParentFile(); // lib/trackmate-cellpose -> lib
		if ( dir != null && dir.getParentFile() != null )
			add( out, dir.getParentFile() );
		return out;
	}

	private static void add( final List< File > list, final File f )
	{
		final File abs = f.getAbsoluteFile();
		if ( !list.contains( abs ) )
			list.add( abs );
	}

	/**
	 * The {@code "python"} string of install-fiji's JSON (read with {@link SettingsTable#parse(String)}, the glue's one
	 * JSON reader); {@code null} when absent. Malformed JSON throws {@link IllegalArgumentException}.
	 */
	static String parsePython( final String json )
	{
		final Object doc = SettingsTable.parse( json );
		final Object python = doc instanceof Map ? ( ( Map< ?, ? > ) doc ).get( "python" ) : null;
		return python instanceof String ? ( String ) python : null;
	}
}
