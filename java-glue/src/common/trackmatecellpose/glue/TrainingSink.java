package trackmatecellpose.glue;

/**
 * What the Python side reports while it retrains cellpose: progress, log lines, the cancel state it polls (before
 * every training step), a failure (one line for the user, the traceback for the log), and the result. JDK only.
 */
public interface TrainingSink
{
	void progress( double fraction, String status );

	void log( String message );

	boolean isCanceled();

	void fail( String summary, String details );

	/**
	 * The result, as parallel arrays of keys and values: {@code model_path} (empty when nothing was written),
	 * {@code report_path}, {@code picture_path}, {@code stopped} (empty, {@code cancelled} or {@code interrupted}),
	 * {@code epochs_done}, {@code best_epoch}, {@code diameter} (to use the model with; 0 = its own scale),
	 * {@code base_model}, {@code summary}, and with a report {@code f1_base}, {@code f1_new}, {@code found_base},
	 * {@code found_new}, {@code mean_iou_base}, {@code mean_iou_new}, {@code n_true}.
	 */
	void finished( String[] keys, String[] values );
}
