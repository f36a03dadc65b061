package trackmatecellpose.glue;

import java.awt.BorderLayout;
import java.awt.Frame;
import java.awt.GridBagConstraints;
import java.awt.GridBagLayout;
import java.awt.Insets;
import java.util.LinkedHashMap;
import java.util.Map;

import javax.swing.JButton;
import javax.swing.JDialog;
import javax.swing.JFileChooser;
import javax.swing.JLabel;
import javax.swing.JOptionPane;
import javax.swing.JPanel;
import javax.swing.JTextField;
import javax.swing.SwingUtilities;
import javax.swing.WindowConstants;

/**
 * The Swing side of {@link RetrainCellposeAction}: the options dialog (one field per {@code training} row of the
 * settings table, generated from Python, plus the model file), a small window with a Cancel button while training
 * runs, and the question whether to use the new model. JDK only.
 */
final class RetrainCellposeDialog
{
	private RetrainCellposeDialog()
	{}

	/** Default options: the {@code training} rows of the settings table. */
	static Map< String, Object > defaults()
	{
		final Map< String, Object > m = new LinkedHashMap<>();
		for ( final SettingsTable.Row r : SettingsTable.get().training )
			m.put( r.key, r.defaultValue );
		return m;
	}

	/** Asks for the options (filled from {@code opts}, written back into it); false when the user cancels. */
	static boolean ask( final Frame parent, final Map< String, Object > opts )
	{
		final JPanel panel = new JPanel( new GridBagLayout() );
		final GridBagConstraints c = new GridBagConstraints();
		c.insets = new Insets( 2, 4, 2, 4 );
		c.anchor = GridBagConstraints.WEST;
		final Map< String, JTextField > fields = new LinkedHashMap<>();
		int row = 0;
		final JTextField output = new JTextField( String.valueOf( opts.get( RetrainCellposeAction.KEY_OUTPUT ) ), 32 );
		final JButton browse = new JButton( "Browse..." );
		browse.addActionListener( e -> {
			final JFileChooser fc = new JFileChooser();
			fc.setSelectedFile( new java.io.File( output.getText() ) );
			if ( fc.showSaveDialog( panel ) == JFileChooser.APPROVE_OPTION )
				output.setText( fc.getSelectedFile().getAbsolutePath() );
		} );
		add( panel, c, row++, "New model file", output, "Where the retrained model goes (its report goes beside it)." );
		c.gridx = 2;
		c.gridy = row - 1;
		panel.add( browse, c );
		for ( final SettingsTable.Row r : SettingsTable.get().training )
		{
			final JTextField f = new JTextField( String.valueOf( opts.get( r.key ) ), 10 );
			fields.put( r.key, f );
			add( panel, c, row++, r.label, f, r.doc + ( r.range == null ? "" : " (" + r.range + ")" ) );
		}
		while ( true )
		{
			final int answer = JOptionPane.showConfirmDialog( parent, panel, RetrainCellposeActionFactory.NAME,
					JOptionPane.OK_CANCEL_OPTION, JOptionPane.PLAIN_MESSAGE );
			if ( answer != JOptionPane.OK_OPTION )
				return false;
			final String error = read( fields, opts );
			if ( error == null && !output.getText().trim().isEmpty() )
			{
				opts.put( RetrainCellposeAction.KEY_OUTPUT, output.getText().trim() );
				return true;
			}
			JOptionPane.showMessageDialog( parent, error == null ? "Give the file for the new model." : error,
					RetrainCellposeActionFactory.NAME, JOptionPane.ERROR_MESSAGE );
		}
	}

	private static void add( final JPanel panel, final GridBagConstraints c, final int row, final String label,
			final JTextField field, final String tip )
	{
		c.gridx = 0;
		c.gridy = row;
		final JLabel l = new JLabel( label );
		l.setToolTipText( tip );
		field.setToolTipText( tip );
		panel.add( l, c );
		c.gridx = 1;
		panel.add( field, c );
	}

	/** Parses the fields by their row's type and bounds into {@code opts}; the first problem, or null. */
	private static String read( final Map< String, JTextField > fields, final Map< String, Object > opts )
	{
		for ( final SettingsTable.Row r : SettingsTable.get().training )
		{
			final String text = fields.get( r.key ).getText().trim();
			try
			{
				final Object v;
				switch ( r.type )
				{
				case "int":
					v = Integer.valueOf( text );
					break;
				case "float":
					v = Double.valueOf( text );
					break;
				case "bool":
					v = Boolean.valueOf( text );
					break;
				default:
					v = text;
				}
				if ( v instanceof Number )
				{
					final double d = ( ( Number ) v ).doubleValue();
					if ( ( r.lo != null && d < r.lo ) || ( r.hi != null && d > r.hi ) )
						return r.label + " must be " + r.range + ", got " + text;
				}
				opts.put( r.key, v );
			}
			catch ( final NumberFormatException e )
			{
				return r.label + " must be a number (" + r.range + "), got '" + text + "'";
			}
		}
		return null;
	}

	/** A small window with a Cancel button while training runs. */
	static final class Progress
	{
		private final JDialog dialog;

		Progress( final JDialog dialog )
		{
			this.dialog = dialog;
		}

		void close()
		{
			SwingUtilities.invokeLater( dialog::dispose );
		}
	}

	static Progress showProgress( final Frame parent, final Runnable onCancel )
	{
		final JDialog d = new JDialog( parent, RetrainCellposeActionFactory.NAME, false );
		final JPanel p = new JPanel( new BorderLayout( 8, 8 ) );
		p.add( new JLabel( "Training cellpose: progress in TrackMate's log. Cancel keeps the best epoch so far." ),
				BorderLayout.CENTER );
		final JButton cancel = new JButton( "Cancel training" );
		cancel.addActionListener( e -> {
			cancel.setEnabled( false );
			onCancel.run();
		} );
		p.add( cancel, BorderLayout.EAST );
		d.setContentPane( p );
		d.setDefaultCloseOperation( WindowConstants.DO_NOTHING_ON_CLOSE );
		d.pack();
		d.setLocationRelativeTo( parent );
		SwingUtilities.invokeLater( () -> d.setVisible( true ) );
		return new Progress( d );
	}

	/** Shows the result and asks whether to use the new model in the detector settings. */
	static boolean offerModel( final Frame parent, final Map< String, String > result )
	{
		final String text = result.getOrDefault( "summary", "" ) + "\n\nUse the new model in the detector settings ("
				+ CellposePyKeys.DETECTOR_NAME + ", CELLPOSE_MODEL = CUSTOM)?";
		return JOptionPane.showConfirmDialog( parent, text, RetrainCellposeActionFactory.NAME,
				JOptionPane.YES_NO_OPTION, JOptionPane.QUESTION_MESSAGE ) == JOptionPane.YES_OPTION;
	}
}
