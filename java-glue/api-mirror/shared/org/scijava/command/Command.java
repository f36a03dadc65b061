// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package org.scijava.command;

import org.scijava.plugin.SciJavaPlugin;

public interface Command extends SciJavaPlugin, Runnable {}
