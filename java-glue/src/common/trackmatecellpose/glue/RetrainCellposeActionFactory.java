package trackmatecellpose.glue;

import javax.swing.ImageIcon;

import org.scijava.plugin.Plugin;

import fiji.plugin.trackmate.action.TrackMateAction;
import fiji.plugin.trackmate.action.TrackMateActionFactory;

/** TrackMate's action "Retrain cellpose on these spots" (the wizard's last panel): {@link RetrainCellposeAction}. */
@Plugin( type = TrackMateActionFactory.class )
public class RetrainCellposeActionFactory implements TrackMateActionFactory
{
	/** Key of the action in TrackMate's ActionProvider. */
	public static final String KEY = "RETRAIN_CELLPOSE_PY";

	public static final String NAME = "Retrain cellpose on these spots";

	@Override
	public String getInfoText()
	{
		return "<html>Fine-tunes cellpose on the spots as you curated them (the visible spots, with their outlines in "
				+ "2D, their meshes in 3D on TrackMate v9), in the Python that runs " + CellposePyKeys.DETECTOR_NAME
				+ ". The log shows the progress; Cancel keeps the best epoch so far. A report beside the model "
				+ "compares the base and the new model on held-out frames. Then it offers to use the new model in "
				+ "the detector settings.</html>";
	}

	@Override
	public ImageIcon getIcon()
	{
		return null;
	}

	@Override
	public String getKey()
	{
		return KEY;
	}

	@Override
	public String getName()
	{
		return NAME;
	}

	@Override
	public TrackMateAction create()
	{
		return new RetrainCellposeAction();
	}
}
