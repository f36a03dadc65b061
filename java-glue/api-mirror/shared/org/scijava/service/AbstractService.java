// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package org.scijava.service;

import org.scijava.Context;

public abstract class AbstractService implements Service {
  public void initialize() {}
  public Context getContext() { return null; }
}
