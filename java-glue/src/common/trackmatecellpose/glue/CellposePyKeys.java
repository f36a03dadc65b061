package trackmatecellpose.glue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.jdom2.Attribute;
import org.jdom2.Element;

/**
 * Settings keys and defaults of the "Cellpose advanced (Python)" detector, and the TrackMate-style checks and XML
 * (de)serialization shared by every TrackMate API line.
 * <p>
 * Every setting's type, default, range, aliases and 3D-only flag come from the settings table generated into the jar
 * from the Python settings model ({@link SettingsTable}; {@code trackmate_cellpose.settings} is the only definition),
 * so both sides fill missing keys, accept renamed keys and reject the same values. The {@code KEY_*} constants name
 * the keys this code refers to (a test compares them with Python's {@code TRACKMATE_KEYS}). Values are only String,
 * Integer, Double or Boolean. Cross-setting rules (a CUSTOM model needs its file; the second channel differs from the
 * first) are checked by the Python side, whose message becomes TrackMate's error message.
 */
public final class CellposePyKeys
{
	public static final String DETECTOR_KEY = "CELLPOSE_ADVANCED_PY_DETECTOR";

	public static final String DETECTOR_NAME = "Cellpose advanced (Python)";

	public static final String KEY_CELLPOSE_MODEL = "CELLPOSE_MODEL";

	public static final String KEY_CELLPOSE_MODEL_FILEPATH = "CELLPOSE_MODEL_FILEPATH";

	public static final String KEY_TARGET_CHANNEL = "TARGET_CHANNEL";

	public static final String KEY_OPTIONAL_CHANNEL_2 = "OPTIONAL_CHANNEL_2";

	public static final String KEY_CELL_DIAMETER = "CELL_DIAMETER";

	public static final String KEY_USE_GPU = "USE_GPU";

	public static final String KEY_SIMPLIFY_CONTOURS = "SIMPLIFY_CONTOURS";

	public static final String KEY_CELL_PROB_THRESHOLD = "CELL_PROB_THRESHOLD";

	public static final String KEY_FLOW_THRESHOLD = "FLOW_THRESHOLD";

	public static final String KEY_RESAMPLE = "RESAMPLE";

	public static final String KEY_DO2DZ = "DO2DZ";

	public static final String KEY_IOUTHRESHOLD = "IOUTHRESHOLD";

	public static final String KEY_CELL_MIN_SIZE = "CELL_MIN_SIZE";

	public static final String KEY_SMOOTHING_SCALE = "SMOOTHING_SCALE";

	public static final String KEY_PYTHON_EXECUTABLE = "PYTHON_EXECUTABLE";

	/** Value of {@link #KEY_CELLPOSE_MODEL} that selects {@link #KEY_CELLPOSE_MODEL_FILEPATH}. */
	public static final String CUSTOM_MODEL = "CUSTOM";

	private CellposePyKeys()
	{}

	/** Keys whose settings only matter for 3D images (the panel shows them only then), from the settings table. */
	public static List< String > keys3DOnly()
	{
		final List< String > keys = new ArrayList<>();
		for ( final SettingsTable.Row r : SettingsTable.get().rows )
			if ( r.only3D )
				keys.add( r.key );
		return keys;
	}

	/**
	 * A fresh, mutable map of every key with its default value, in the settings table's order. The model's default
	 * is the one of the Python side's cellpose ({@link CellposePyServices#defaultModel()}).
	 */
	public static Map< String, Object > defaults()
	{
		if ( CellposePyServices.get() == null )
			PyImageJDiscovery.discover(); // in a Fiji that Python started: the service publishes its cellpose's models
		final Map< String, Object > m = new LinkedHashMap<>();
		for ( final SettingsTable.Row r : SettingsTable.get().rows )
			m.put( r.key, r.defaultValue != null ? r.defaultValue
					: KEY_CELLPOSE_MODEL.equals( r.key ) ? CellposePyServices.defaultModel() : "" );
		return m;
	}

	/**
	 * Checks {@code settings} as the Python settings model does, from the same table: renamed keys (aliases) are
	 * accepted and renamed in place (keys that are no longer used are removed), missing keys are filled with their
	 * defaults, unknown keys and {@code null} values are errors, values must have the setting's type (an Integer is
	 * accepted, and converted in place, for a Double setting; an integral Double for an Integer one) and lie in its
	 * range; numbers must be finite.
	 *
	 * @return {@code null} when the map is valid, else a one-line message naming the key, the value and what was
	 *         expected.
	 */
	public static String check( final Map< String, Object > settings )
	{
		if ( settings == null )
			return "The detector settings map is null.";
		final SettingsTable table = SettingsTable.get();
		for ( final Map.Entry< String, String > a : table.aliases.entrySet() )
		{
			if ( !settings.containsKey( a.getKey() ) )
				continue;
			final Object v = settings.remove( a.getKey() );
			if ( a.getValue() != null && !settings.containsKey( a.getValue() ) )
				settings.put( a.getValue(), v );
		}
		final Map< String, Object > defaults = defaults();
		final List< String > unknown = new ArrayList<>();
		for ( final String key : settings.keySet() )
			if ( !defaults.containsKey( key ) )
				unknown.add( key );
		if ( !unknown.isEmpty() )
			return "Unknown setting(s) " + unknown + " for the " + DETECTOR_NAME + " detector; expected the keys "
					+ defaults.keySet() + ".";
		for ( final SettingsTable.Row row : table.rows )
		{
			final String key = row.key;
			if ( !settings.containsKey( key ) )
			{
				settings.put( key, defaults.get( key ) );
				continue;
			}
			final Object value = settings.get( key );
			final Object converted = convert( value, row );
			if ( converted == null )
				return "Setting " + key + " must be a " + typeName( row ) + ", got " + describe( value ) + ".";
			final String error = checkValue( converted, row );
			if ( error != null )
				return error;
			if ( converted != value )
				settings.put( key, converted );
		}
		return null;
	}

	private static String checkValue( final Object v, final SettingsTable.Row row )
	{
		if ( v instanceof String )
			return row.nonEmpty && ( ( String ) v ).trim().isEmpty()
					? "Setting " + row.key + " must be " + row.range + ", got \"" + v + "\"." : null;
		if ( !( v instanceof Number ) )
			return null;
		final double d = ( ( Number ) v ).doubleValue();
		if ( Double.isNaN( d ) || Double.isInfinite( d ) )
			return "Setting " + row.key + " must be a finite number, got " + v + ".";
		if ( ( row.lo != null && d < row.lo ) || ( row.hi != null && d > row.hi ) )
			return "Setting " + row.key + " must be " + row.range + ", got " + v + ".";
		return null;
	}

	/** Writes every setting as an XML attribute. @return {@code null} or an error message. */
	public static String marshal( final Map< String, Object > settings, final Element element )
	{
		final String error = check( settings );
		if ( error != null )
			return error;
		for ( final String key : defaults().keySet() )
			element.setAttribute( key, String.valueOf( settings.get( key ) ) );
		return null;
	}

	/**
	 * Reads settings from the XML attributes of {@code element} into {@code settings} (cleared first), with the
	 * semantics of {@link #check(Map)}: missing keys take their default, renamed keys are accepted, unknown attributes
	 * and values of the wrong type or out of range are errors. @return {@code null} or an error message.
	 */
	public static String unmarshal( final Element element, final Map< String, Object > settings )
	{
		settings.clear();
		final SettingsTable table = SettingsTable.get();
		for ( final Attribute att : element.getAttributes() )
		{
			String key = att.getName();
			if ( "DETECTOR_NAME".equals( key ) )
				continue;
			if ( table.aliases.containsKey( key ) )
			{
				key = table.aliases.get( key );
				if ( key == null )
					continue;
			}
			final SettingsTable.Row row = table.row( key );
			if ( row == null )
				return "Unknown setting " + key + "=\"" + att.getValue() + "\" in the " + DETECTOR_NAME + " detector XML.";
			final Object value = parse( att.getValue(), row );
			if ( value == null )
				return "Setting " + key + " in the XML must be a " + typeName( row ) + ", got \"" + att.getValue() + "\".";
			settings.put( key, value );
		}
		return check( settings );
	}

	/** A human-readable one-line summary of the settings (for TrackMate's log). */
	public static String toString( final Map< String, Object > settings )
	{
		final StringBuilder sb = new StringBuilder();
		for ( final String key : defaults().keySet() )
			sb.append( "  - " ).append( key ).append( ": " ).append( settings.get( key ) ).append( '\n' );
		return sb.toString();
	}

	static Object convert( final Object value, final SettingsTable.Row row )
	{
		if ( value == null )
			return null;
		switch ( row.type )
		{
		case "float":
			if ( value instanceof Double )
				return value;
			if ( value instanceof Integer || value instanceof Long || value instanceof Float || value instanceof Short )
				return Double.valueOf( ( ( Number ) value ).doubleValue() );
			return null;
		case "int":
			if ( value instanceof Integer )
				return value;
			if ( value instanceof Long || value instanceof Short )
				return Integer.valueOf( ( ( Number ) value ).intValue() );
			if ( value instanceof Double && ( ( Double ) value ).doubleValue() == Math.rint( ( Double ) value ) )
				return Integer.valueOf( ( ( Double ) value ).intValue() );
			return null;
		case "bool":
			return value instanceof Boolean ? value : null;
		default:
			return value instanceof String ? ( row.nonEmpty ? ( ( String ) value ).trim() : value ) : null;
		}
	}

	static Object parse( final String text, final SettingsTable.Row row )
	{
		try
		{
			switch ( row.type )
			{
			case "float":
				return Double.valueOf( text.trim() );
			case "int":
				return Integer.valueOf( text.trim() );
			case "bool":
				final String t = text.trim().toLowerCase();
				return "true".equals( t ) ? Boolean.TRUE : "false".equals( t ) ? Boolean.FALSE : null;
			default:
				return text;
			}
		}
		catch ( final NumberFormatException e )
		{
			return null;
		}
	}

	private static String typeName( final SettingsTable.Row row )
	{
		switch ( row.type )
		{
		case "float":
			return "number (Double)";
		case "int":
			return "whole number (Integer)";
		case "bool":
			return "boolean";
		default:
			return "string";
		}
	}

	private static String describe( final Object value )
	{
		return value == null ? "null" : value + " (" + value.getClass().getSimpleName() + ")";
	}
}
