// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package net.imagej.axis;


public interface AxisType { String getLabel(); boolean isXY(); boolean isSpatial(); }
