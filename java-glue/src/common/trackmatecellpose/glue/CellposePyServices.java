package trackmatecellpose.glue;

import fiji.plugin.trackmate.Logger;

/**
 * Process-wide registry of the Python detection service, and the logger used where a TrackMate line gives the
 * detector none (7.x has no {@code SpotGlobalDetector.setLogger}).
 */
public final class CellposePyServices
{
	private static volatile CellposePyService service;

	private static volatile Logger fallbackLogger;

	private CellposePyServices()
	{}

	/** Registers (or, with {@code null}, removes) the Python service. */
	public static void register( final CellposePyService s )
	{
		service = s;
	}

	/** The registered service, or {@code null}. */
	public static CellposePyService get()
	{
		return service;
	}

	/** Message for TrackMate when no Python service is registered. */
	public static String notRunningMessage()
	{
		return "The Python side of the " + CellposePyKeys.DETECTOR_NAME + " detector is not running in this Fiji. "
				+ "Start Fiji from Python with 'trackmate-cellpose fiji' (or trackmate_cellpose.bridge.start_fiji()).";
	}

	/** Sets the logger used by detectors that were given none (e.g. by the GUI panel, or a headless run). */
	public static void setFallbackLogger( final Logger logger )
	{
		fallbackLogger = logger;
	}

	/** The logger set by {@link #setFallbackLogger(Logger)}, else TrackMate's default logger. */
	public static Logger fallbackLogger()
	{
		final Logger l = fallbackLogger;
		return l != null ? l : Logger.DEFAULT_LOGGER;
	}

	/** Version of this glue, checked by the Python side against its own. */
	public static final String GLUE_VERSION = "1";
}
