// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package fiji.plugin.trackmate;

public class SelectionModel { public SelectionModel(Model parent) {} }
