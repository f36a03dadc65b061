// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package net.imagej.axis;


/** Root of the axis types: AnnotatedSpace.axis(int) returns this erasure, so calls compile to the real descriptor. */
public interface Axis {}
