"""The command line's terminal output (``cli._terminal``) from several threads at once: the pipelined engine logs from
the network's thread while a masks thread draws cellpose's progress bar (which holds tqdm's lock and logs)."""

from __future__ import annotations

import subprocess
import sys

BAR_THAT_LOGS = """
import logging, threading, time
from tqdm import tqdm
from trackmate_cellpose.cli._terminal import setup_logging
setup_logging()
drawing, done = threading.Event(), []
def draw():  # a bar being drawn (tqdm's lock held) that logs, as cellpose's bars do through its logger
    with tqdm.get_lock():
        drawing.set()
        time.sleep(0.5)  # meanwhile the other thread logs
        logging.getLogger("trackmate_cellpose").warning("from the bar")
    done.append("bar")
t = threading.Thread(target=draw, daemon=True)
t.start()
drawing.wait()
logging.getLogger("trackmate_cellpose").warning("from the network")
t.join(20)
done.append("network")
print(",".join(done), flush=True)
"""


def test_a_progress_bar_that_logs_while_another_thread_logs_does_not_deadlock():
    # found in a whole-suite run (a docs tutorial hung): the handler held logging's lock around tqdm.write while
    # the bar's thread held tqdm's lock and waited for logging's
    proc = subprocess.run([sys.executable, "-c", BAR_THAT_LOGS], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "bar,network", proc.stderr
    assert proc.stderr.splitlines() == ["trackmate-cellpose: warning: from the bar",
                                        "trackmate-cellpose: warning: from the network"]
