"""torch's process state through ``segment.runtime`` (what the distributed worker and ``doctor`` use)."""

import torch

from trackmate_cellpose.segment._torch_state import set_torch_threads, torch_info, torch_threads


def test_set_torch_threads_sets_and_reports():
    before = torch.get_num_threads()
    try:
        assert set_torch_threads(1) == 1 == torch.get_num_threads() == torch_threads()
        assert set_torch_threads(0) == 1  # at least one thread
    finally:
        torch.set_num_threads(before)


def test_torch_info_describes_the_installed_torch():
    info = torch_info()
    assert info.version == torch.__version__ and info.cuda_build == torch.version.cuda
    assert len(info.cuda_devices) == (torch.cuda.device_count() if torch.cuda.is_available() else 0)
