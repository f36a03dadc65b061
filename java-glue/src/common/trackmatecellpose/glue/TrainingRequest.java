package trackmatecellpose.glue;

import java.util.Map;

/**
 * What the Python side reads to retrain cellpose ({@code trackmate_cellpose.bridge._training}): the pixels of
 * TrackMate's detection box, as for a detection, plus the training options. JDK only.
 * <p>
 * Options (absent = the Python default): {@code XML} (the curated spots, written by TrackMate's own XML writer),
 * {@code OUTPUT} (the model file to write), {@code EPOCHS}, {@code LEARNING_RATE} ({@code 0} = default),
 * {@code HOLDOUT_FRACTION}, {@code SEED}, {@code FRAMES} (e.g. {@code "0,3,5-9"}; empty = every frame with a visible
 * spot), {@code BATCH_SIZE}, {@code CROP}, {@code IMAGES_PER_EPOCH}, {@code MODEL} / {@code MODEL_PATH} (the base
 * model; default: the one in the XML's detector settings), {@code OVERWRITE}.
 */
public interface TrainingRequest extends DetectionRequest
{
	/** The training options (String, Integer, Double or Boolean values). */
	Map< String, Object > options();
}
