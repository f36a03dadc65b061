package trackmatecellpose.glue;

/**
 * Implemented by a Python side that can retrain cellpose (the in-process service of a trackmate-cellpose with the
 * training package, and the Python worker): TrackMate's action "Retrain cellpose on these spots" checks for it.
 */
public interface CellposePyTrainer
{
	/**
	 * Retrains cellpose on the curated spots of {@code request} and reports to {@code sink}. Must not throw; polls
	 * {@link TrainingSink#isCanceled()} before every training step (a cancel keeps the best epoch so far).
	 */
	void train( TrainingRequest request, TrainingSink sink );
}
