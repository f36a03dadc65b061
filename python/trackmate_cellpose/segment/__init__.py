"""Cellpose segmentation: the ONLY subpackage that imports cellpose or torch (lazily, inside functions).

``models`` checks the model setting before any work (cheap: no cellpose import); ``adapter`` owns every
cellpose call and speaks both the 3.x and 4.x APIs; ``_engine`` (one level up) drives it; :func:`clean_labels` is
the clean-up every detection applies to cellpose's labels (also for callers who run cellpose themselves).
"""

from ._adapter import CellposeAdapter, NetworkOutput, build_eval_kwargs
from ._inference import cpu_has_native_bf16, export_onnx
from ._label_cleanup import clean_labels
from ._models import check_model, cellpose_major_version

__all__ = ["CellposeAdapter", "NetworkOutput", "build_eval_kwargs", "cellpose_major_version", "check_model",
           "clean_labels", "cpu_has_native_bf16", "export_onnx"]
