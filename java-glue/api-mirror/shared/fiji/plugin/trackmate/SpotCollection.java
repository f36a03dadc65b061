// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package fiji.plugin.trackmate;


import java.util.Collection;
public class SpotCollection { public SpotCollection() {} public void put(int frame, Collection<Spot> spots) {} }
