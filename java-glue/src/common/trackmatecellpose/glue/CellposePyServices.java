package trackmatecellpose.glue;

/**
 * Process-wide registry of the Python detection service. Depends on nothing but the JDK.
 */
public final class CellposePyServices
{
	private static volatile CellposePyService service;

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
		return "The Python side of the Cellpose advanced (Python) detector is not running in this Fiji. "
				+ "Start Fiji from Python with 'trackmate-cellpose fiji' (or trackmate_cellpose.bridge.start_fiji()).";
	}
}
