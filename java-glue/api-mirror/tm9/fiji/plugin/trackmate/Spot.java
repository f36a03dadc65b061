// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package fiji.plugin.trackmate;


import net.imglib2.RealLocalizable;
public interface Spot extends RealLocalizable { void putFeature(String feature, Double value); Double getFeature(String feature); }
