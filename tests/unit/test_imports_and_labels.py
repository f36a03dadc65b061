import subprocess
import sys

import numpy as np

from trackmate_cellpose.segment._label_cleanup import clean_labels, remove_small, split_disconnected


def test_import_loads_no_heavy_backend():
    code = ("import sys, trackmate_cellpose, trackmate_cellpose.cli; "
            "bad=[m for m in ('torch','cellpose','jpype','imagej','scyjava') if m in sys.modules]; "
            "print(','.join(bad)); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_split_disconnected_gives_unique_ids():
    lab = np.zeros((3, 10, 10), np.uint16)
    lab[0, 1:3, 1:3] = 5
    lab[2, 6:9, 6:9] = 5  # same id, separate object (stitching after an empty plane)
    lab[1, 5, 5] = 2
    out = split_disconnected(lab)
    ids = set(np.unique(out)) - {0}
    assert len(ids) == 3
    assert out[2, 7, 7] == 5 and out[0, 1, 1] not in (0, 5, 2)  # the larger component keeps its id


def test_remove_small_and_clean():
    lab = np.zeros((20, 20), np.int32)
    lab[0:2, 0:2] = 3          # 4 px
    lab[5:15, 5:15] = 9        # 100 px
    assert set(np.unique(remove_small(lab, 5))) == {0, 9}
    out = clean_labels(lab, min_size=5, split=False)
    assert set(np.unique(out)) == {0, 1} and (out == 1).sum() == 100
    assert remove_small(lab, 0) is not lab and (remove_small(lab, 0) == lab).all()
