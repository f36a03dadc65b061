package trackmatecellpose.glue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.jdom2.Attribute;
import org.jdom2.Element;

/**
 * Settings keys and defaults of the "Cellpose advanced (Python)" detector, and the TrackMate-style checks and XML
 * (de)serialization shared by every TrackMate API line.
 * <p>
 * The keys and defaults mirror {@code trackmate_cellpose.settings.DetectorSettings} exactly (a test parses the
 * {@code KEY_*} constants below and compares them with Python's {@code TRACKMATE_KEYS}). Values are only String,
 * Integer, Double or Boolean. Ranges are validated by the Python settings model, whose message becomes TrackMate's
 * error message.
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

	/** Keys whose settings only matter for 3D images (the panel shows them only then). */
	public static final List< String > KEYS_3D_ONLY = Collections.unmodifiableList( java.util.Arrays.asList(
			KEY_DO2DZ, KEY_IOUTHRESHOLD, KEY_SMOOTHING_SCALE ) );

	private CellposePyKeys()
	{}

	/** A fresh, mutable map of every key with its default value, in declaration order. */
	public static Map< String, Object > defaults()
	{
		final Map< String, Object > m = new LinkedHashMap<>();
		m.put( KEY_CELLPOSE_MODEL, CellposePyServices.defaultModel() );
		m.put( KEY_CELLPOSE_MODEL_FILEPATH, "" );
		m.put( KEY_TARGET_CHANNEL, Integer.valueOf( 1 ) );
		m.put( KEY_OPTIONAL_CHANNEL_2, Integer.valueOf( 0 ) );
		m.put( KEY_CELL_DIAMETER, Double.valueOf( 30. ) );
		m.put( KEY_USE_GPU, Boolean.TRUE );
		m.put( KEY_SIMPLIFY_CONTOURS, Boolean.TRUE );
		m.put( KEY_CELL_PROB_THRESHOLD, Double.valueOf( 0. ) );
		m.put( KEY_FLOW_THRESHOLD, Double.valueOf( 0.4 ) );
		m.put( KEY_RESAMPLE, Boolean.TRUE );
		m.put( KEY_DO2DZ, Boolean.FALSE );
		m.put( KEY_IOUTHRESHOLD, Double.valueOf( 0.25 ) );
		m.put( KEY_CELL_MIN_SIZE, Double.valueOf( 15. ) );
		m.put( KEY_SMOOTHING_SCALE, Double.valueOf( 1. ) );
		m.put( KEY_PYTHON_EXECUTABLE, "" );
		return m;
	}

	/**
	 * Checks that {@code settings} holds only known keys with values of the right type. Integer values are accepted
	 * (and converted in place) for Double keys, so that scripts may write {@code 10} for {@code 10.0}. Missing keys are
	 * an error, as are {@code null} values.
	 *
	 * @return {@code null} when the map is valid, else a one-line message naming the key, the value and what was
	 *         expected.
	 */
	public static String check( final Map< String, Object > settings )
	{
		if ( settings == null )
			return "The detector settings map is null.";
		final Map< String, Object > defaults = defaults();
		final List< String > unknown = new ArrayList<>();
		for ( final String key : settings.keySet() )
			if ( !defaults.containsKey( key ) )
				unknown.add( key );
		if ( !unknown.isEmpty() )
			return "Unknown setting(s) " + unknown + " for the " + DETECTOR_NAME + " detector; expected the keys "
					+ defaults.keySet() + ".";
		for ( final Map.Entry< String, Object > e : defaults.entrySet() )
		{
			final String key = e.getKey();
			if ( !settings.containsKey( key ) )
				return "Missing setting " + key + " (expected a " + typeName( e.getValue() ) + ", e.g. " + e.getValue() + ").";
			final Object value = settings.get( key );
			final Object converted = convert( value, e.getValue() );
			if ( converted == null )
				return "Setting " + key + " must be a " + typeName( e.getValue() ) + ", got " + describe( value ) + ".";
			if ( converted != value )
				settings.put( key, converted );
		}
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
	 * Reads settings from the XML attributes of {@code element} into {@code settings} (cleared first). Missing keys take
	 * their default, unknown attributes are an error. @return {@code null} or an error message.
	 */
	public static String unmarshal( final Element element, final Map< String, Object > settings )
	{
		settings.clear();
		final Map< String, Object > defaults = defaults();
		settings.putAll( defaults );
		for ( final Attribute att : element.getAttributes() )
		{
			final String key = att.getName();
			if ( "DETECTOR_NAME".equals( key ) )
				continue;
			final Object def = defaults.get( key );
			if ( def == null )
				return "Unknown setting " + key + "=\"" + att.getValue() + "\" in the " + DETECTOR_NAME + " detector XML.";
			final Object value = parse( att.getValue(), def );
			if ( value == null )
				return "Setting " + key + " in the XML must be a " + typeName( def ) + ", got \"" + att.getValue() + "\".";
			settings.put( key, value );
		}
		return null;
	}

	/** A human-readable one-line summary of the settings (for TrackMate's log). */
	public static String toString( final Map< String, Object > settings )
	{
		final StringBuilder sb = new StringBuilder();
		for ( final String key : defaults().keySet() )
			sb.append( "  - " ).append( key ).append( ": " ).append( settings.get( key ) ).append( '\n' );
		return sb.toString();
	}

	static Object convert( final Object value, final Object def )
	{
		if ( value == null )
			return null;
		if ( def instanceof Double )
		{
			if ( value instanceof Double )
				return value;
			if ( value instanceof Integer || value instanceof Long || value instanceof Float || value instanceof Short )
				return Double.valueOf( ( ( Number ) value ).doubleValue() );
			return null;
		}
		if ( def instanceof Integer )
		{
			if ( value instanceof Integer )
				return value;
			if ( value instanceof Long || value instanceof Short )
				return Integer.valueOf( ( ( Number ) value ).intValue() );
			if ( value instanceof Double && ( ( Double ) value ).doubleValue() == Math.rint( ( Double ) value ) )
				return Integer.valueOf( ( ( Double ) value ).intValue() );
			return null;
		}
		if ( def instanceof Boolean )
			return value instanceof Boolean ? value : null;
		return value instanceof String ? value : null;
	}

	static Object parse( final String text, final Object def )
	{
		try
		{
			if ( def instanceof Double )
				return Double.valueOf( text.trim() );
			if ( def instanceof Integer )
				return Integer.valueOf( text.trim() );
			if ( def instanceof Boolean )
			{
				final String t = text.trim().toLowerCase();
				return "true".equals( t ) ? Boolean.TRUE : "false".equals( t ) ? Boolean.FALSE : null;
			}
			return text;
		}
		catch ( final NumberFormatException e )
		{
			return null;
		}
	}

	private static String typeName( final Object def )
	{
		if ( def instanceof Double )
			return "number (Double)";
		if ( def instanceof Integer )
			return "whole number (Integer)";
		if ( def instanceof Boolean )
			return "boolean";
		return "string";
	}

	private static String describe( final Object value )
	{
		return value == null ? "null" : value + " (" + value.getClass().getSimpleName() + ")";
	}
}
