"""CI-side: ``trackmate-cellpose fiji`` argument handling and early errors (no JVM is started)."""

from __future__ import annotations

import pytest

from trackmate_cellpose.cli import main


@pytest.mark.parametrize("argv,needle", [
    (["fiji", "--run", "x.tif"], "--run needs -o"),
    (["fiji", "-o", "x.xml"], "needs --run"),
    (["fiji", "--script", "a.groovy", "--run", "x.tif", "-o", "x.xml"], "either --run or --script"),
    (["fiji", "--arg", "a=b"], "--arg needs --script"),
])
def test_usage_errors_exit_2_with_one_line(capsys, argv, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]


def test_bad_roi_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["fiji", "--roi", "1,2", "--run", "x.tif", "-o", "x.xml"])
    assert e.value.code == 2
    assert "X,Y,WIDTH,HEIGHT" in capsys.readouterr().err


def test_missing_fiji_folder_fails_before_any_jvm(tmp_path, capsys):
    img = tmp_path / "x.tif"
    img.write_bytes(b"")
    rc = main(["fiji", "--fiji", str(tmp_path / "nope"), "--run", str(img), "-o", str(tmp_path / "o.xml")])
    assert rc == 1
    err = capsys.readouterr().err
    assert "does not exist" in err and len(err.strip().splitlines()) == 1
    import sys

    assert "jpype" not in sys.modules or not __import__("jpype").isJVMStarted()
