// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package fiji.plugin.trackmate;


public class SpotBase implements Spot {
  public SpotBase(double x, double y, double z, double radius, double quality) {}
  public int numDimensions() { return 3; }
  public double getDoublePosition(int d) { return 0; }
  public void putFeature(String feature, Double value) {}
  public Double getFeature(String feature) { return null; }
}
