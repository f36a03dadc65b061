"""The tutorial's steps as a script, in real TrackMate (headless): crop, 2D+Z, Overlap tracker at IoU 0.25.

Run: ``python tutorial_3d.py /path/to/Fiji.app tutorial_3dt.tif`` (make the movie with make_tutorial_movie.py first).
Writes TrackMate's own XML, ``tutorial_3dt.xml``, beside the movie.
"""

import sys
from pathlib import Path

from trackmate_cellpose import DetectorSettings, test_model_path
from trackmate_cellpose.bridge import run_trackmate, start_fiji
from trackmate_cellpose.tracking import OverlapTrackerSettings

fiji, movie = sys.argv[1], Path(sys.argv[2])

# step 3: the detector's settings (with your own movie: model="cyto3" or "cpsam" instead of the test model)
settings = DetectorSettings(model="CUSTOM", model_path=str(test_model_path()), diameter=10.0,
                            do_2dz=True,  # 2D+Z; False = cellpose's 3D mode
                            smoothing_scale=1.0, use_gpu=True)
start_fiji(fiji)  # once per Python process
run = run_trackmate(movie, settings,
                    roi=(16, 16, 96, 96), t_range=(0, 2),  # step 1: the crop (x, y, width, height), frames 0-2
                    tracker="overlap", tracker_settings=OverlapTrackerSettings(min_iou=0.25),  # step 5
                    output=movie.with_suffix(".xml"))
print(f"{run.n_spots} spots, {run.n_tracks} tracks; spots per frame: {run.spots_per_frame}")
