// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package org.scijava;

import org.scijava.service.Service;

public class Context { public <S extends Service> S getService(Class<S> c) { return null; } }
