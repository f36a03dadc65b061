package trackmatecellpose.glue;

import java.awt.Frame;
import java.awt.GraphicsEnvironment;
import java.io.File;
import java.io.IOException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

import org.scijava.Cancelable;

import fiji.plugin.trackmate.Logger;
import fiji.plugin.trackmate.SelectionModel;
import fiji.plugin.trackmate.Settings;
import fiji.plugin.trackmate.TrackMate;
import fiji.plugin.trackmate.action.TrackMateAction;
import fiji.plugin.trackmate.gui.displaysettings.DisplaySettings;
import fiji.plugin.trackmate.io.TmXmlWriter;
import fiji.plugin.trackmate.util.TMUtils;
import ij.ImagePlus;
import ij.io.FileInfo;
import net.imagej.ImgPlus;
import net.imglib2.Interval;

/**
 * TrackMate action "Retrain cellpose on these spots": fine-tunes cellpose on the spots of the current TrackMate model
 * (the visible ones, as the user curated them) in the same Python side the detector uses (in-process or the Python
 * worker), shows progress in TrackMate's log, can be cancelled (the best epoch so far is kept), then offers to put the
 * new model into the detector settings.
 * <p>
 * The spots travel as TrackMate's own XML (its {@code TmXmlWriter}, with v9's {@code .meshes}) in a private temporary
 * file; the pixels of TrackMate's detection box as for a detection. The options come from the settings table (the
 * {@code training} rows, generated from Python's {@code trackmate_cellpose.training}); a GUI asks for them, headless
 * callers set them with {@link #setOptions(Map)} ({@code APPLY = true} puts the model into the detector settings
 * without asking).
 */
public class RetrainCellposeAction implements TrackMateAction, Cancelable
{
	/** Option: put the new model into the detector settings without asking (headless; default false). */
	public static final String KEY_APPLY = "APPLY";

	/** Option: the model file to write (default: next to the image, {@code <image>-retrained.pth}). */
	public static final String KEY_OUTPUT = "OUTPUT";

	private Logger logger;

	private final Map< String, Object > options = new LinkedHashMap<>();

	private volatile String cancelReason;

	private volatile Sink sink;

	private Map< String, String > result = Collections.emptyMap();

	private String errorMessage;

	private boolean applied;

	@Override
	public void setLogger( final Logger logger )
	{
		this.logger = logger;
	}

	/** Sets options (see {@link TrainingRequest}, plus {@link #KEY_APPLY}) that replace the defaults and the GUI. */
	public void setOptions( final Map< String, Object > opts )
	{
		options.clear();
		options.putAll( opts );
	}

	/** The Python side's result of the last run (empty when it failed or did not run). */
	public Map< String, String > result()
	{
		return result;
	}

	/** Why the last run failed ({@code null} when it did not). */
	public String errorMessage()
	{
		return errorMessage;
	}

	/** Whether the last run put its model into the detector settings. */
	public boolean applied()
	{
		return applied;
	}

	@Override
	public void execute( final TrackMate trackmate, final SelectionModel selectionModel,
			final DisplaySettings displaySettings, final Frame parent )
	{
		final Logger log = logger != null ? logger : trackmate.getModel().getLogger();
		result = Collections.emptyMap();
		errorMessage = null;
		applied = false;
		cancelReason = null;
		final Settings settings = trackmate.getSettings();
		if ( settings == null || settings.imp == null )
		{
			fail( log, "Retrain cellpose: TrackMate has no image; open the image the spots were detected on." );
			return;
		}
		final boolean gui = parent != null && !GraphicsEnvironment.isHeadless();
		final Map< String, Object > opts = RetrainCellposeDialog.defaults();
		opts.put( KEY_OUTPUT, defaultOutput( settings.imp ) );
		opts.putAll( options );
		if ( gui && options.isEmpty() && !RetrainCellposeDialog.ask( parent, opts ) )
			return;
		final boolean applyWithoutAsking = Boolean.TRUE.equals( opts.remove( KEY_APPLY ) );
		final Map< String, Object > detector = detectorSettings( settings );
		final CellposePyService service = CellposePyServices.resolve();
		if ( !( service instanceof CellposePyTrainer ) )
		{
			fail( log, service == null ? CellposePyServices.notRunningMessage()
					: "Retrain cellpose: the trackmate-cellpose of the Python side (" + service.describe()
							+ ") cannot train: upgrade it (pip install -U trackmate-cellpose) and run "
							+ "'trackmate-cellpose install-fiji' again." );
			return;
		}
		File xml = null;
		RetrainCellposeDialog.Progress window = null;
		try
		{
			xml = File.createTempFile( "trackmate-cellpose-curated-", ".xml" );
			final TmXmlWriter writer = new TmXmlWriter( xml );
			writer.appendModel( trackmate.getModel() );
			writer.appendSettings( settings );
			writer.writeToFile();
			opts.put( "XML", xml.getAbsolutePath() );
			@SuppressWarnings( { "unchecked", "rawtypes" } )
			final ImgPlus img = TMUtils.rawWraps( settings.imp );
			final Interval interval = TMUtils.getIntervalWithTime( img, settings );
			@SuppressWarnings( "unchecked" )
			final TrainingRequest request = new ImgPlusTrainingRequest(
					new ImgPlusDetectionRequest( img, interval, detector ), opts );
			final Sink s = new Sink( log );
			sink = s;
			if ( cancelReason != null )
				s.cancel();
			if ( gui )
				window = RetrainCellposeDialog.showProgress( parent, () -> cancel( "cancelled by the user" ) );
			log.log( "Retrain cellpose: training on the visible spots; the model goes to " + opts.get( KEY_OUTPUT ) + "\n" );
			( ( CellposePyTrainer ) service ).train( request, s );
			if ( s.failure != null )
			{
				fail( log, "Retrain cellpose: " + s.failure );
				if ( s.details != null )
					log.error( s.details + "\n" );
				return;
			}
			result = s.result;
			final String model = result.get( "model_path" );
			if ( model == null || model.isEmpty() )
			{
				errorMessage = "Retrain cellpose: cancelled before the first epoch ended; nothing was written.";
				log.log( errorMessage + "\n" );
				return;
			}
			log.log( result.getOrDefault( "summary", "" ) + "\n" );
			if ( window != null )
				window.close();
			final boolean apply = applyWithoutAsking || ( gui && RetrainCellposeDialog.offerModel( parent, result ) );
			if ( apply )
			{
				useModel( settings, detector, model, result.get( "diameter" ) );
				applied = true;
				log.log( "Retrain cellpose: the detector settings now use " + CellposePyKeys.DETECTOR_NAME
						+ " with the new model " + model + "; run the detection again to see it.\n" );
			}
		}
		catch ( final IOException | RuntimeException e )
		{
			fail( log, "Retrain cellpose: " + e );
		}
		finally
		{
			sink = null;
			if ( window != null )
				window.close();
			if ( xml != null )
			{
				new File( xml.getAbsolutePath() + ".meshes" ).delete();
				xml.delete();
			}
		}
	}

	private void fail( final Logger log, final String message )
	{
		errorMessage = message;
		log.error( message + "\n" );
	}

	/** The detector settings the Python side reads: the current ones when they are this detector's, else defaults. */
	static Map< String, Object > detectorSettings( final Settings settings )
	{
		if ( settings.detectorFactory != null && CellposePyKeys.DETECTOR_KEY.equals( settings.detectorFactory.getKey() )
				&& settings.detectorSettings != null )
			return new LinkedHashMap<>( settings.detectorSettings );
		final Map< String, Object > m = CellposePyKeys.defaults();
		final Object channel = settings.detectorSettings == null ? null
				: settings.detectorSettings.get( CellposePyKeys.KEY_TARGET_CHANNEL );
		if ( channel instanceof Integer )
			m.put( CellposePyKeys.KEY_TARGET_CHANNEL, channel );
		return m;
	}

	/** Puts the model into the detector settings (switching the detector to this one when another was chosen). */
	@SuppressWarnings( "rawtypes" )
	static void useModel( final Settings settings, final Map< String, Object > detector, final String model,
			final String diameter )
	{
		if ( settings.detectorFactory == null || !CellposePyKeys.DETECTOR_KEY.equals( settings.detectorFactory.getKey() ) )
		{
			settings.detectorFactory = new CellposePyDetectorFactory();
			settings.detectorSettings = new LinkedHashMap<>( detector );
		}
		settings.detectorSettings.put( CellposePyKeys.KEY_CELLPOSE_MODEL, CellposePyKeys.CUSTOM_MODEL );
		settings.detectorSettings.put( CellposePyKeys.KEY_CELLPOSE_MODEL_FILEPATH, model );
		try
		{
			settings.detectorSettings.put( CellposePyKeys.KEY_CELL_DIAMETER, Double.valueOf( diameter ) );
		}
		catch ( final NumberFormatException | NullPointerException e )
		{
			// no diameter from Python: keep the setting as it is
		}
	}

	/** {@code <image folder>/<image name>-retrained.pth}, numbered so that no file is replaced. */
	static String defaultOutput( final ImagePlus imp )
	{
		final FileInfo fi = imp.getOriginalFileInfo();
		final String dir = fi != null && fi.directory != null && new File( fi.directory ).isDirectory() ? fi.directory
				: System.getProperty( "user.home" );
		String name = imp.getTitle() == null ? "image" : imp.getTitle();
		final int dot = name.lastIndexOf( '.' );
		if ( dot > 0 )
			name = name.substring( 0, dot );
		File f = new File( dir, name + "-retrained.pth" );
		for ( int k = 2; f.exists(); k++ )
			f = new File( dir, name + "-retrained-" + k + ".pth" );
		return f.getAbsolutePath();
	}

	// --- Cancelable -------------------------------------------------------------------------------------------

	@Override
	public boolean isCanceled()
	{
		return cancelReason != null;
	}

	@Override
	public void cancel( final String reason )
	{
		cancelReason = reason == null ? "cancelled" : reason;
		final Sink s = sink;
		if ( s != null )
			s.cancel();
	}

	@Override
	public String getCancelReason()
	{
		return cancelReason;
	}

	/** Progress to TrackMate's log panel, the cancel flag, the failure and the result. */
	private static final class Sink implements TrainingSink
	{
		private final Logger log;

		private volatile boolean canceled;

		private String failure, details;

		private Map< String, String > result = Collections.emptyMap();

		Sink( final Logger log )
		{
			this.log = log;
		}

		void cancel()
		{
			canceled = true;
		}

		@Override
		public void progress( final double fraction, final String status )
		{
			log.setProgress( fraction );
			log.setStatus( status );
		}

		@Override
		public void log( final String message )
		{
			log.log( message + "\n" );
		}

		@Override
		public boolean isCanceled()
		{
			return canceled;
		}

		@Override
		public void fail( final String summary, final String details )
		{
			failure = summary;
			this.details = details;
		}

		@Override
		public void finished( final String[] keys, final String[] values )
		{
			final Map< String, String > m = new LinkedHashMap<>();
			for ( int i = 0; i < keys.length && i < values.length; i++ )
				m.put( keys[ i ], values[ i ] );
			result = m;
		}
	}
}
