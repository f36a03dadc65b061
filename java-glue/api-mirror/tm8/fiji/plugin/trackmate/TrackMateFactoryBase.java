// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package fiji.plugin.trackmate;


import java.util.Map;
import org.jdom2.Element;
public interface TrackMateFactoryBase<F extends TrackMateFactoryBase<F>> extends TrackMateModule {
  default String marshal(Map<String, Object> settings, Element element) { return null; }
  default String unmarshal(Element element, Map<String, Object> settings) { return null; }
  Map<String, Object> getDefaultSettings();
  default String checkSettings(Map<String, Object> settings) { return null; }
  default String toString(Map<String, Object> sm) { return null; }
  default F copy() { return null; }
}
