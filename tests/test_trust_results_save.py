"""Atomic saves: a kill during a save must leave the previous result intact; no write-through."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from _surface_helpers import sample_interactions
from fastspex import report
from fastspex.cli import main
from fastspex.interactions import Interactions

# The child patches open() so that a write to the result writes a little, says so, and hangs:
# the parent then SIGKILLs it mid-save.
CHILD = textwrap.dedent('''
    import builtins, io, sys, time
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from _surface_helpers import sample_interactions
    from fastspex import report

    marker = Path({marker!r})
    real_open = builtins.open

    class Slow:
        def __init__(self, f):
            self._f = f
        def write(self, text):
            self._f.write(text[:50])
            self._f.flush()
            marker.write_text("writing")
            time.sleep(60)
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            self._f.close()
        def __getattr__(self, name):
            return getattr(self._f, name)

    def slow_open(file, mode="r", *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        return Slow(f) if "w" in mode and not str(file).endswith("marker") else f

    res = sample_interactions("features")
    res.baseline = 123.0
    builtins.open = io.open = slow_open
    if {what!r} == "result":
        res.save(Path({target!r}))
    else:
        report.save(res, Path({target!r}))
''')


def _kill_mid_save(tmp_path: Path, target: Path, what: str) -> None:
    marker = tmp_path / "marker"
    code = CHILD.format(tests=str(Path(__file__).parent), marker=str(marker),
                        target=str(target), what=what)
    child = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            if child.poll() is not None:
                pytest.fail(f"child ended early: {child.stderr.read().decode()}")
            if time.monotonic() > deadline:
                pytest.fail("child never started writing")
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_kill_during_result_save_keeps_the_old_result(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    good = sample_interactions("features")
    good.save(path)
    before = path.read_bytes()
    _kill_mid_save(tmp_path, path, "result")
    assert path.read_bytes() == before
    assert Interactions.load(path).baseline == good.baseline


@pytest.mark.slow
def test_kill_during_report_save_keeps_the_old_report(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    report.save(sample_interactions("features"), path)
    before = path.read_bytes()
    _kill_mid_save(tmp_path, path, "report")
    assert path.read_bytes() == before


def test_save_replaces_a_symlink_instead_of_writing_through(tmp_path: Path) -> None:
    res = sample_interactions("features")
    precious = tmp_path / "precious.txt"
    precious.write_text("do not touch")
    for name, save in (("result.json", res.save),
                       ("report.html", lambda p: report.save(res, p))):
        link = tmp_path / name
        link.symlink_to(precious)
        save(link)
        assert not link.is_symlink() and link.is_file()
        assert precious.read_text() == "do not touch"
    assert Interactions.load(tmp_path / "result.json").labels == res.labels


def test_save_keeps_permissions_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    res = sample_interactions("features")
    path = tmp_path / "result.json"
    res.save(path)
    path.chmod(0o640)
    res.save(path)
    assert path.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]


def test_report_refuses_to_overwrite_its_own_result(tmp_path: Path, capsys) -> None:
    path = tmp_path / "R.json"
    sample_interactions("features").save(path)
    before = path.read_bytes()
    for out in (str(path), str(tmp_path / "." / "R.json")):
        with pytest.raises(SystemExit) as exc:
            main(["report", str(path), "--out", out])
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "is the result file itself" in err[0], err
        assert path.read_bytes() == before


def test_report_out_symlink_to_the_result_is_refused_and_other_links_replaced(
        tmp_path: Path, capsys) -> None:
    path = tmp_path / "R.json"
    sample_interactions("features").save(path)
    before = path.read_bytes()
    link = tmp_path / "link.html"
    link.symlink_to(path)
    with pytest.raises(SystemExit) as exc:
        main(["report", str(path), "--out", str(link)])
    assert exc.value.code == 2 and path.read_bytes() == before
    capsys.readouterr()
    other = tmp_path / "other.txt"
    other.write_text("keep")
    link2 = tmp_path / "r.html"
    link2.symlink_to(other)
    assert main(["report", str(path), "--out", str(link2)]) == 0
    assert other.read_text() == "keep" and not link2.is_symlink()
    assert "data:image/png" in link2.read_text()
