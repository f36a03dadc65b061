// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package net.imagej.space;


import net.imagej.axis.Axis;
import net.imglib2.EuclideanSpace;
/** Declares axis(int) with a type parameter: its erased return type is Axis, as in ImageJ Common. */
public interface AnnotatedSpace<A extends Axis> extends EuclideanSpace { A axis(int d); }
