// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package fiji.plugin.trackmate;

public class TrackMate { public TrackMate(Model model, Settings settings) {} public Settings getSettings() { return null; } public Model getModel() { return null; } }
