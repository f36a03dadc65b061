// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package fiji.plugin.trackmate;


public class SpotRoi extends SpotBase { SpotRoi() { super(0, 0, 0, 0, 0); } public static SpotRoi createSpot(double[] x, double[] y, double quality) { return null; } }
