"""The detect call is defined once (issue 12 item 3): the public signatures and the keyword mapping derive from the
classes in ``trackmate_cellpose._call``, and every internal layer takes the one ``DetectCall``."""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest

from trackmate_cellpose import RuntimeOptions, detect
from trackmate_cellpose._call import Hooks, Placement
from trackmate_cellpose import _engine, _input
from trackmate_cellpose._call import DetectCall, call_keywords, keyword_signature
from trackmate_cellpose.distributed import _entry as dist_entry
from trackmate_cellpose.distributed import _driver, _worker
from trackmate_cellpose.distributed import detect_distributed


def _fields(c) -> list[str]:
    return [f.name for f in dataclasses.fields(c)]


def test_public_keywords_are_the_fields_of_the_call_and_its_groups():
    # adding a field to DetectCall, Placement or Hooks is the one edit that adds a keyword everywhere
    expected = ([n for n in _fields(DetectCall) if n not in ("image", "settings", "placement", "hooks")]
                + _fields(Placement) + _fields(Hooks) + ["placement", "hooks"])
    assert list(call_keywords()) == expected
    assert list(inspect.signature(detect).parameters) == ["image", "settings", *expected]
    assert list(inspect.signature(detect_distributed).parameters) == ["image", "settings", *expected,
                                                                      "client", "stats"]
    # written out in the functions (IDEs, help(), type checkers see them), held here to what the fields define
    def shape(sig):
        return [(p.name, p.kind, p.default) for p in sig.parameters.values()]

    assert shape(inspect.signature(detect)) == shape(keyword_signature())
    assert shape(inspect.signature(detect_distributed))[:-2] == shape(keyword_signature())
    assert "__signature__" not in vars(detect) and "__signature__" not in vars(detect_distributed)


def test_defaults_in_the_signature_are_the_fields_defaults():
    sig = inspect.signature(detect).parameters
    for c in (Placement, Hooks):
        for f in dataclasses.fields(c):
            assert sig[f.name].default == f.default


@pytest.mark.parametrize("fn", [detect, detect_distributed], ids=lambda f: f.__name__)
def test_every_keyword_is_documented(fn):
    doc = inspect.getdoc(fn).split("Returns")[0]
    missing = [k for k in inspect.signature(fn).parameters if k not in doc]
    assert missing == []


def test_internal_layers_take_the_one_call_object():
    for fn in (_engine.run_detection, _input.prepare_input, dist_entry.detect_call_distributed):
        params = list(inspect.signature(fn).parameters.values())
        assert params[0].name == "call" and params[0].annotation in ("DetectCall", DetectCall), fn
    assert "call" in inspect.signature(_driver.prepare_job).parameters
    # the worker's chunk spec carries the caller's placement as the object, not as loose numbers
    assert {f.name for f in dataclasses.fields(_worker.ChunkSpec)} >= {"placement"}
    assert not {"origin_xyz", "frame_offset"} & {f.name for f in dataclasses.fields(_worker.ChunkSpec)}


def test_flat_keywords_and_group_objects_map_to_the_same_call():
    cancel = lambda: False  # noqa: E731
    flat = DetectCall.from_keywords(np.zeros((2, 4, 4)), axes="tyx", frames=range(2), origin_xyz=[1, 2, 0],
                                    frame_offset=3, cancel=cancel)
    with pytest.warns(DeprecationWarning) as notes:  # the group objects: the old spelling, kept for one release
        grouped = DetectCall.from_keywords(np.zeros((2, 4, 4)), axes="tyx",
                                           placement=Placement(frames=(0, 1), origin_xyz=(1, 2, 0), frame_offset=3),
                                           hooks=Hooks(cancel=cancel))
    assert [str(n.message) for n in notes] == [
        "detect(placement=...) is deprecated and will be removed in trackmate-cellpose 0.3; use the keywords "
        "frames=, origin_xyz=, frame_offset=",
        "detect(hooks=...) is deprecated and will be removed in trackmate-cellpose 0.3; use the keywords "
        "progress=, cancel=, log="]
    assert flat.placement == grouped.placement == Placement((0, 1), (1, 2, 0), 3)
    assert flat.hooks == grouped.hooks
    assert flat.runtime == RuntimeOptions() and flat.settings == grouped.settings


def test_keyword_errors_name_the_keyword():
    with pytest.raises(TypeError, match="unexpected keyword argument 'frame_ofset'"):
        detect(np.zeros((4, 4)), axes="yx", frame_ofset=2)
    with pytest.raises(TypeError, match=r"placement= or its fields \(frames\), not both"), \
            pytest.warns(DeprecationWarning):
        DetectCall.from_keywords(None, placement=Placement(), frames=[0])
    with pytest.raises(TypeError, match="hooks must be a Hooks, got dict"), pytest.warns(DeprecationWarning):
        DetectCall.from_keywords(None, hooks={"log": print})
    with pytest.raises(TypeError, match=r"detect_distributed\(\) got an unexpected keyword argument 'worker'"):
        detect_distributed(np.zeros((4, 4)), axes="yx", worker=2)


def test_docs_detect_examples_use_only_accepted_keywords():
    # the docs' examples call detect() with keywords; each must be one the call still accepts
    import ast
    import re
    import textwrap
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    text = "\n".join(p.read_text() for p in [repo / "README.md", *sorted((repo / "docs").rglob("*.md"))])
    blocks = [textwrap.dedent(b) for b in re.findall(r"```python\n(.*?)```", text, re.S)]
    blocks = [b for b in blocks if "--8<--" not in b]
    used = set()
    for block in blocks:
        for node in ast.walk(ast.parse(block)):
            if isinstance(node, ast.Call) and ast.unparse(node.func) in ("detect", "detect_distributed"):
                used |= {k.arg for k in node.keywords if k.arg}
    assert used and used <= set(call_keywords()), used - set(call_keywords())


def test_old_names_still_import_with_a_notice():
    import importlib
    import sys
    import warnings

    import trackmate_cellpose
    from trackmate_cellpose import results

    sys.modules.pop("trackmate_cellpose.objects", None)
    with pytest.warns(DeprecationWarning, match="trackmate_cellpose.objects is deprecated.*use trackmate_cellpose.results"):
        old = importlib.import_module("trackmate_cellpose.objects")
    assert old is results
    with pytest.warns(DeprecationWarning, match="trackmate_cellpose.Placement is deprecated"):
        assert trackmate_cellpose.Placement is Placement
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new spellings give no notice
        DetectCall.from_keywords(np.zeros((4, 4)), axes="yx", frames=[0], origin_xyz=(0, 0, 0), progress=None)
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        _ = trackmate_cellpose.Nope
