// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package org.scijava.plugin;

import org.scijava.service.SciJavaService;

public interface PluginService extends SciJavaService {
  void addPlugin(PluginInfo<?> plugin);
  PluginInfo<SciJavaPlugin> getPlugin(String className);
}
