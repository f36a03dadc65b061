package trackmatecellpose.glue;

import java.awt.BorderLayout;
import java.awt.GridBagConstraints;
import java.awt.GridBagLayout;
import java.awt.Insets;
import java.io.File;
import java.util.LinkedHashMap;
import java.util.Map;

import javax.swing.JButton;
import javax.swing.JCheckBox;
import javax.swing.JComboBox;
import javax.swing.JComponent;
import javax.swing.JFileChooser;
import javax.swing.JLabel;
import javax.swing.JPanel;
import javax.swing.JSpinner;
import javax.swing.JTextField;
import javax.swing.SpinnerNumberModel;

import fiji.plugin.trackmate.Model;
import fiji.plugin.trackmate.Settings;
import fiji.plugin.trackmate.detection.SpotDetectorFactoryBase;
import fiji.plugin.trackmate.gui.components.ConfigurationPanel;
import fiji.plugin.trackmate.util.DetectionPreview;

/**
 * Configuration panel: one field per setting, generated from {@link CellposePyKeys#defaults()} and the
 * {@link #FIELDS} table (label, tooltip, range); 3D-only settings appear only for 3D images. The Preview button runs
 * the detector on the current frame through TrackMate's own {@code DetectionPreview}.
 */
public class CellposePyConfigurationPanel extends ConfigurationPanel
{
	private static final long serialVersionUID = 1L;

	/**
	 * Built-in models of the Python side's cellpose, then CUSTOM, offered in the combo box (it is editable: any other
	 * name can be typed).
	 */
	static String[] models()
	{
		final String[] builtin = CellposePyServices.models();
		final String[] all = java.util.Arrays.copyOf( builtin, builtin.length + 1 );
		all[ builtin.length ] = CellposePyKeys.CUSTOM_MODEL;
		return all;
	}

	/** key -> { label, tooltip, min, max } (min/max only for numbers). */
	static final Map< String, String[] > FIELDS = new LinkedHashMap<>();
	static
	{
		field( CellposePyKeys.KEY_CELLPOSE_MODEL, "Model", "Built-in cellpose model, or CUSTOM to use the model file below." );
		field( CellposePyKeys.KEY_CELLPOSE_MODEL_FILEPATH, "Custom model file", "Path of a custom (retrained) cellpose model; used when Model is CUSTOM." );
		field( CellposePyKeys.KEY_TARGET_CHANNEL, "Channel to segment", "1-based image channel to segment.", "1", "1000" );
		field( CellposePyKeys.KEY_OPTIONAL_CHANNEL_2, "Optional second channel", "Optional second channel (e.g. nuclei), 1-based; 0 = none.", "0", "1000" );
		field( CellposePyKeys.KEY_CELL_DIAMETER, "Cell diameter", "Expected cell diameter in physical units; 0 = the model's own size.", "0", "1e9" );
		field( CellposePyKeys.KEY_USE_GPU, "Use GPU", "Use CUDA or Apple MPS when available; otherwise the CPU." );
		field( CellposePyKeys.KEY_SIMPLIFY_CONTOURS, "Simplify contours", "Simplify polygons (2D) or decimate meshes (3D) as TrackMate's label-image detector does." );
		field( CellposePyKeys.KEY_CELL_PROB_THRESHOLD, "Cell prob. threshold", "Raise for fewer/smaller objects, lower for more/larger ones.", "-6", "6" );
		field( CellposePyKeys.KEY_FLOW_THRESHOLD, "Flow threshold", "Maximum flow error of a mask; 0 disables the check (not used in 3D).", "0", "1e9" );
		field( CellposePyKeys.KEY_RESAMPLE, "Resample", "Compute masks at the original image size (smoother, slower)." );
		field( CellposePyKeys.KEY_DO2DZ, "2D+Z (stitch planes)", "3D images: segment each plane in 2D and stitch planes instead of cellpose's 3D mode." );
		field( CellposePyKeys.KEY_IOUTHRESHOLD, "Stitch IoU threshold", "2D+Z: minimum IoU between masks of consecutive planes to stitch them.", "0", "1" );
		field( CellposePyKeys.KEY_CELL_MIN_SIZE, "Minimum size (px)", "Objects smaller than this are removed.", "0", "1e12" );
		field( CellposePyKeys.KEY_SMOOTHING_SCALE, "Mesh smoothing scale", "3D: Gaussian smoothing scale (physical units) before meshing; <= 0 disables.", "-1e9", "1e9" );
		field( CellposePyKeys.KEY_PYTHON_EXECUTABLE, "Python (worker)", "Fiji started from its icon: the Python that runs cellpose; empty = the one trackmate-cellpose install-fiji recorded." );
	}

	private static void field( final String key, final String... spec )
	{
		FIELDS.put( key, spec );
	}

	private final Map< String, JComponent > editors = new LinkedHashMap<>();

	private final boolean is3D;

	public CellposePyConfigurationPanel( final Settings settings, final Model model,
			final SpotDetectorFactoryBase< ? > factory )
	{
		is3D = settings.imp != null && settings.imp.getNSlices() > 1;
		final int nChannels = settings.imp == null ? 1 : Math.max( 1, settings.imp.getNChannels() );
		final String unit = settings.imp == null ? "" : settings.imp.getCalibration().getUnit();
		if ( model != null )
			CellposePyLogging.setFallbackLogger( model.getLogger() );

		setLayout( new BorderLayout() );
		final JPanel form = new JPanel( new GridBagLayout() );
		final GridBagConstraints c = new GridBagConstraints();
		c.insets = new Insets( 2, 5, 2, 5 );
		c.fill = GridBagConstraints.HORIZONTAL;
		c.gridy = 0;

		final JLabel title = new JLabel( "<html><b>Settings for detector:</b><br><big>" + CellposePyKeys.DETECTOR_NAME
				+ "</big></html>" );
		c.gridx = 0;
		c.gridwidth = 2;
		form.add( title, c );
		c.gridwidth = 1;
		c.gridy++;

		final Map< String, Object > defaults = CellposePyKeys.defaults();
		for ( final Map.Entry< String, String[] > e : FIELDS.entrySet() )
		{
			final String key = e.getKey();
			if ( !is3D && CellposePyKeys.KEYS_3D_ONLY.contains( key ) )
				continue;
			final String[] spec = e.getValue();
			final Object def = defaults.get( key );
			final JComponent editor;
			if ( CellposePyKeys.KEY_CELLPOSE_MODEL.equals( key ) )
			{
				final JComboBox< String > box = new JComboBox<>( models() );
				box.setEditable( true );
				editor = box;
			}
			else if ( def instanceof String )
				editor = new JTextField( 12 );
			else if ( def instanceof Boolean )
				editor = new JCheckBox();
			else if ( def instanceof Integer )
			{
				final int lo = Integer.parseInt( spec[ 2 ] );
				final int hi = Math.max( lo, Math.min( Integer.parseInt( spec[ 3 ] ), nChannels ) );
				editor = new JSpinner( new SpinnerNumberModel( Math.max( lo, ( ( Integer ) def ).intValue() ), lo, hi, 1 ) );
			}
			else
				editor = new JSpinner( new SpinnerNumberModel( ( ( Double ) def ).doubleValue(),
						Double.parseDouble( spec[ 2 ] ), Double.parseDouble( spec[ 3 ] ), 0.1 ) );
			editor.setName( key );
			editor.setToolTipText( "<html>" + spec[ 1 ] + "<br><tt>" + key + "</tt></html>" );
			editors.put( key, editor );

			String label = spec[ 0 ];
			if ( CellposePyKeys.KEY_CELL_DIAMETER.equals( key ) || CellposePyKeys.KEY_SMOOTHING_SCALE.equals( key ) )
				label += " (" + unit + ")";
			final JLabel l = new JLabel( label );
			l.setToolTipText( editor.getToolTipText() );
			c.gridx = 0;
			c.weightx = 0.;
			form.add( l, c );
			c.gridx = 1;
			c.weightx = 1.;
			if ( CellposePyKeys.KEY_CELLPOSE_MODEL_FILEPATH.equals( key ) )
			{
				final JPanel p = new JPanel( new BorderLayout() );
				p.add( editor, BorderLayout.CENTER );
				final JButton browse = new JButton( "Browse" );
				browse.addActionListener( ev -> browse( ( JTextField ) editor ) );
				p.add( browse, BorderLayout.EAST );
				form.add( p, c );
			}
			else
				form.add( editor, c );
			c.gridy++;
		}
		add( form, BorderLayout.NORTH );

		if ( model != null && settings.imp != null )
		{
			final DetectionPreview preview = DetectionPreview.create()
					.model( model )
					.settings( settings )
					.detectorFactory( factory )
					.detectionSettingsSupplier( () -> getSettings() )
					.axisLabel( "Quality histogram" )
					.get();
			// CENTER, not SOUTH: after a preview the panel grows (quality histogram) and must get the free space.
			add( preview.getPanel(), BorderLayout.CENTER );
		}
		setSettings( defaults );
	}

	private void browse( final JTextField field )
	{
		final JFileChooser chooser = new JFileChooser( field.getText().isEmpty() ? null : new File( field.getText() ) );
		if ( chooser.showOpenDialog( this ) == JFileChooser.APPROVE_OPTION )
			field.setText( chooser.getSelectedFile().getAbsolutePath() );
	}

	/** Names of the settings shown (for tests and scripts). */
	public java.util.Set< String > shownKeys()
	{
		return editors.keySet();
	}

	@SuppressWarnings( "unchecked" )
	@Override
	public void setSettings( final Map< String, Object > settings )
	{
		for ( final Map.Entry< String, JComponent > e : editors.entrySet() )
		{
			final Object v = settings.get( e.getKey() );
			if ( v == null )
				continue;
			final JComponent ed = e.getValue();
			if ( ed instanceof JComboBox )
				( ( JComboBox< String > ) ed ).setSelectedItem( v.toString() );
			else if ( ed instanceof JTextField )
				( ( JTextField ) ed ).setText( v.toString() );
			else if ( ed instanceof JCheckBox )
				( ( JCheckBox ) ed ).setSelected( Boolean.TRUE.equals( v ) );
			else if ( ed instanceof JSpinner )
			{
				final JSpinner sp = ( JSpinner ) ed;
				final SpinnerNumberModel m = ( SpinnerNumberModel ) sp.getModel();
				if ( m.getValue() instanceof Integer )
				{
					final int i = ( ( Number ) v ).intValue();
					final int lo = ( ( Number ) m.getMinimum() ).intValue();
					final int hi = ( ( Number ) m.getMaximum() ).intValue();
					sp.setValue( Math.max( lo, Math.min( hi, i ) ) );
				}
				else
					sp.setValue( Double.valueOf( ( ( Number ) v ).doubleValue() ) );
			}
		}
		hidden.clear();
		for ( final String key : CellposePyKeys.defaults().keySet() )
			if ( !editors.containsKey( key ) && settings.get( key ) != null )
				hidden.put( key, settings.get( key ) );
	}

	/** Values of settings not shown (3D-only settings of a 2D image), kept unchanged. */
	private final Map< String, Object > hidden = new LinkedHashMap<>();

	@Override
	public Map< String, Object > getSettings()
	{
		final Map< String, Object > m = CellposePyKeys.defaults();
		m.putAll( hidden );
		for ( final Map.Entry< String, JComponent > e : editors.entrySet() )
		{
			final JComponent ed = e.getValue();
			final Object v;
			if ( ed instanceof JComboBox )
			{
				final Object sel = ( ( JComboBox< ? > ) ed ).getSelectedItem();
				v = sel == null ? "" : sel.toString().trim();
			}
			else if ( ed instanceof JTextField )
				v = ( ( JTextField ) ed ).getText().trim();
			else if ( ed instanceof JCheckBox )
				v = Boolean.valueOf( ( ( JCheckBox ) ed ).isSelected() );
			else
			{
				final Object sv = ( ( JSpinner ) ed ).getValue();
				v = m.get( e.getKey() ) instanceof Integer ? ( Object ) Integer.valueOf( ( ( Number ) sv ).intValue() )
						: ( Object ) Double.valueOf( ( ( Number ) sv ).doubleValue() );
			}
			m.put( e.getKey(), v );
		}
		return m;
	}

	@Override
	public void clean()
	{}
}
