// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package fiji.plugin.trackmate.action;

import fiji.plugin.trackmate.Logger;
import fiji.plugin.trackmate.SelectionModel;
import fiji.plugin.trackmate.TrackMate;
import fiji.plugin.trackmate.gui.displaysettings.DisplaySettings;
public interface TrackMateAction {
  void execute(TrackMate trackmate, SelectionModel selectionModel, DisplaySettings displaySettings, java.awt.Frame parent);
  void setLogger(Logger logger);
}
