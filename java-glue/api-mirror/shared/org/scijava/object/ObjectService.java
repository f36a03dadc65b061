// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package org.scijava.object;

import java.util.List;
import org.scijava.service.SciJavaService;

public interface ObjectService extends SciJavaService {
  default <T> List<T> getObjects(Class<T> type) { return null; }
  default String getName(Object obj) { return null; }
}
