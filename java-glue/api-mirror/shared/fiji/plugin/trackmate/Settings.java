// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package fiji.plugin.trackmate;


public class Settings { public final ij.ImagePlus imp = null; }
