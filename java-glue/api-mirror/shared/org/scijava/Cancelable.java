// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package org.scijava;


public interface Cancelable { boolean isCanceled(); void cancel(String reason); String getCancelReason(); }
