// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package fiji.plugin.trackmate.io;

import java.io.File;
import java.io.FileNotFoundException;
import java.io.IOException;
import fiji.plugin.trackmate.Model;
import fiji.plugin.trackmate.Settings;
public class TmXmlWriter {
  public TmXmlWriter(File file) {}
  public void appendModel(Model model) {}
  public void appendSettings(Settings settings) {}
  public void writeToFile() throws FileNotFoundException, IOException {}
}
