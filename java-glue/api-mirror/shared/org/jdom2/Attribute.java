// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package org.jdom2;


public class Attribute { public String getName() { return null; } public String getValue() { return null; } }
