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
 * Which Python executable runs the worker of a classic launch: the detector setting {@code PYTHON_EXECUTABLE} when the
 * user set one, else the {@code "python"} that {@code trackmate-cellpose install-fiji} recorded in
 * {@code <Fiji>/config/trackmate-cellpose.json}. JDK only (the JSON is read by {@link SettingsTable#parse(String)},
 * which needs nothing but the JDK).
 */
public final class WorkerPython
{
	/** Name of the file install-fiji writes into {@code <Fiji>/config/}. */
	public static final String CONFIG_NAME = "trackmate-cellpose.json";

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
		throw new NotFound( "No Python for the " + DETECTOR_NAME + " detector: this Fiji runs no Python "
				+ "itself and " + ( searched.isEmpty() ? "its folder is unknown" : "no Python is recorded in " + searched )
				+ ". Run 'trackmate-cellpose install-fiji --fiji <this Fiji.app>' from the Python environment that has "
				+ "trackmate-cellpose and cellpose, or set " + KEY_PYTHON_EXECUTABLE
				+ " in the detector settings to that Python." );
	}

	/**
	 * Candidate Fiji folders, best first: the {@code imagej.dir}, {@code ij.dir} and {@code plugins.dir} system
	 * properties (set by Fiji's launchers), then the folder above the {@code jars/} holding this class.
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
		try
		{
			final File jar = new File( WorkerPython.class.getProtectionDomain().getCodeSource().getLocation().toURI() );
			final File parent = jar.getParentFile();
			if ( jar.isFile() && parent != null && parent.getParentFile() != null )
				add( out, parent.getParentFile() );
		}
		catch ( final URISyntaxException | SecurityException | NullPointerException e )
		{
			// no code source (e.g. a custom class loader): the properties must do
		}
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
