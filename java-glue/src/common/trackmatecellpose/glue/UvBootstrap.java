package trackmatecellpose.glue;

import java.io.File;
import java.io.FileNotFoundException;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.HttpURLConnection;
import java.net.MalformedURLException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.net.URLConnection;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * The one download the glue does by itself: the uv executable, from uv's wheel on the package index (PyPI by default;
 * the simple repository API, PEP 503, so a mirror or a local {@code file:} index works too), checked against the
 * index's sha256, unpacked into {@code <data>/uv/<version>/}. Everything else (a Python interpreter, torch, cellpose)
 * is fetched by uv, driven by the environment builder ({@link EnvBuilder}). JDK only.
 */
final class UvBootstrap
{
	/** uv versions used: from 0.8 (its {@code --torch-backend}) up to, not including, 1.0. */
	static final int[] MIN_VERSION = { 0, 8, 0 };

	static final int[] BELOW_VERSION = { 1, 0, 0 };

	private static final Pattern ANCHOR = Pattern.compile( "<a\\s([^>]*)>([^<]+)</a>", Pattern.CASE_INSENSITIVE );

	private static final Pattern HREF = Pattern.compile( "href=\"([^\"]+)\"", Pattern.CASE_INSENSITIVE );

	private static final Pattern WHEEL = Pattern.compile( "uv-([0-9]+(?:\\.[0-9]+)*)-py3-none-(.+)\\.whl" );

	private UvBootstrap()
	{}

	/** The package index cannot be reached; the message names the URL and what to do. */
	static final class IndexUnreachable extends IOException
	{
		private static final long serialVersionUID = 1L;

		IndexUnreachable( final String message, final Throwable cause )
		{
			super( message, cause );
		}
	}

	/** File name of the uv executable on this platform. */
	static String exeName()
	{
		return isWindows() ? "uv.exe" : "uv";
	}

	private static boolean isWindows()
	{
		return System.getProperty( "os.name", "" ).toLowerCase( Locale.ROOT ).startsWith( "windows" );
	}

	/**
	 * The uv to use: {@code $TRACKMATE_CELLPOSE_UV} (or the system property {@code trackmate.cellpose.uv}), else the
	 * newest fetched copy under {@code <data>/uv/}, else a new copy fetched from {@code index}.
	 */
	static File find( final File data, final String index, final EnvBuilder.Listener listener ) throws IOException
	{
		String set = System.getProperty( "trackmate.cellpose.uv" );
		if ( set == null || set.isEmpty() )
			set = System.getenv( "TRACKMATE_CELLPOSE_UV" );
		if ( set != null && !set.isEmpty() )
			return new File( set );
		final File fetched = newestFetched( new File( data, "uv" ) );
		if ( fetched != null )
			return fetched;
		return fetch( data, index, listener );
	}

	private static File newestFetched( final File root )
	{
		final File[] dirs = root.listFiles();
		File best = null;
		int[] bestVersion = null;
		if ( dirs == null )
			return null;
		for ( final File d : dirs )
		{
			final File exe = new File( d, exeName() );
			final int[] v = parseVersion( d.getName() );
			if ( v != null && exe.isFile() && inRange( v ) && ( bestVersion == null || compare( v, bestVersion ) > 0 ) )
			{
				best = exe;
				bestVersion = v;
			}
		}
		return best;
	}

	/** A wheel of uv on the index: its URL, name, version and sha256 (may be null). */
	static final class Wheel
	{
		final URL url;

		final String name;

		final int[] version;

		final String sha256;

		Wheel( final URL url, final String name, final int[] version, final String sha256 )
		{
			this.url = url;
			this.name = name;
			this.version = version;
			this.sha256 = sha256;
		}
	}

	/** Downloads uv's wheel for this platform from {@code index} and unpacks its executable. */
	static File fetch( final File data, final String index, final EnvBuilder.Listener listener ) throws IOException
	{
		final String base = index.endsWith( "/" ) ? index : index + "/";
		final URL page = url( base + "uv/" );
		listener.progress( 0.01, "Fetching uv (the installer) from " + base );
		final Wheel wheel = choose( links( page ), platformTags() );
		if ( wheel == null )
			throw new IOException( "The package index " + base + " has no uv wheel " + versionRange()
					+ " for this platform (" + System.getProperty( "os.name" ) + ", " + System.getProperty( "os.arch" )
					+ "); set TRACKMATE_CELLPOSE_UV to a uv executable instead" );
		final File dir = new File( new File( data, "uv" ), join( wheel.version ) );
		if ( !dir.isDirectory() && !dir.mkdirs() )
			throw new IOException( "cannot create " + dir );
		final File whl = new File( dir, wheel.name + ".part" );
		try
		{
			download( wheel, whl, listener );
			final File exe = new File( dir, exeName() );
			unpack( whl, exe );
			listener.log( "uv " + join( wheel.version ) + " fetched into " + exe );
			return exe;
		}
		finally
		{
			whl.delete();
		}
	}

	static String versionRange()
	{
		return ">= " + join( MIN_VERSION ) + ", < " + join( BELOW_VERSION );
	}

	private static URL url( final String s ) throws IOException
	{
		try
		{
			return new URI( s ).toURL();
		}
		catch ( final URISyntaxException | MalformedURLException | IllegalArgumentException e )
		{
			throw new IOException( "the package index URL '" + s + "' is not a URL (" + e.getMessage()
					+ "); expected e.g. https://pypi.org/simple", e );
		}
	}

	/** Opens a URL; a {@code file:} folder reads its index.html (a local simple index). */
	private static InputStream open( final URL url ) throws IOException
	{
		try
		{
			if ( "file".equals( url.getProtocol() ) )
			{
				final File f = new File( url.toURI() );
				return Files.newInputStream( ( f.isDirectory() ? new File( f, "index.html" ) : f ).toPath() );
			}
			final URLConnection c = url.openConnection();
			c.setConnectTimeout( 20000 );
			c.setReadTimeout( 60000 );
			c.setRequestProperty( "Accept", "text/html" );
			c.setRequestProperty( "User-Agent", "trackmate-cellpose" );
			if ( c instanceof HttpURLConnection )
			{
				final int code = ( ( HttpURLConnection ) c ).getResponseCode();
				if ( code >= 400 )
					throw new IOException( "HTTP " + code + " from " + url );
			}
			return c.getInputStream();
		}
		catch ( final UnknownHostException | ConnectException | NoRouteToHostException | SocketTimeoutException e )
		{
			throw unreachable( url, e );
		}
		catch ( final FileNotFoundException | java.nio.file.NoSuchFileException e )
		{
			throw new IOException( "not found: " + url, e );
		}
		catch ( final URISyntaxException e )
		{
			throw new IOException( "not a file URL: " + url, e );
		}
	}

	static IndexUnreachable unreachable( final URL url, final IOException e )
	{
		return new IndexUnreachable( "The package index cannot be reached: " + url + " (" + e + "). Check the network "
				+ "connection or the proxy (Fiji: Edit > Options > Proxy Settings), or give a reachable index URL, "
				+ "then run the setup again.", e );
	}

	/** Links of a simple-index page: (absolute URL, text) pairs; yanked files are left out. */
	static List< String[] > links( final URL page ) throws IOException
	{
		final String html;
		try (InputStream in = open( page ))
		{
			html = new String( readAll( in ), StandardCharsets.UTF_8 );
		}
		final List< String[] > out = new ArrayList<>();
		final Matcher m = ANCHOR.matcher( html );
		while ( m.find() )
		{
			final Matcher h = HREF.matcher( m.group( 1 ) );
			if ( !h.find() || m.group( 1 ).contains( "data-yanked" ) )
				continue;
			final String href = h.group( 1 ).replace( "&amp;", "&" );
			try
			{
				out.add( new String[] { page.toURI().resolve( href ).toString(), m.group( 2 ).trim() } );
			}
			catch ( final URISyntaxException | IllegalArgumentException e )
			{
				// an unparsable link: not one of uv's wheels
			}
		}
		return out;
	}

	/** Platform-tag fragments a wheel for this machine has (all of them must appear in its tag). */
	static String[] platformTags()
	{
		final String os = System.getProperty( "os.name", "" ).toLowerCase( Locale.ROOT );
		final String arch = System.getProperty( "os.arch", "" ).toLowerCase( Locale.ROOT );
		final boolean arm = arch.equals( "aarch64" ) || arch.equals( "arm64" );
		final boolean x64 = arch.equals( "amd64" ) || arch.equals( "x86_64" );
		if ( os.startsWith( "windows" ) )
			return new String[] { arm ? "win_arm64" : x64 ? "win_amd64" : "win32" };
		if ( os.startsWith( "mac" ) )
			return new String[] { "macosx", arm ? "arm64" : "x86_64" };
		return new String[] { "manylinux", arm ? "aarch64" : x64 ? "x86_64" : arch };
	}

	/** The newest non-pre-release wheel in range whose platform tag holds all of {@code tags}; null if none. */
	static Wheel choose( final List< String[] > links, final String[] tags ) throws IOException
	{
		Wheel best = null;
		for ( final String[] link : links )
		{
			final Matcher m = WHEEL.matcher( link[ 1 ] );
			if ( !m.matches() )
				continue;
			final int[] v = parseVersion( m.group( 1 ) );
			boolean fits = v != null && inRange( v );
			for ( final String t : tags )
				fits &= m.group( 2 ).contains( t );
			if ( !fits || best != null && compare( v, best.version ) <= 0 )
				continue;
			final int hash = link[ 0 ].indexOf( "#sha256=" );
			final String sha = hash < 0 ? null : link[ 0 ].substring( hash + 8 );
			best = new Wheel( url( hash < 0 ? link[ 0 ] : link[ 0 ].substring( 0, hash ) ), link[ 1 ], v, sha );
		}
		return best;
	}

	private static void download( final Wheel wheel, final File to, final EnvBuilder.Listener listener )
			throws IOException
	{
		final MessageDigest sha;
		try
		{
			sha = MessageDigest.getInstance( "SHA-256" );
		}
		catch ( final NoSuchAlgorithmException e )
		{
			throw new IOException( e );
		}
		long total = 0;
		try (InputStream in = open( wheel.url ); OutputStream out = new FileOutputStream( to ))
		{
			final byte[] buf = new byte[ 1 << 16 ];
			long reported = 0;
			int n;
			while ( ( n = in.read( buf ) ) > 0 )
			{
				out.write( buf, 0, n );
				sha.update( buf, 0, n );
				total += n;
				if ( total - reported >= 4 << 20 )
				{
					listener.log( String.format( "uv: %.0f MB downloaded", total / 1e6 ) );
					reported = total;
				}
			}
		}
		catch ( final IndexUnreachable e )
		{
			throw e;
		}
		catch ( final IOException e )
		{
			throw unreachable( wheel.url, e );
		}
		final String got = hex( sha.digest() );
		if ( wheel.sha256 != null && !wheel.sha256.equalsIgnoreCase( got ) )
			throw new IOException( "uv's wheel from " + wheel.url + " has sha256 " + got + ", the index says "
					+ wheel.sha256 + ": not used (a broken download or proxy); run the setup again" );
	}

	/** Unpacks the executable ({@code *.data/scripts/uv[.exe]}) of the wheel {@code whl} to {@code exe}. */
	static void unpack( final File whl, final File exe ) throws IOException
	{
		try (ZipFile z = new ZipFile( whl ))
		{
			final Enumeration< ? extends ZipEntry > entries = z.entries();
			while ( entries.hasMoreElements() )
			{
				final ZipEntry e = entries.nextElement();
				if ( !e.getName().endsWith( ".data/scripts/" + exeName() ) )
					continue;
				final File tmp = new File( exe.getPath() + ".tmp" );
				try (InputStream in = z.getInputStream( e ))
				{
					Files.copy( in, tmp.toPath(), StandardCopyOption.REPLACE_EXISTING );
				}
				if ( !tmp.setExecutable( true, false ) && !isWindows() )
					throw new IOException( "cannot make " + tmp + " executable" );
				Files.move( tmp.toPath(), exe.toPath(), StandardCopyOption.REPLACE_EXISTING,
						StandardCopyOption.ATOMIC_MOVE );
				return;
			}
		}
		throw new IOException( whl + " holds no " + exeName() + " executable" );
	}

	static int[] parseVersion( final String s )
	{
		final String[] parts = s.split( "\\." );
		final int[] v = new int[ 3 ];
		if ( parts.length == 0 || parts.length > 4 )
			return null;
		try
		{
			for ( int i = 0; i < Math.min( 3, parts.length ); i++ )
				v[ i ] = Integer.parseInt( parts[ i ] );
		}
		catch ( final NumberFormatException e )
		{
			return null; // a pre-release (0.9.0a1) or not a version
		}
		return v;
	}

	static boolean inRange( final int[] v )
	{
		return compare( v, MIN_VERSION ) >= 0 && compare( v, BELOW_VERSION ) < 0;
	}

	static int compare( final int[] a, final int[] b )
	{
		for ( int i = 0; i < 3; i++ )
			if ( a[ i ] != b[ i ] )
				return Integer.compare( a[ i ], b[ i ] );
		return 0;
	}

	static String join( final int[] v )
	{
		return v[ 0 ] + "." + v[ 1 ] + "." + v[ 2 ];
	}

	static byte[] readAll( final InputStream in ) throws IOException
	{
		final java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
		final byte[] buf = new byte[ 1 << 14 ];
		int n;
		while ( ( n = in.read( buf ) ) > 0 )
			out.write( buf, 0, n );
		return out.toByteArray();
	}

	private static String hex( final byte[] b )
	{
		final StringBuilder s = new StringBuilder();
		for ( final byte x : b )
			s.append( String.format( "%02x", x & 0xff ) );
		return s.toString();
	}
}
