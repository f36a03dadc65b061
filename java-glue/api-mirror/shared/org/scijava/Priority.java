// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package org.scijava;


public final class Priority { private Priority() {} public static final double NORMAL = 0; public static final double LOW = -100; public static final double HIGH = 100; }
