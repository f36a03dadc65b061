// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package ij.measure;


public class Calibration { public String getUnit() { return null; } public String getTimeUnit() { return null; } }
