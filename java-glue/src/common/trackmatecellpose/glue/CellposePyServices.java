package trackmatecellpose.glue;

/**
 * Process-wide registry of the Python detection service, and the order in which a detection finds one
 * ({@link #resolve()}). Depends on nothing but the JDK, except {@link #resolve()} (SciJava, through
 * {@link PyImageJDiscovery}).
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

	/** The registered in-process service, or {@code null}. */
	public static CellposePyService get()
	{
		return service;
	}

	/**
	 * The service that runs a detection in this Fiji, in this order:
	 * <ol>
	 * <li>the in-process service registered by a Fiji started from Python ({@code trackmate-cellpose fiji},
	 * {@code trackmate_cellpose.bridge.start_fiji});</li>
	 * <li>in a Fiji that Python started (pyimagej, Fiji's Python mode), the service of that Python, found through
	 * SciJava's ObjectService ({@link PyImageJDiscovery}); {@code null} when that Python cannot import
	 * trackmate-cellpose ({@link #notRunningMessage()} then says what to install);</li>
	 * <li>the warm Python worker of a classic launch ({@link CellposePyWorker}), started on first use with the Python
	 * recorded by {@code trackmate-cellpose install-fiji} (or the {@code PYTHON_EXECUTABLE} setting).</li>
	 * </ol>
	 */
	public static CellposePyService resolve()
	{
		final CellposePyService s = service;
		if ( s != null )
			return s;
		final PyImageJDiscovery.Result found = PyImageJDiscovery.discover();
		if ( found.service != null )
			return found.service;
		if ( found.inPython && found.reason != null )
			return null;
		return CellposePyWorker.shared();
	}

	/** Message for TrackMate when no Python can run the detector. */
	public static String notRunningMessage()
	{
		final PyImageJDiscovery.Result found = PyImageJDiscovery.lastResult();
		if ( found != null && found.inPython && found.reason != null )
			return found.reason;
		return "No Python can run the Cellpose advanced (Python) detector in this Fiji: none runs in its process and no "
				+ "Python worker is configured. Run 'trackmate-cellpose install-fiji --fiji <this Fiji.app>' from the "
				+ "Python environment that has trackmate-cellpose and cellpose (a Fiji started from its icon then "
				+ "starts that Python as a worker), or start Fiji with 'trackmate-cellpose fiji'.";
	}
}
