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
 * "Cellpose advanced (Python)" detector factory for the TrackMate 8.x and v9 API (stateless: everything arrives in
 * {@code getDetector}; {@code marshal}/{@code unmarshal}/{@code checkSettings} return an error message or null).
 * {@link #has3Dsegmentation()} overrides the v9 default and is a plain extra method on 8.x.
 */
@Plugin( type = SpotDetectorFactory.class, priority = Priority.LOW - 2. )
public class CellposePyDetectorFactory< T extends RealType< T > & NativeType< T > > implements SpotGlobalDetectorFactory< T >
{
	@Override
	public SpotGlobalDetector< T > getDetector( final ImgPlus< T > img, final Map< String, Object > settings,
			final Interval interval )
	{
		return new CellposePyDetector<>( img, interval, settings, CellposePyLogging.fallbackLogger() );
	}

	@Override
	public String marshal( final Map< String, Object > settings, final Element element )
	{
		return CellposePyKeys.marshal( settings, element );
	}

	@Override
	public String unmarshal( final Element element, final Map< String, Object > settings )
	{
		return CellposePyKeys.unmarshal( element, settings );
	}

	@Override
	public String checkSettings( final Map< String, Object > settings )
	{
		return CellposePyKeys.check( settings );
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
	public boolean has2Dsegmentation()
	{
		return true;
	}

	public boolean has3Dsegmentation()
	{
		return SpotMaker.SUPPORTS_MESHES;
	}

	@Override
	public boolean forbidMultithreading()
	{
		return true;
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
	public String getUrl()
	{
		return CellposePyInfo.URL;
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
