"""asv: ``trackmate_cellpose.detect`` end to end with the bundled model (warm), on a small 2D+t movie and a small 3D
stack.

Per-commit cases of the ``engine`` suite (``python -m benchmarks engine`` compares with bare cellpose).
"""

from trackmate_cellpose import RuntimeOptions, detect

from . import _cases


class Detect:
    """4 frames of 96 x 96 (2D+t) and one 12 x 48 x 48 stack (3D mode), the model loaded in ``setup``."""

    timeout = 600

    def setup(self):
        self.settings, self.cal = _cases.settings(), _cases.calibration()
        self.runtime = RuntimeOptions(device="cpu")
        self.movie, _ = _cases.image("2d:4x96x96")
        self.stack, _ = _cases.image("3d:12x48x48")
        detect(self.movie[:1], self.settings, axes="tyx", calibration=self.cal, runtime=self.runtime)  # warm

    def time_detect_2dt(self):
        detect(self.movie, self.settings, axes="tyx", calibration=self.cal, runtime=self.runtime)

    def peakmem_detect_2dt(self):
        detect(self.movie, self.settings, axes="tyx", calibration=self.cal, runtime=self.runtime)

    def time_detect_3d(self):
        detect(self.stack, self.settings, axes="tzyx", calibration=self.cal, runtime=self.runtime)
