// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package org.jdom2;


import java.util.List;
public class Element { public Element(String name) {} public Element setAttribute(String name, String value) { return this; } public List<Attribute> getAttributes() { return null; } public String getAttributeValue(String name) { return null; } }
