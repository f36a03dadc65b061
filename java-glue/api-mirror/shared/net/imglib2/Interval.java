// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package net.imglib2;


public interface Interval extends EuclideanSpace { long min(int d); long max(int d); default long dimension(int d) { return max(d) - min(d) + 1; } }
