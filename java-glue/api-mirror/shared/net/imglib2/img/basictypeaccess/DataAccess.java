// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package net.imglib2.img.basictypeaccess;

public interface DataAccess {}
