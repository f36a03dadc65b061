// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package fiji.plugin.trackmate.util;


import java.util.Map;
import java.util.function.Supplier;
import fiji.plugin.trackmate.Model;
import fiji.plugin.trackmate.Settings;
import fiji.plugin.trackmate.detection.SpotDetectorFactoryBase;
public class DetectionPreview {
  public DetectionPreviewPanel getPanel() { return null; }
  public static Builder create() { return null; }
  public static final class Builder {
    public Builder model(Model model) { return this; }
    public Builder settings(Settings settings) { return this; }
    public Builder detectorFactory(SpotDetectorFactoryBase<?> factory) { return this; }
    public Builder detectionSettingsSupplier(Supplier<Map<String, Object>> supplier) { return this; }
    public Builder axisLabel(String label) { return this; }
    public Builder thresholdKey(String key) { return this; }
    public DetectionPreview get() { return null; }
  }
}
