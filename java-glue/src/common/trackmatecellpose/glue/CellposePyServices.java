package trackmatecellpose.glue;

/**
 * Process-wide registry of the Python detection service. Depends on nothing but the JDK, except {@link #resolve()}
 * (SciJava, through {@link PyImageJDiscovery}).
 */
public final class CellposePyServices
{
	private static volatile CellposePyService service;

	/** Default built-in model of the Python side's cellpose (set at registration; the settings table's until then). */
	private static volatile String defaultModel;

	/** Built-in models of the Python side's cellpose (set at registration; every version's until then). */
	private static volatile String[] models;

	private CellposePyServices()
	{}

	/** Registers (or, with {@code null}, removes) the Python service. */
	public static void register( final CellposePyService s )
	{
		service = s;
	}

	/**
	 * Sets what the Python side's cellpose offers: its default model (cellpose 3: cyto3, cellpose 4: cpsam) and its
	 * built-in model names, so that TrackMate's defaults and the panel follow the installed cellpose.
	 */
	public static void setModels( final String defaultModelName, final String[] builtinModels )
	{
		models = builtinModels.clone();
		defaultModel = defaultModelName;
	}

	/** Default built-in model of the Python side's cellpose. */
	public static String defaultModel()
	{
		final String m = defaultModel;
		return m != null ? m : SettingsTable.get().fallbackModel;
	}

	/** Built-in models of the Python side's cellpose (a copy). */
	public static String[] models()
	{
		final String[] m = models;
		return m != null ? m.clone() : SettingsTable.get().allBuiltinModels().toArray( new String[ 0 ] );
	}

	/** The registered service, or {@code null}. */
	public static CellposePyService get()
	{
		return service;
	}

	/**
	 * The service to detect with: the registered one, else the one found in a Fiji that Python started
	 * ({@link PyImageJDiscovery}); {@code null} if neither.
	 */
	public static CellposePyService resolve()
	{
		final CellposePyService s = service;
		return s != null ? s : PyImageJDiscovery.discover().service;
	}

	/** Message for TrackMate when no Python service is registered. */
	public static String notRunningMessage()
	{
		final PyImageJDiscovery.Result found = PyImageJDiscovery.lastResult();
		if ( found != null && found.inPython && found.reason != null )
			return found.reason;
		return "The Python side of the Cellpose advanced (Python) detector is not running in this Fiji. "
				+ "Start Fiji from Python with 'trackmate-cellpose fiji' (or trackmate_cellpose.bridge.start_fiji()); "
				+ "a Fiji started from its icon cannot run this detector yet.";
	}
}
