// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package fiji.plugin.trackmate;


public abstract class Logger extends java.io.PrintWriter {
  public static Logger DEFAULT_LOGGER;
  public Logger() { super(System.out); }
  public abstract void log(String message, java.awt.Color color);
  public abstract void error(String message);
  public void log(String message) {}
  public abstract void setProgress(double val);
  public abstract void setStatus(String status);
}
