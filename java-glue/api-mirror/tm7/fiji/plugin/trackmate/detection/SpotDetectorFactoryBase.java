// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package fiji.plugin.trackmate.detection;


import java.util.Map;
import org.jdom2.Element;
import fiji.plugin.trackmate.Model;
import fiji.plugin.trackmate.Settings;
import fiji.plugin.trackmate.TrackMateModule;
import fiji.plugin.trackmate.gui.components.ConfigurationPanel;
import net.imagej.ImgPlus;
import net.imglib2.type.NativeType;
import net.imglib2.type.numeric.RealType;
public interface SpotDetectorFactoryBase<T extends RealType<T> & NativeType<T>> extends TrackMateModule {
  boolean setTarget(ImgPlus<T> img, Map<String, Object> settings);
  String getErrorMessage();
  boolean marshall(Map<String, Object> settings, Element element);
  boolean unmarshall(Element element, Map<String, Object> settings);
  ConfigurationPanel getDetectorConfigurationPanel(Settings settings, Model model);
  Map<String, Object> getDefaultSettings();
  boolean checkSettings(Map<String, Object> settings);
  default boolean has2Dsegmentation() { return false; }
  SpotDetectorFactoryBase<T> copy();
}
