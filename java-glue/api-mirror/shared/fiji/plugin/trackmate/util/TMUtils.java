// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package fiji.plugin.trackmate.util;

import org.scijava.Context;

public class TMUtils { public static Context getContext() { return null; } }
