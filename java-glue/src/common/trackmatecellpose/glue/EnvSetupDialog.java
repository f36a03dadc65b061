package trackmatecellpose.glue;

import java.awt.BorderLayout;
import java.awt.Component;
import java.awt.Dimension;
import java.awt.GridBagConstraints;
import java.awt.GridBagLayout;
import java.awt.Insets;
import java.awt.Window;
import java.util.function.Consumer;

import javax.swing.BorderFactory;
import javax.swing.JButton;
import javax.swing.JComboBox;
import javax.swing.JDialog;
import javax.swing.JLabel;
import javax.swing.JOptionPane;
import javax.swing.JPanel;
import javax.swing.JProgressBar;
import javax.swing.JScrollPane;
import javax.swing.JTextArea;
import javax.swing.JTextField;
import javax.swing.SwingUtilities;

import fiji.plugin.trackmate.Logger;

/**
 * The environment build in the GUI: a window with the progress bar, what the build does, its log and Cancel (Close
 * once it ended). Every line also goes to TrackMate's log ({@link CellposePyLogging#fallbackLogger()}).
 */
final class EnvSetupDialog extends JDialog implements EnvBuilder.Listener
{
	private static final long serialVersionUID = 1L;

	static final String TITLE = "TrackMate-Cellpose: set up a Python environment";

	private final JProgressBar bar = new JProgressBar( 0, 1000 );

	private final JLabel status = new JLabel( " " );

	private final JTextArea log = new JTextArea( 16, 90 );

	private final JButton button = new JButton( "Cancel" );

	private final transient EnvBuilder builder = new EnvBuilder();

	private final transient Logger logger = CellposePyLogging.fallbackLogger();

	private EnvSetupDialog( final Window owner )
	{
		super( owner, TITLE, ModalityType.MODELESS );
		log.setEditable( false );
		log.setName( "log" );
		bar.setStringPainted( true );
		final JPanel top = new JPanel( new BorderLayout( 5, 5 ) );
		top.setBorder( BorderFactory.createEmptyBorder( 8, 8, 0, 8 ) );
		top.add( status, BorderLayout.NORTH );
		top.add( bar, BorderLayout.SOUTH );
		final JPanel south = new JPanel();
		south.add( button );
		button.addActionListener( e -> {
			if ( "Cancel".equals( button.getText() ) )
			{
				button.setEnabled( false );
				status.setText( "Cancelling..." );
				builder.cancel();
			}
			else
				dispose();
		} );
		getContentPane().add( top, BorderLayout.NORTH );
		getContentPane().add( new JScrollPane( log ), BorderLayout.CENTER );
		getContentPane().add( south, BorderLayout.SOUTH );
		setDefaultCloseOperation( DO_NOTHING_ON_CLOSE ); // Cancel first: a closed window must not leave a build
		pack();
		setLocationRelativeTo( owner );
	}

	/**
	 * Asks what to build (cellpose version, torch build, package index); {@code null} when the user declines.
	 */
	static EnvBuilder.Options ask( final Component parent )
	{
		final JComboBox< String > cellpose = new JComboBox<>( new String[] { EnvBuilder.CELLPOSE_3, EnvBuilder.CELLPOSE_4 } );
		final JComboBox< String > variant = new JComboBox<>(
				new String[] { EnvBuilder.AUTO, EnvBuilder.CPU, EnvBuilder.CUDA, EnvBuilder.MPS } );
		final JTextField index = new JTextField( 28 );
		final JPanel p = new JPanel( new GridBagLayout() );
		final GridBagConstraints c = new GridBagConstraints();
		c.insets = new Insets( 2, 4, 2, 4 );
		c.anchor = GridBagConstraints.WEST;
		c.gridy = 0;
		c.gridx = 0;
		c.gridwidth = 2;
		p.add( new JLabel( "<html><p width='420'>" + SetUpPythonCommand.DESCRIPTION + "</p></html>" ), c );
		c.gridwidth = 1;
		final Object[][] rows = { { "cellpose version", cellpose }, { "torch build", variant },
				{ "package index URL (empty: PyPI)", index } };
		for ( final Object[] row : rows )
		{
			c.gridy++;
			c.gridx = 0;
			p.add( new JLabel( ( String ) row[ 0 ] ), c );
			c.gridx = 1;
			p.add( ( Component ) row[ 1 ], c );
		}
		final int answer = JOptionPane.showConfirmDialog( parent, p, TITLE, JOptionPane.OK_CANCEL_OPTION,
				JOptionPane.PLAIN_MESSAGE );
		if ( answer != JOptionPane.OK_OPTION )
			return null;
		final EnvBuilder.Options o = new EnvBuilder.Options();
		o.cellpose = ( String ) cellpose.getSelectedItem();
		o.variant = ( String ) variant.getSelectedItem();
		o.indexUrl = index.getText().trim();
		return o;
	}

	/**
	 * Shows the window and builds on a new thread; {@code done} gets the result on Swing's thread. Returns at once.
	 */
	static void start( final Component parent, final EnvBuilder.Options options, final Consumer< EnvBuilder.Result > done )
	{
		final Window owner = parent == null ? null : SwingUtilities.getWindowAncestor( parent );
		final EnvSetupDialog d = new EnvSetupDialog( owner );
		d.setVisible( true );
		final Thread t = new Thread( () -> {
			final EnvBuilder.Result r = d.builder.build( options, d );
			SwingUtilities.invokeLater( () -> {
				d.finish( r );
				done.accept( r );
			} );
		}, "trackmate-cellpose-env-build" );
		t.setDaemon( true );
		t.start();
	}

	private void finish( final EnvBuilder.Result r )
	{
		bar.setValue( r.ok() ? 1000 : bar.getValue() );
		status.setText( "<html><p width='600'>" + r.message + "</p></html>" );
		appendLine( r.message );
		if ( r.ok() )
			logger.log( r.message + "\n" );
		else
			logger.error( r.message + "\n" );
		button.setText( "Close" );
		button.setEnabled( true );
		setDefaultCloseOperation( DISPOSE_ON_CLOSE );
		setMinimumSize( new Dimension( getWidth(), getHeight() ) );
		pack();
	}

	@Override
	public void progress( final double fraction, final String message )
	{
		logger.setProgress( fraction );
		logger.setStatus( message );
		logger.log( message + "\n" );
		SwingUtilities.invokeLater( () -> {
			bar.setValue( ( int ) Math.round( 1000 * Math.max( 0, Math.min( 1, fraction ) ) ) );
			if ( "Cancel".equals( button.getText() ) && button.isEnabled() )
				status.setText( message );
			appendLine( message );
		} );
	}

	@Override
	public void log( final String line )
	{
		logger.log( line + "\n" );
		SwingUtilities.invokeLater( () -> appendLine( line ) );
	}

	private void appendLine( final String line )
	{
		log.append( line + "\n" );
		log.setCaretPosition( log.getDocument().getLength() );
	}
}
