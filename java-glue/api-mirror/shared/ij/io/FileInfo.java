// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package ij.io;

public class FileInfo { public String fileName; public String directory; }
