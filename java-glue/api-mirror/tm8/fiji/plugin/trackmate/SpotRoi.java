// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package fiji.plugin.trackmate;


public class SpotRoi { public final double[] x = null, y = null; public static Spot createSpot(double[] x, double[] y, double quality) { return null; } }
