// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package fiji.plugin.trackmate.detection;


import fiji.plugin.trackmate.Model;
import fiji.plugin.trackmate.Settings;
import fiji.plugin.trackmate.TrackMateFactoryBase;
import fiji.plugin.trackmate.gui.components.ConfigurationPanel;
import net.imglib2.type.NativeType;
import net.imglib2.type.numeric.RealType;
public interface SpotDetectorFactoryBase<T extends RealType<T> & NativeType<T>> extends TrackMateFactoryBase<SpotDetectorFactoryBase<T>> {
  ConfigurationPanel getDetectorConfigurationPanel(Settings settings, Model model);
  default boolean has2Dsegmentation() { return false; }
}
