package trackmatecellpose.glue;

import java.io.StringWriter;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import javax.script.ScriptContext;
import javax.script.SimpleScriptContext;

import org.scijava.Context;
import org.scijava.object.ObjectService;

import fiji.plugin.trackmate.util.TMUtils;

/**
 * Finds the Python detection service in a Fiji that Python started (pyimagej: {@code imagej.init} in a script or a
 * notebook, Fiji's Python mode, napari-imagej), with no import by the user.
 * <p>
 * pyimagej registers a {@code java.util.function.Function} named {@value #RUNNER_NAME} in SciJava's
 * {@code ObjectService} (scyjava's {@code enable_python_scripting}). Its {@code apply} runs Python code in this very
 * process: the argument's public fields {@code script}, {@code vars} and {@code scriptContext} are read by it. This
 * class runs a few lines that import {@code trackmate_cellpose.bridge} and call its {@code register_service()}, which
 * registers the service with {@link CellposePyServices}, in-process, exactly as {@code trackmate-cellpose fiji} does.
 * In a classic launch (no Python in the process) the runner is absent and {@link #discover()} returns no service and
 * the reason. Depends on the JDK, SciJava's {@code Context}/{@code ObjectService} and {@code TMUtils.getContext()}
 * (present on TrackMate 7.x, 8.x and v9).
 */
public final class PyImageJDiscovery
{
	/** Name under which pyimagej puts its Python script runner into SciJava's {@code ObjectService}. */
	public static final String RUNNER_NAME = "PythonScriptRunner";

	/**
	 * Python run through the runner; its last expression ("OK ..." or "ERROR ...") is returned to Java. With the update
	 * site's glue, its Python code ({@link WorkerPython#privateCode()}, bound as {@code _tmcp_code}) goes first on
	 * that Python's {@code sys.path}: the Python needs cellpose, not trackmate-cellpose.
	 */
	static final String SCRIPT = String.join( "\n",
			"import sys as _tmcp_sys",
			"_tmcp_code = str(_tmcp_code) if _tmcp_code is not None else None",
			"if _tmcp_code and _tmcp_code not in _tmcp_sys.path:",
			"    _tmcp_sys.path.insert(0, _tmcp_code)  # the update site's Python code, of this glue's version",
			"try:",
			"    import trackmate_cellpose.bridge as _tmcp_bridge",
			"    _tmcp_result = 'OK ' + str(_tmcp_bridge.register_service().describe())",
			"except BaseException as _tmcp_e:",
			"    _tmcp_result = 'ERROR %s: %s (Python: %s)' % (type(_tmcp_e).__name__, _tmcp_e, _tmcp_sys.executable)",
			"_tmcp_result",
			"" );

	/** What {@link #discover()} found. */
	public static final class Result
	{
		/** The service, or {@code null}. */
		public final CellposePyService service;

		/** Whether this Fiji runs inside Python (pyimagej's runner is present). */
		public final boolean inPython;

		/** Why there is no service ({@code null} when there is one). */
		public final String reason;

		Result( final CellposePyService service, final boolean inPython, final String reason )
		{
			this.service = service;
			this.inPython = inPython;
			this.reason = reason;
		}
	}

	/** The argument object read by pyimagej's runner (JPype reads these public fields by name). */
	public static final class ScriptArgument
	{
		public String script;

		public Map< String, Object > vars = new HashMap<>();

		public ScriptContext scriptContext;
	}

	private static volatile Result last;

	private PyImageJDiscovery()
	{}

	/**
	 * The registered service; else, in a pyimagej-started Fiji, registers it by running Python through pyimagej's
	 * runner, and returns it. Thread-safe (one discovery at a time); never throws.
	 */
	public static synchronized Result discover()
	{
		Result r;
		try
		{
			r = discoverUnchecked();
		}
		catch ( final Throwable t )
		{
			r = new Result( null, false, "looking for Python in this Fiji failed: " + t );
		}
		last = r;
		return r;
	}

	/** The result of the latest {@link #discover()}, or {@code null} before the first. */
	public static Result lastResult()
	{
		return last;
	}

	private static Result discoverUnchecked()
	{
		final CellposePyService registered = CellposePyServices.get();
		if ( registered != null )
			return new Result( registered, false, null );
		final Function< Object, Object > runner = findRunner();
		if ( runner == null )
			return new Result( null, false, "this Fiji does not run inside Python (no pyimagej '" + RUNNER_NAME
					+ "' in SciJava's ObjectService)" );

		final ScriptArgument arg = new ScriptArgument();
		arg.script = SCRIPT;
		final java.io.File code = WorkerPython.privateCode();
		arg.vars.put( "_tmcp_code", code == null ? null : code.getPath() );
		final StringWriter out = new StringWriter();
		final StringWriter err = new StringWriter();
		final SimpleScriptContext sc = new SimpleScriptContext();
		sc.setWriter( out );
		sc.setErrorWriter( err );
		arg.scriptContext = sc;
		final Object value = runner.apply( arg );
		final String result = value == null ? "" : value.toString();
		final CellposePyService service = CellposePyServices.get();
		if ( service != null && result.startsWith( "OK" ) )
			return new Result( service, true, null );
		final String why = result.startsWith( "ERROR " ) ? result.substring( 6 )
				: ( "no service registered; Python said: " + ( result + " " + err + out ).trim() );
		return new Result( null, true, "trackmate-cellpose could not start in this Fiji's Python: " + why
				+ ". Install it into the Python environment that runs this Fiji (pip install trackmate-cellpose) "
				+ "and restart Fiji." );
	}

	/** Whether this Fiji runs inside Python (pyimagej's runner is there); looks, runs nothing. Never throws. */
	static boolean runnerPresent()
	{
		try
		{
			return findRunner() != null;
		}
		catch ( final Throwable t )
		{
			return false;
		}
	}

	@SuppressWarnings( "unchecked" )
	private static Function< Object, Object > findRunner()
	{
		final Context context = TMUtils.getContext();
		if ( context == null )
			return null;
		final ObjectService objects = context.getService( ObjectService.class );
		if ( objects == null )
			return null;
		final List< Function > candidates = objects.getObjects( Function.class );
		if ( candidates == null )
			return null;
		for ( final Function f : candidates )
			if ( RUNNER_NAME.equals( objects.getName( f ) ) )
				return f;
		return null;
	}
}
