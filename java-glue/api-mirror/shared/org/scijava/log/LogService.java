// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package org.scijava.log;

import org.scijava.service.SciJavaService;

public interface LogService extends SciJavaService {
  default void debug(Object msg) {}
  default void info(Object msg) {}
  default void warn(Object msg) {}
  default void error(Object msg) {}
  default void error(Object msg, Throwable t) {}
}
