package trackmatecellpose.glue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The detector's settings table, read from {@value #RESOURCE} (generated into the jar at build time from the Python
 * table, {@code trackmate_cellpose.settings}: the only definition). Key, type, default, label, unit, range, description
 * and panel editor of every setting; the aliases of renamed keys; the built-in models per cellpose version. JDK only:
 * a minimal JSON reader for this one document.
 */
public final class SettingsTable
{
	/** Resource name, next to this class in the jar. */
	public static final String RESOURCE = "detector-settings.json";

	/** One setting (one row of the Python table). */
	public static final class Row
	{
		public final String key;

		/** "str", "int", "float" or "bool". */
		public final String type;

		/** Default value (String, Integer, Double or Boolean); {@code null} when it follows the installed cellpose. */
		public final Object defaultValue;

		public final String label;

		public final String unit;

		/** Range as text, derived from {@link #lo}/{@link #hi} for numbers. */
		public final String range;

		public final String doc;

		/** Bounds (inclusive), or {@code null}. */
		public final Double lo, hi;

		/** A string that must not be empty (after trimming). */
		public final boolean nonEmpty;

		/** Only shown for 3D images. */
		public final boolean only3D;

		/** "model", "file", "text", "check" or "number". */
		public final String editor;

		Row( final Map< String, Object > m )
		{
			key = ( String ) m.get( "key" );
			type = ( String ) m.get( "type" );
			label = ( String ) m.get( "label" );
			unit = ( String ) m.get( "unit" );
			range = ( String ) m.get( "range" );
			doc = ( String ) m.get( "doc" );
			lo = toDouble( m.get( "lo" ) );
			hi = toDouble( m.get( "hi" ) );
			nonEmpty = Boolean.TRUE.equals( m.get( "nonempty" ) );
			only3D = Boolean.TRUE.equals( m.get( "only_3d" ) );
			editor = ( String ) m.get( "editor" );
			defaultValue = typed( m.get( "default" ) );
		}

		/** {@code v} (a JSON value) as this row's Java type, or {@code null}. */
		Object typed( final Object v )
		{
			if ( v == null )
				return null;
			switch ( type )
			{
			case "int":
				return Integer.valueOf( ( ( Number ) v ).intValue() );
			case "float":
				return Double.valueOf( ( ( Number ) v ).doubleValue() );
			case "bool":
				return ( Boolean ) v;
			default:
				return ( String ) v;
			}
		}
	}

	private static volatile SettingsTable table;

	/** Rows in the Python table's order. */
	public final List< Row > rows;

	/**
	 * Options of TrackMate's action "Retrain cellpose on these spots" (Python's
	 * {@code trackmate_cellpose.training.action_options_table}), in the same row format; empty in an older table.
	 */
	public final List< Row > training;

	/** Old or peer key -> current key ({@code null}: accepted but not used). */
	public final Map< String, String > aliases;

	/** Default built-in model per cellpose major version ("3" -> "cyto3"). */
	public final Map< String, String > defaultModels;

	/** Built-in models per cellpose major version. */
	public final Map< String, List< String > > builtinModels;

	/** The model Python uses when no cellpose is installed (Java's default until a Python side registers). */
	public final String fallbackModel;

	@SuppressWarnings( "unchecked" )
	SettingsTable( final Map< String, Object > doc )
	{
		final List< Row > r = new ArrayList<>();
		for ( final Object o : ( List< Object > ) doc.get( "settings" ) )
			r.add( new Row( ( Map< String, Object > ) o ) );
		rows = Collections.unmodifiableList( r );
		final List< Row > t = new ArrayList<>();
		final Object trainingRows = doc.get( "training" );
		if ( trainingRows instanceof List )
			for ( final Object o : ( List< Object > ) trainingRows )
				t.add( new Row( ( Map< String, Object > ) o ) );
		training = Collections.unmodifiableList( t );
		final Map< String, String > a = new LinkedHashMap<>();
		for ( final Map.Entry< String, Object > e : ( ( Map< String, Object > ) doc.get( "aliases" ) ).entrySet() )
			a.put( e.getKey(), ( String ) e.getValue() );
		aliases = Collections.unmodifiableMap( a );
		final Map< String, String > d = new LinkedHashMap<>();
		for ( final Map.Entry< String, Object > e : ( ( Map< String, Object > ) doc.get( "default_models" ) ).entrySet() )
			d.put( e.getKey(), ( String ) e.getValue() );
		defaultModels = Collections.unmodifiableMap( d );
		final Map< String, List< String > > b = new LinkedHashMap<>();
		for ( final Map.Entry< String, Object > e : ( ( Map< String, Object > ) doc.get( "builtin_models" ) ).entrySet() )
		{
			final List< String > names = new ArrayList<>();
			for ( final Object n : ( List< Object > ) e.getValue() )
				names.add( ( String ) n );
			b.put( e.getKey(), Collections.unmodifiableList( names ) );
		}
		builtinModels = Collections.unmodifiableMap( b );
		fallbackModel = ( String ) doc.get( "fallback_model" );
	}

	/** The table of this jar (read once). */
	public static SettingsTable get()
	{
		SettingsTable t = table;
		if ( t == null )
		{
			synchronized ( SettingsTable.class )
			{
				t = table;
				if ( t == null )
					table = t = load();
			}
		}
		return t;
	}

	/** The row of {@code key}, or {@code null}. */
	public Row row( final String key )
	{
		for ( final Row r : rows )
			if ( r.key.equals( key ) )
				return r;
		return null;
	}

	/** Every built-in model of every cellpose version, in order, without repeats. */
	public List< String > allBuiltinModels()
	{
		final List< String > all = new ArrayList<>();
		for ( final List< String > names : builtinModels.values() )
			for ( final String n : names )
				if ( !all.contains( n ) )
					all.add( n );
		return all;
	}

	@SuppressWarnings( "unchecked" )
	private static SettingsTable load()
	{
		try (InputStream in = SettingsTable.class.getResourceAsStream( RESOURCE ))
		{
			if ( in == null )
				throw new IllegalStateException( "the glue jar lacks its settings table " + RESOURCE
						+ " (rebuild it: python scripts/tools/build_glue_jars.py or pip install -e .)" );
			final ByteArrayOutputStream buf = new ByteArrayOutputStream();
			final byte[] b = new byte[ 8192 ];
			for ( int n; ( n = in.read( b ) ) > 0; )
				buf.write( b, 0, n );
			return new SettingsTable( ( Map< String, Object > ) parse( new String( buf.toByteArray(), StandardCharsets.UTF_8 ) ) );
		}
		catch ( final IOException e )
		{
			throw new IllegalStateException( "cannot read the settings table " + RESOURCE + ": " + e, e );
		}
	}

	static Double toDouble( final Object v )
	{
		return v == null ? null : Double.valueOf( ( ( Number ) v ).doubleValue() );
	}

	// --- a minimal JSON reader (objects keep their order; numbers are Long or Double) --------------------------------

	/** Parses one JSON value (the whole text). */
	public static Object parse( final String text )
	{
		final int[] pos = { 0 };
		final Object v = value( text, pos );
		skip( text, pos );
		if ( pos[ 0 ] != text.length() )
			throw error( text, pos, "end of document" );
		return v;
	}

	private static Object value( final String s, final int[] p )
	{
		skip( s, p );
		if ( p[ 0 ] >= s.length() )
			throw error( s, p, "a value" );
		final char c = s.charAt( p[ 0 ] );
		if ( c == '{' )
		{
			final Map< String, Object > m = new LinkedHashMap<>();
			p[ 0 ]++;
			skip( s, p );
			if ( peek( s, p ) == '}' )
			{
				p[ 0 ]++;
				return m;
			}
			while ( true )
			{
				skip( s, p );
				if ( peek( s, p ) != '"' )
					throw error( s, p, "a key" );
				final String k = string( s, p );
				skip( s, p );
				expect( s, p, ':' );
				m.put( k, value( s, p ) );
				skip( s, p );
				if ( peek( s, p ) == ',' )
					p[ 0 ]++;
				else
				{
					expect( s, p, '}' );
					return m;
				}
			}
		}
		if ( c == '[' )
		{
			final List< Object > l = new ArrayList<>();
			p[ 0 ]++;
			skip( s, p );
			if ( peek( s, p ) == ']' )
			{
				p[ 0 ]++;
				return l;
			}
			while ( true )
			{
				l.add( value( s, p ) );
				skip( s, p );
				if ( peek( s, p ) == ',' )
					p[ 0 ]++;
				else
				{
					expect( s, p, ']' );
					return l;
				}
			}
		}
		if ( c == '"' )
			return string( s, p );
		if ( s.startsWith( "true", p[ 0 ] ) )
		{
			p[ 0 ] += 4;
			return Boolean.TRUE;
		}
		if ( s.startsWith( "false", p[ 0 ] ) )
		{
			p[ 0 ] += 5;
			return Boolean.FALSE;
		}
		if ( s.startsWith( "null", p[ 0 ] ) )
		{
			p[ 0 ] += 4;
			return null;
		}
		final int start = p[ 0 ];
		while ( p[ 0 ] < s.length() && "+-0123456789.eE".indexOf( s.charAt( p[ 0 ] ) ) >= 0 )
			p[ 0 ]++;
		final String num = s.substring( start, p[ 0 ] );
		try
		{
			if ( num.indexOf( '.' ) < 0 && num.indexOf( 'e' ) < 0 && num.indexOf( 'E' ) < 0 )
				return Long.valueOf( num );
			return Double.valueOf( num );
		}
		catch ( final NumberFormatException e )
		{
			p[ 0 ] = start;
			throw error( s, p, "a value" );
		}
	}

	private static String string( final String s, final int[] p )
	{
		expect( s, p, '"' );
		final StringBuilder sb = new StringBuilder();
		while ( true )
		{
			if ( p[ 0 ] >= s.length() )
				throw error( s, p, "a closing quote" );
			final char c = s.charAt( p[ 0 ]++ );
			if ( c == '"' )
				return sb.toString();
			if ( c != '\\' )
			{
				sb.append( c );
				continue;
			}
			final char e = s.charAt( p[ 0 ]++ );
			switch ( e )
			{
			case 'n':
				sb.append( '\n' );
				break;
			case 't':
				sb.append( '\t' );
				break;
			case 'r':
				sb.append( '\r' );
				break;
			case 'b':
				sb.append( '\b' );
				break;
			case 'f':
				sb.append( '\f' );
				break;
			case 'u':
				sb.append( ( char ) Integer.parseInt( s.substring( p[ 0 ], p[ 0 ] + 4 ), 16 ) );
				p[ 0 ] += 4;
				break;
			default: // " \ /
				sb.append( e );
			}
		}
	}

	private static void skip( final String s, final int[] p )
	{
		while ( p[ 0 ] < s.length() && Character.isWhitespace( s.charAt( p[ 0 ] ) ) )
			p[ 0 ]++;
	}

	private static char peek( final String s, final int[] p )
	{
		return p[ 0 ] < s.length() ? s.charAt( p[ 0 ] ) : '\0';
	}

	private static void expect( final String s, final int[] p, final char c )
	{
		if ( peek( s, p ) != c )
			throw error( s, p, "'" + c + "'" );
		p[ 0 ]++;
	}

	private static IllegalArgumentException error( final String s, final int[] p, final String what )
	{
		return new IllegalArgumentException( "settings table JSON: expected " + what + " at character " + p[ 0 ] );
	}
}
