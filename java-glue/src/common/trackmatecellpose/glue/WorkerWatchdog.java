package trackmatecellpose.glue;

import java.io.IOException;
import java.util.function.BooleanSupplier;

/**
 * Watches one phase: sends the cancel when TrackMate's cancel flag is set, kills the worker when it outlives the
 * cancel grace or the phase's deadline. A daemon thread, ended by {@link #finish()}.
 */
final class WorkerWatchdog extends Thread
{
	private final WorkerProcess w;

	/** TrackMate's cancel flag of the watched request ({@code null}: none). */
	private final BooleanSupplier canceled;

	/** How long a cancelled request may keep running before the worker is killed. */
	private final long graceMs;

	private final int requestId;

	private final long deadline;

	private final String timeoutReason;

	private volatile boolean done;

	/** Starts watching a detection; {@code timeoutMs} 0 = no deadline. */
	WorkerWatchdog( final WorkerProcess w, final DetectionSink sink, final int requestId, final long timeoutMs,
			final String timeoutReason )
	{
		this( w, sink == null ? null : sink::isCanceled, WorkerProcess.CANCEL_GRACE_MS, requestId, timeoutMs,
				timeoutReason );
	}

	/** Starts watching; {@code graceMs} after a cancel the worker is killed; {@code timeoutMs} 0 = no deadline. */
	WorkerWatchdog( final WorkerProcess w, final BooleanSupplier canceled, final long graceMs, final int requestId,
			final long timeoutMs, final String timeoutReason )
	{
		super( "trackmate-cellpose-worker-watchdog" );
		this.w = w;
		this.canceled = canceled;
		this.graceMs = graceMs;
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
			if ( canceled != null && canceled.getAsBoolean() )
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
				else if ( now - cancelSentAt > graceMs )
				{
					w.kill( "it did not stop within " + graceMs / 1000 + " s of the cancel" );
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
