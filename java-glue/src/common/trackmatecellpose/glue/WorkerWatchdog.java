package trackmatecellpose.glue;

import java.io.IOException;

/**
 * Watches one phase: sends the cancel when TrackMate's cancel flag is set, kills the worker when it outlives the
 * cancel grace or the phase's deadline. A daemon thread, ended by {@link #finish()}.
 */
final class WorkerWatchdog extends Thread
{
	private final WorkerProcess w;

	private final DetectionSink sink;

	private final int requestId;

	private final long deadline;

	private final String timeoutReason;

	private volatile boolean done;

	/** Starts watching; {@code timeoutMs} 0 = no deadline. */
	WorkerWatchdog( final WorkerProcess w, final DetectionSink sink, final int requestId, final long timeoutMs,
			final String timeoutReason )
	{
		super( "trackmate-cellpose-worker-watchdog" );
		this.w = w;
		this.sink = sink;
		this.requestId = requestId;
		this.deadline = timeoutMs > 0 ? System.currentTimeMillis() + timeoutMs : 0;
		this.timeoutReason = timeoutReason;
		setDaemon( true );
		start();
	}

	@Override
	public void run()
	{
		long cancelSentAt = -1;
		while ( !done )
		{
			final long now = System.currentTimeMillis();
			if ( deadline > 0 && now > deadline )
			{
				w.kill( timeoutReason );
				return;
			}
			if ( sink != null && sink.isCanceled() )
			{
				if ( cancelSentAt < 0 )
				{
					cancelSentAt = now;
					try
					{
						w.sendCancel( requestId );
					}
					catch ( final IOException e )
					{
						// the worker is gone: the reader sees it
					}
				}
				else if ( now - cancelSentAt > WorkerProcess.CANCEL_GRACE_MS )
				{
					w.kill( "it did not stop within " + WorkerProcess.CANCEL_GRACE_MS / 1000 + " s of the cancel" );
					return;
				}
			}
			try
			{
				Thread.sleep( 50 );
			}
			catch ( final InterruptedException e )
			{
				return;
			}
		}
	}

	void finish()
	{
		done = true;
		interrupt();
		try
		{
			join( 1000 );
		}
		catch ( final InterruptedException e )
		{
			Thread.currentThread().interrupt();
		}
	}
}
