// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package fiji.plugin.trackmate.gui.components;


import java.util.Map;
public abstract class ConfigurationPanel extends javax.swing.JPanel {
  public abstract void setSettings(Map<String, Object> settings);
  public abstract Map<String, Object> getSettings();
  public abstract void clean();
}
