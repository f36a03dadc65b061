// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package fiji.plugin.trackmate.util;


public class DetectionPreviewPanel extends javax.swing.JPanel {}
