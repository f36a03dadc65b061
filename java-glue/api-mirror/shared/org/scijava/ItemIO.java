// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package org.scijava;

public enum ItemIO { INPUT, OUTPUT, BOTH }
