"""errors.py's rule, checked on the source: every error raised on purpose derives from TrackMateCellposeError.

An AST scan of python/trackmate_cellpose finds every ``raise <BuiltinException>(...)``; each must be on the allow-list
below, which says why a built-in is right there (an interpreter protocol, private code's impossible state, a module
that may not import the package). Errors the package defines derive from TrackMateCellposeError (warnings excepted),
pickle with their attributes, and the ones standing for a built-in still are that built-in.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import pickle
from pathlib import Path

import pytest

import trackmate_cellpose.errors as errors

PACKAGE = Path(__file__).resolve().parents[2] / "python" / "trackmate_cellpose"
_BUILTIN_EXCEPTIONS = {n for n in dir(builtins)
                       if isinstance(getattr(builtins, n), type) and issubclass(getattr(builtins, n), BaseException)}

#: Control flow, not errors: raising them anywhere is their purpose.
_CONTROL_FLOW = {"SystemExit", "KeyboardInterrupt", "StopIteration", "GeneratorExit"}

#: (module, built-in) -> why a built-in is raised there. An entry that no longer matches a raise fails the test.
ALLOWED: dict[tuple[str, str], str] = {
    ("_call.py", "TypeError"): "DetectCall.from_keywords checks keywords the way the interpreter checks a signature "
                               "(unexpected keyword, a group and its fields both given): Python's own error type",
    ("_deprecated.py", "AttributeError"): "a module __getattr__ must raise AttributeError (the import protocol)",
    ("bridge/_prebuilt.py", "ValueError"): "setup.py loads this file by path: it may import nothing of the package; "
                                           "parsing our own compiled class files, an impossible state",
    ("bridge/_prebuilt.py", "RuntimeError"): "setup.py loads this file by path (javac failing at package build, a "
                                             "glue without its @Plugin class): build-time, not a user's call",
    ("bridge/worker.py", "EOFError"): "the protocol reader's end-of-stream signal, caught by read_loop",
    ("bridge/worker.py", "ValueError"): "a malformed protocol message, caught by read_loop, which ends the worker "
                                        "as a closed stdin does (never reaches a caller)",
    ("segment/_adapter.py", "ValueError"): "private: the engine passes one of its three modes (impossible state)",
    ("segment/_inference.py", "ValueError"): "private: RuntimeOptions validated the mode before (impossible "
                                             "state); the ONNX export's refusal is caught by _OnnxForward, which "
                                             "falls back or raises BackendUnavailableError",
    ("training/_metrics.py", "ValueError"): "private: the scores compare two label images the package made of one "
                                            "frame (impossible state)",
    ("training/_report.py", "TypeError"): "json.dump's default= hook: raising TypeError is how it declines a value",
    ("settings.py", "ValueError"): "a field definition that is wrong when the module is imported: a programming "
                                   "error of this package, never a user's value",
}


def _builtin_raises() -> dict[tuple[str, str], list[int]]:
    found: dict[tuple[str, str], list[int]] = {}
    for f in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Raise) or node.exc is None:
                continue
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(target, ast.Name) and target.id in _BUILTIN_EXCEPTIONS - _CONTROL_FLOW:
                found.setdefault((f.relative_to(PACKAGE).as_posix(), target.id), []).append(node.lineno)
    return found


def test_no_bare_builtin_error_is_raised_outside_the_allow_list():
    found = _builtin_raises()
    unexplained = {f"{mod}:{lines} raise {name}" for (mod, name), lines in found.items()
                   if (mod, name) not in ALLOWED}
    assert not unexplained, ("raise the package's own error (errors.py) or add the case to ALLOWED with the reason: "
                             f"{sorted(unexplained)}")
    stale = sorted(set(ALLOWED) - set(found))
    assert not stale, f"allow-list entries that match no raise any more (remove them): {stale}"


def _package_errors() -> list[type]:
    return [c for _, c in inspect.getmembers(errors, inspect.isclass)
            if issubclass(c, BaseException) and c.__module__ == errors.__name__]


def test_every_package_error_derives_from_the_base_and_is_listed():
    for cls in _package_errors():
        assert issubclass(cls, errors.TrackMateCellposeError), cls
        assert cls.__name__ in errors.__all__, cls


@pytest.mark.parametrize("cls, builtin", [
    (errors.PathNotFoundError, FileNotFoundError), (errors.NotAFolderError, NotADirectoryError),
    (errors.IsAFolderError, IsADirectoryError), (errors.NotWritableError, PermissionError),
    (errors.DiskFullError, OSError), (errors.OutputExistsError, FileExistsError),
    (errors.ForeignOutputError, FileExistsError), (errors.InvalidSettingsError, ValueError),
    (errors.UnreadableInputError, ValueError), (errors.UnknownNameError, KeyError),
    (errors.WorkersTimeoutError, TimeoutError),
])
def test_errors_standing_for_a_builtin_are_that_builtin(cls, builtin):
    assert issubclass(cls, builtin) and issubclass(cls, errors.TrackMateCellposeError)


def test_errors_carry_what_failed_and_pickle_with_it(tmp_path):
    cases = [
        (errors.PathNotFoundError("input image not found: x.tif", path=tmp_path / "x.tif"), {"path"}),
        (errors.UnreadableInputError("bad.xml cannot be read", path=tmp_path / "bad.xml", reason="no element"),
         {"path", "reason"}),
        (errors.DiskFullError("no space left on device", path=tmp_path / "a", folder=tmp_path), {"path", "folder"}),
        (errors.ForeignOutputError("not ours", paths=[tmp_path / "user.geff"]), {"paths"}),
        (errors.WorkersTimeoutError("2 SLURM worker(s) not connected after 60 s", waited_s=60.0), {"waited_s"}),
        (errors.InvalidSettingsError("CELL_DIAMETER must be >= 0", key="CELL_DIAMETER", value=-1.0), {"key", "value"}),
        (errors.InvalidImageError("frames missing", path=tmp_path / "t.tif"), {"path"}),
        (errors.UnknownNameError("sample name must be one of 2dt, 3dt, got 'x'", key="name", value="x"),
         {"key", "value"}),
    ]
    for err, attrs in cases:
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err) and str(back) == str(err)
        assert {a: getattr(back, a) for a in attrs} == {a: getattr(err, a) for a in attrs}
    assert str(errors.UnknownNameError("plain message")) == "plain message"  # not KeyError's quoted repr
    assert errors.DiskFullError("x").errno == 28
