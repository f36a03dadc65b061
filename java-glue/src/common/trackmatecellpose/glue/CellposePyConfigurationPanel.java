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
 * Configuration panel: one field per setting of the settings table ({@link SettingsTable}, generated from the Python
 * settings model): its label (with the image's unit for physical lengths), its description as tooltip, its range as
 * the spinner's bounds, its editor; 3D-only settings appear only for 3D images. The Preview button runs the detector on
 * the current frame through TrackMate's own {@code DetectionPreview}.
 */
public class CellposePyConfigurationPanel extends ConfigurationPanel
{
	private static final long serialVersionUID = 1L;

	/** Unit text of the table for lengths in the image's physical unit (the label shows the image's unit). */
	static final String PHYSICAL_UNIT = "image physical unit";

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

	/** The label of a setting as shown, for an image whose spatial unit is {@code unit}. */
	static String label( final SettingsTable.Row row, final String unit )
	{
		return row.unit.startsWith( PHYSICAL_UNIT ) && unit != null && !unit.isEmpty() ? row.label + " (" + unit + ")"
				: row.label;
	}

	/** The tooltip of a setting: its description, key and accepted range. */
	static String tooltip( final SettingsTable.Row row )
	{
		return "<html><p width='360'>" + escape( row.doc ) + "</p><tt>" + row.key + "</tt>: " + escape( row.range )
				+ "</html>";
	}

	private static String escape( final String s )
	{
		return s.replace( "&", "&amp;" ).replace( "<", "&lt;" ).replace( ">", "&gt;" );
	}

	private final Map< String, JComponent > editors = new LinkedHashMap<>();

	private final JPanel envRow = new JPanel( new BorderLayout( 5, 0 ) );

	private final JLabel envStatus = new JLabel();

	private final JButton envButton = new JButton( "Set up a Python environment..." );

	/** The Python set up from this panel, once done. */
	private String builtPython;

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
		c.gridy++;
		envButton.setName( "envSetup" );
		envButton.setToolTipText( "<html><p width='360'>" + SetUpPythonCommand.DESCRIPTION + "</p></html>" );
		envButton.addActionListener( e -> {
			final EnvBuilder.Options o = EnvSetupDialog.ask( this );
			if ( o != null )
				setUpEnvironment( o );
		} );
		envStatus.setName( "envStatus" );
		envRow.add( envStatus, BorderLayout.CENTER );
		envRow.add( envButton, BorderLayout.EAST );
		form.add( envRow, c );
		c.gridwidth = 1;
		c.gridy++;

		final Map< String, Object > defaults = CellposePyKeys.defaults();
		for ( final SettingsTable.Row row : SettingsTable.get().rows )
		{
			final String key = row.key;
			if ( !is3D && row.only3D )
				continue;
			final Object def = defaults.get( key );
			final JComponent editor;
			if ( "model".equals( row.editor ) )
			{
				final JComboBox< String > box = new JComboBox<>( models() );
				box.setEditable( true );
				editor = box;
			}
			else if ( "file".equals( row.editor ) || "text".equals( row.editor ) )
				editor = new JTextField( 12 );
			else if ( "check".equals( row.editor ) )
				editor = new JCheckBox();
			else if ( "int".equals( row.type ) ) // "number" or "channel"
			{
				final int lo = row.lo == null ? Integer.MIN_VALUE : row.lo.intValue();
				final int max = row.hi == null ? Integer.MAX_VALUE : row.hi.intValue();
				// a channel cannot exceed the image's channels
				final int hi = Math.max( lo, "channel".equals( row.editor ) ? Math.min( max, nChannels ) : max );
				editor = new JSpinner( new SpinnerNumberModel( Math.max( lo, Math.min( hi, ( ( Integer ) def ).intValue() ) ),
						lo, hi, 1 ) );
			}
			else
				editor = new JSpinner( new SpinnerNumberModel( ( ( Double ) def ).doubleValue(),
						row.lo == null ? -Double.MAX_VALUE : row.lo.doubleValue(),
						row.hi == null ? Double.MAX_VALUE : row.hi.doubleValue(), 0.1 ) );
			editor.setName( key );
			editor.setToolTipText( tooltip( row ) );
			editors.put( key, editor );

			final JLabel l = new JLabel( label( row, unit ) );
			l.setName( "label:" + key );
			l.setToolTipText( editor.getToolTipText() );
			c.gridx = 0;
			c.weightx = 0.;
			form.add( l, c );
			c.gridx = 1;
			c.weightx = 1.;
			if ( "file".equals( row.editor ) )
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

	/**
	 * Whether a detection here would need a Python that is not there: no Python runs this Fiji (neither registered
	 * in-process nor pyimagej's) and the worker has none ({@code PYTHON_EXECUTABLE} empty, none recorded).
	 */
	static boolean workerNeedsPython( final Map< String, Object > settings )
	{
		if ( CellposePyServices.get() != null || PyImageJDiscovery.runnerPresent() )
			return false;
		try
		{
			WorkerPython.executable( settings );
			return false;
		}
		catch ( final WorkerPython.NotFound e )
		{
			return true;
		}
	}

	/** Shows the "Set up a Python environment" row while the worker has no Python (and the Python set up here). */
	private void refreshEnvRow( final Map< String, Object > settings )
	{
		final boolean needs = workerNeedsPython( settings );
		envButton.setVisible( needs );
		envRow.setVisible( needs || builtPython != null );
		if ( needs )
			envStatus.setText( "No Python is set for this detector." );
	}

	/** Whether the panel offers to set up a Python environment (for tests and scripts). */
	public boolean offersEnvSetup()
	{
		return envRow.isVisible() && envButton.isVisible();
	}

	/** What the setup row says (for tests and scripts). */
	public String envSetupStatus()
	{
		return envStatus.getText();
	}

	/**
	 * Builds the Python environment {@code options} asks for in the progress window (what the panel's button does
	 * after asking); on success the row names the recorded Python. Call on Swing's thread; returns at once.
	 */
	public void setUpEnvironment( final EnvBuilder.Options options )
	{
		envButton.setEnabled( false );
		EnvSetupDialog.start( this, options, r -> {
			envButton.setEnabled( true );
			if ( r.ok() )
			{
				builtPython = r.python;
				envStatus.setText( "Python: " + r.python );
				envButton.setVisible( false );
			}
			revalidate();
			repaint();
		} );
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
		refreshEnvRow( settings );
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
