// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package fiji.plugin.trackmate.action;

import fiji.plugin.trackmate.TrackMateModule;
public interface TrackMateActionFactory extends TrackMateModule { TrackMateAction create(); }
