// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package net.imagej.axis;


public interface CalibratedAxis extends Axis { String unit(); AxisType type(); double averageScale(double rawValue1, double rawValue2); }
