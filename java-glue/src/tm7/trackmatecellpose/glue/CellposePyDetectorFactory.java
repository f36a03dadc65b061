package trackmatecellpose.glue;

import java.util.Map;

import javax.swing.ImageIcon;

import org.jdom2.Element;
import org.scijava.Priority;
import org.scijava.plugin.Plugin;

import fiji.plugin.trackmate.Model;
import fiji.plugin.trackmate.Settings;
import fiji.plugin.trackmate.detection.SpotDetectorFactory;
import fiji.plugin.trackmate.detection.SpotGlobalDetector;
import fiji.plugin.trackmate.detection.SpotGlobalDetectorFactory;
import fiji.plugin.trackmate.gui.components.ConfigurationPanel;
import net.imagej.ImgPlus;
import net.imglib2.Interval;
import net.imglib2.type.NativeType;
import net.imglib2.type.numeric.RealType;

/**
 * "Cellpose advanced (Python)" detector factory for the TrackMate 7.x API (stateful: {@code setTarget} then
 * {@code getDetector(interval)}; {@code marshall}/{@code unmarshall} return booleans).
 */
@Plugin( type = SpotDetectorFactory.class, priority = Priority.LOW - 2. )
public class CellposePyDetectorFactory< T extends RealType< T > & NativeType< T > > implements SpotGlobalDetectorFactory< T >
{
	protected ImgPlus< T > img;

	protected Map< String, Object > settings;

	protected String errorMessage;

	@Override
	public boolean setTarget( final ImgPlus< T > img, final Map< String, Object > settings )
	{
		this.img = img;
		this.settings = settings;
		return checkSettings( settings );
	}

	@Override
	public SpotGlobalDetector< T > getDetector( final Interval interval )
	{
		return new CellposePyDetector<>( img, interval, settings, CellposePyLogging.fallbackLogger() );
	}

	@Override
	public String getErrorMessage()
	{
		return errorMessage;
	}

	@Override
	public boolean marshall( final Map< String, Object > settings, final Element element )
	{
		errorMessage = CellposePyKeys.marshal( settings, element );
		return errorMessage == null;
	}

	@Override
	public boolean unmarshall( final Element element, final Map< String, Object > settings )
	{
		errorMessage = CellposePyKeys.unmarshal( element, settings );
		return errorMessage == null;
	}

	@Override
	public ConfigurationPanel getDetectorConfigurationPanel( final Settings settings, final Model model )
	{
		return new CellposePyConfigurationPanel( settings, model, this );
	}

	@Override
	public Map< String, Object > getDefaultSettings()
	{
		return CellposePyKeys.defaults();
	}

	@Override
	public boolean checkSettings( final Map< String, Object > settings )
	{
		errorMessage = CellposePyKeys.check( settings );
		return errorMessage == null;
	}

	@Override
	public boolean has2Dsegmentation()
	{
		return true;
	}

	@Override
	public boolean forbidMultithreading()
	{
		return true;
	}

	@Override
	public CellposePyDetectorFactory< T > copy()
	{
		return new CellposePyDetectorFactory<>();
	}

	@Override
	public String getInfoText()
	{
		return CellposePyInfo.INFO_TEXT;
	}

	@Override
	public ImageIcon getIcon()
	{
		return null;
	}

	@Override
	public String getKey()
	{
		return CellposePyKeys.DETECTOR_KEY;
	}

	@Override
	public String getName()
	{
		return CellposePyKeys.DETECTOR_NAME;
	}
}
