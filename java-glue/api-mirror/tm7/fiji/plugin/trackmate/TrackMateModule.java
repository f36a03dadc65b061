// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package fiji.plugin.trackmate;


import javax.swing.ImageIcon;
import org.scijava.plugin.SciJavaPlugin;
public interface TrackMateModule extends SciJavaPlugin {
  String getInfoText(); ImageIcon getIcon(); String getKey(); String getName();
  default boolean forbidMultithreading() { return false; }
}
