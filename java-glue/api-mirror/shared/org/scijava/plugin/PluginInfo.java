// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package org.scijava.plugin;

public class PluginInfo<PT extends SciJavaPlugin> {
  public PluginInfo(String className, Class<PT> pluginType, Plugin annotation, ClassLoader classLoader) {}
  public String getClassName() { return null; }
}
