"""Make the tutorial's movie: a synthetic 3D+t time-lapse of cells, written as a calibrated ImageJ hyperstack.

6 time points, 16 planes of 128 x 128 pixels, 0.5 um pixels, 1 um Z step (anisotropy 2), 5 min between frames;
14 cells drifting slowly. The cells are filled (a cytoplasm-like stain): the bundled test model was trained on such
cells and finds nothing in a membrane stain. Run: ``python make_tutorial_movie.py [OUT.tif]``.
"""

import sys

import numpy as np
import tifffile

from trackmate_cellpose.data import synthetic_movie_3d

PIXEL_UM, Z_UM, DT_MIN = 0.5, 1.0, 5.0


def make_movie(path="tutorial_3dt.tif"):
    movie, truth = synthetic_movie_3d(n_frames=6, shape_zyx=(16, 128, 128), n_objects=14, radius=(7.0, 11.0),
                                      anisotropy=Z_UM / PIXEL_UM, seed=22)
    tifffile.imwrite(path, movie[:, :, None], imagej=True, resolution=(1 / PIXEL_UM, 1 / PIXEL_UM),
                     metadata={"axes": "TZCYX", "spacing": Z_UM, "unit": "um", "finterval": DT_MIN * 60})
    return movie, truth


if __name__ == "__main__":
    movie, truth = make_movie(*sys.argv[1:2])
    print(f"movie {movie.shape} (T, Z, Y, X), {len(np.unique(truth[0])) - 1} cells in frame 0")
