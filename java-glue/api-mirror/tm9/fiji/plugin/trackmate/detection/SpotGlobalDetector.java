// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package fiji.plugin.trackmate.detection;


import fiji.plugin.trackmate.Logger;
import fiji.plugin.trackmate.SpotCollection;
import net.imglib2.algorithm.Benchmark;
import net.imglib2.algorithm.OutputAlgorithm;
import net.imglib2.type.NativeType;
import net.imglib2.type.numeric.RealType;
public interface SpotGlobalDetector<T extends RealType<T> & NativeType<T>> extends OutputAlgorithm<SpotCollection>, Benchmark {
  default void setLogger(Logger logger) {}
}
