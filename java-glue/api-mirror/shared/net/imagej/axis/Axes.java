// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package net.imagej.axis;


public final class Axes { private Axes() {} public static final AxisType X = null, Y = null, Z = null, TIME = null, CHANNEL = null; }
