package trackmatecellpose.loader;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.scijava.log.LogService;
import org.scijava.plugin.Plugin;
import org.scijava.plugin.PluginInfo;
import org.scijava.plugin.PluginService;
import org.scijava.service.AbstractService;
import org.scijava.service.SciJavaService;
import org.scijava.service.Service;

/**
 * The one class of trackmate-cellpose that an update site puts on Fiji's class path ({@code jars/}). One site serves
 * every Fiji, but the detector's glue differs per TrackMate line, so the site installs the glue of every line OUTSIDE
 * the class path ({@code lib/trackmate-cellpose/trackmate-cellpose-glue-<line>.jar}, the same jars
 * {@code trackmate-cellpose install-fiji} copies) and this SciJava service, created with Fiji's context, loads the one
 * jar that links on the running TrackMate and registers the plugins of that jar's own plugin index (the detector
 * factory, and any other plugin of the glue) with the plugin service. The other
 * lines' classes are never loaded, so no line logs an error from them.
 * <p>
 * It steps aside when a glue is already on the class path ({@code install-fiji}'s jar, or the jar
 * {@code trackmate-cellpose fiji} adds), and in a Fiji without TrackMate. Needs only the JDK and SciJava: it names
 * TrackMate's classes as strings, never links to them.
 */
@Plugin( type = Service.class )
public class GlueLoader extends AbstractService implements SciJavaService
{
	/** Folder of the line jars and the Python code, relative to the Fiji folder. */
	public static final String SITE_DIR = "lib/trackmate-cellpose";

	/** The glue's detector factory (the same class name in every line's jar). */
	static final String FACTORY = "trackmatecellpose.glue.CellposePyDetectorFactory";

	private static volatile ClassLoader glueLoader;

	private static volatile String activeLine;

	private static volatile File activeJar;

	/**
	 * The class loader of the glue this service loaded, or {@code null} when it loaded none (a glue on the class
	 * path, no TrackMate, or a failure). In-process Python (JPype) looks the glue's classes up through it.
	 */
	public static ClassLoader glueClassLoader()
	{
		return glueLoader;
	}

	/** The TrackMate line whose glue this service loaded ({@code tm7}, {@code tm8}, {@code tm9}), or {@code null}. */
	public static String line()
	{
		return activeLine;
	}

	/** The glue jar this service loaded, or {@code null}. */
	public static File jar()
	{
		return activeJar;
	}

	@Override
	public void initialize()
	{
		final ClassLoader parent = GlueLoader.class.getClassLoader();
		if ( parent.getResource( FACTORY.replace( '.', '/' ) + ".class" ) != null )
			return; // a glue on the class path (install-fiji, trackmate-cellpose fiji) registers itself
		final String line = lineOf( parent );
		if ( line == null )
			return; // no TrackMate in this Fiji: nothing to add
		final File jar = new File( siteDir(), "trackmate-cellpose-glue-" + line + ".jar" );
		if ( !jar.isFile() )
		{
			log( "trackmate-cellpose: " + jar + " is missing, so TrackMate will not list the Cellpose advanced "
					+ "(Python) detector; update Fiji (Help > Update...) to restore the trackmate-cellpose update "
					+ "site's files.", null );
			return;
		}
		try
		{
			final URLClassLoader loader = new URLClassLoader( new URL[] { jar.toURI().toURL() }, parent );
			final PluginService plugins = getContext().getService( PluginService.class );
			final List< String > classes = indexedClasses( loader );
			if ( !classes.contains( FACTORY ) )
				throw new ClassNotFoundException( FACTORY + " is not in the plugin index of " + jar );
			for ( final String name : classes ) // the detector factory, and any other plugin of the glue
			{
				final Class< ? > c = Class.forName( name, false, loader );
				final Plugin annotation = c.getAnnotation( Plugin.class );
				@SuppressWarnings( { "rawtypes", "unchecked" } )
				final PluginInfo< ? > info = new PluginInfo( name, annotation.type(), annotation, loader );
				plugins.addPlugin( info );
			}
			glueLoader = loader;
			activeLine = line;
			activeJar = jar;
		}
		catch ( final IOException | ClassNotFoundException | LinkageError | RuntimeException e )
		{
			log( "trackmate-cellpose: cannot load " + jar + " for TrackMate's " + line + " line: " + e, e );
		}
	}

	/**
	 * The classes listed in the SciJava plugin index of the glue jar itself ({@code findResource}: not the parent's).
	 */
	static List< String > indexedClasses( final URLClassLoader loader ) throws IOException
	{
		final URL index = loader.findResource( "META-INF/json/org.scijava.plugin.Plugin" );
		final List< String > out = new ArrayList<>();
		if ( index == null )
			return out;
		final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
		try (InputStream in = index.openStream())
		{
			final byte[] buf = new byte[ 8192 ];
			for ( int n; ( n = in.read( buf ) ) > 0; )
				bytes.write( buf, 0, n );
		}
		final Matcher m = Pattern.compile( "\"class\"\\s*:\\s*\"([^\"]+)\"" )
				.matcher( new String( bytes.toByteArray(), StandardCharsets.UTF_8 ) );
		while ( m.find() )
			out.add( m.group( 1 ) );
		return out;
	}

	/**
	 * TrackMate's API line as the classes of its jar show it (the rule of the Python side's
	 * {@code trackmate_line_of_jar}): {@code tm9} with {@code SpotMesh} or {@code SpotBase}, {@code tm8} with
	 * {@code TrackMateFactoryBase}, {@code tm7} with {@code Spot} alone; {@code null} without TrackMate.
	 */
	static String lineOf( final ClassLoader cl )
	{
		final String p = "fiji/plugin/trackmate/";
		if ( cl.getResource( p + "Spot.class" ) == null )
			return null;
		if ( cl.getResource( p + "SpotMesh.class" ) != null || cl.getResource( p + "SpotBase.class" ) != null )
			return "tm9";
		if ( cl.getResource( p + "TrackMateFactoryBase.class" ) != null )
			return "tm8";
		return "tm7";
	}

	/**
	 * {@code <Fiji>/lib/trackmate-cellpose}: the Fiji folder is the one above the {@code jars/} holding this class
	 * (where the update site put both), else the {@code imagej.dir} / {@code ij.dir} system property.
	 */
	static File siteDir()
	{
		try
		{
			final File self = new File( GlueLoader.class.getProtectionDomain().getCodeSource().getLocation().toURI() );
			final File jars = self.getParentFile();
			if ( self.isFile() && jars != null && jars.getParentFile() != null )
			{
				final File dir = new File( jars.getParentFile(), SITE_DIR );
				if ( dir.isDirectory() )
					return dir;
			}
		}
		catch ( final URISyntaxException | SecurityException | NullPointerException e )
		{
			// no code source: the properties must do
		}
		for ( final String p : new String[] { "imagej.dir", "ij.dir" } )
		{
			final String v = System.getProperty( p );
			if ( v != null && !v.isEmpty() )
				return new File( v, SITE_DIR );
		}
		return new File( SITE_DIR );
	}

	private void log( final String message, final Throwable t )
	{
		final LogService log = getContext() == null ? null : getContext().getService( LogService.class );
		if ( log == null )
			System.err.println( message );
		else if ( t == null )
			log.warn( message );
		else
			log.error( message, t );
	}
}
