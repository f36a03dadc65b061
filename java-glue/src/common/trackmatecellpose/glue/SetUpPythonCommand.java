package trackmatecellpose.glue;

import java.awt.GraphicsEnvironment;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

import org.scijava.ItemIO;
import org.scijava.command.Command;
import org.scijava.plugin.Parameter;
import org.scijava.plugin.Plugin;

import fiji.plugin.trackmate.Logger;

/**
 * <i>Plugins › Tracking › TrackMate-Cellpose › Set up a Python environment</i>: builds the Python environment the
 * detector's worker runs in ({@link EnvBuilder}) and records it for this Fiji. In the GUI a window shows the progress
 * and can cancel; headless (a script: {@code command.run(SetUpPythonCommand.class, true, "cellpose", "3", ...)}) the
 * progress goes to the log and a failure is an exception with the builder's message. Output {@code environmentPython}:
 * the environment's Python executable.
 */
@Plugin( type = Command.class, menuPath = "Plugins>Tracking>TrackMate-Cellpose>Set up a Python environment",
		headless = true )
public class SetUpPythonCommand implements Command
{
	static final String DESCRIPTION = "Builds an isolated Python environment for the Cellpose advanced (Python) "
			+ "detector in your user data folder, with cellpose and the PyTorch build for this machine (CUDA on "
			+ "NVIDIA, MPS on Apple silicon, CPU otherwise), and a Python interpreter when none is suitable. It "
			+ "downloads about 1-3 GB; a cancelled or failed build resumes when run again.";

	@Parameter( label = "cellpose version", choices = { EnvBuilder.CELLPOSE_3, EnvBuilder.CELLPOSE_4 },
			description = "cellpose 3 (cyto3, nuclei, ...) or cellpose 4 (Cellpose-SAM, cpsam)" )
	private String cellpose = EnvBuilder.CELLPOSE_3;

	@Parameter( label = "torch build", choices = { EnvBuilder.AUTO, EnvBuilder.CPU, EnvBuilder.CUDA, EnvBuilder.MPS },
			description = "auto: CUDA with an NVIDIA driver, MPS on Apple silicon, else CPU" )
	private String variant = EnvBuilder.AUTO;

	@Parameter( label = "package index URL", required = false, persist = false,
			description = "Simple index used instead of PyPI (a mirror); empty: PyPI" )
	private String indexUrl = "";

	@Parameter( label = "extra index URLs", required = false, persist = false,
			description = "More package indexes, separated by spaces (advanced)" )
	private String extraIndexUrls = "";

	@Parameter( label = "find links", required = false, persist = false,
			description = "Folders or pages with wheels, separated by spaces (advanced, e.g. offline)" )
	private String findLinks = "";

	@Parameter( label = "torch backend", required = false, persist = false,
			description = "uv's --torch-backend instead of the one of the torch build (cpu, cu126, cu128, ...; "
					+ "none: torch from the package index)" )
	private String torchBackend = "";

	@Parameter( label = "Python", required = false, persist = false,
			description = "Python interpreter (path) or versions to use; empty: " + EnvBuilder.PYTHON_REQUEST )
	private String python = "";

	@Parameter( label = "trackmate-cellpose package", required = false, persist = false,
			description = "Wheel, folder or requirement of trackmate-cellpose to install (advanced); empty: this "
					+ "version's" )
	private String packageSpec = "";

	@Parameter( type = ItemIO.OUTPUT, label = "Python of the environment" )
	private String environmentPython;

	@Override
	public void run()
	{
		final EnvBuilder.Options o = new EnvBuilder.Options();
		o.cellpose = cellpose;
		o.variant = variant;
		o.indexUrl = nz( indexUrl );
		o.extraIndexUrls = nz( extraIndexUrls );
		o.findLinks = nz( findLinks );
		o.torchBackend = nz( torchBackend );
		o.python = nz( python );
		o.packageSpec = nz( packageSpec );
		final boolean headless = GraphicsEnvironment.isHeadless();
		final EnvBuilder.Result r = headless ? runHeadless( o ) : runWithWindow( o );
		if ( r.ok() )
			environmentPython = r.python;
		else if ( headless )
			throw new IllegalStateException( r.message ); // a script fails with the builder's message
		// with a window, the window shows what failed: no second error dialog
	}

	private static String nz( final String s )
	{
		return s == null ? "" : s;
	}

	private static EnvBuilder.Result runHeadless( final EnvBuilder.Options o )
	{
		final Logger logger = CellposePyLogging.fallbackLogger();
		final EnvBuilder.Result r = new EnvBuilder().build( o, new EnvBuilder.Listener()
		{
			@Override
			public void progress( final double fraction, final String message )
			{
				logger.log( String.format( "[%3.0f%%] %s%n", 100 * fraction, message ) );
			}

			@Override
			public void log( final String line )
			{
				logger.log( line + "\n" );
			}
		} );
		logger.log( r.message + "\n" );
		return r;
	}

	private static EnvBuilder.Result runWithWindow( final EnvBuilder.Options o )
	{
		final CountDownLatch latch = new CountDownLatch( 1 );
		final AtomicReference< EnvBuilder.Result > result = new AtomicReference<>();
		javax.swing.SwingUtilities.invokeLater( () -> EnvSetupDialog.start( null, o, r -> {
			result.set( r );
			latch.countDown();
		} ) );
		try
		{
			latch.await();
		}
		catch ( final InterruptedException e )
		{
			Thread.currentThread().interrupt();
			return new EnvBuilder.Result( "cancelled", null, null, "Interrupted." );
		}
		return result.get();
	}
}
