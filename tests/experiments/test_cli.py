"""experiments/cli.py: atomic writes and the one-line error contract."""

import os

import pytest

from experiments import cli


def test_write_atomically_replaces_whole_file_and_leaves_no_temporaries(tmp_path):
  path = tmp_path / "sub" / "table.md"
  cli.write_atomically("first", str(path))
  cli.write_atomically("second", str(path))
  assert path.read_text() == "second"
  assert os.listdir(path.parent) == ["table.md"]
  umask = os.umask(0)
  os.umask(umask)
  assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600


def test_write_atomically_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
  path = tmp_path / "out.json"
  path.write_text("old")

  def broken_replace(src, dst):
    raise OSError("disk full")

  monkeypatch.setattr(os, "replace", broken_replace)
  with pytest.raises(OSError, match="disk full"):
    cli.write_atomically("new", str(path))
  assert path.read_text() == "old"
  assert os.listdir(tmp_path) == ["out.json"]
