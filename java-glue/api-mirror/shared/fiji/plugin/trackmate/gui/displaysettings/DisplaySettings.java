// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package fiji.plugin.trackmate.gui.displaysettings;

public class DisplaySettings {}
