package trackmatecellpose.glue;

import fiji.plugin.trackmate.Logger;

/**
 * The logger used by detectors that TrackMate gives none (7.x has no {@code SpotGlobalDetector.setLogger}): set by
 * the configuration panel (the GUI's log) or by a headless run.
 */
public final class CellposePyLogging
{
	private static volatile Logger fallbackLogger;

	private CellposePyLogging()
	{}

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
}
