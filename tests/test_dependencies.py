"""requirements.txt and pyproject.toml pin the same packages at the same versions."""

import os
import re
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _requirements():
  with open(os.path.join(ROOT, "requirements.txt")) as f:
    lines = [line.split("#")[0].strip() for line in f]
  return {line for line in lines if line}


def test_every_requirement_is_pinned_exactly():
  for line in _requirements():
    assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[A-Za-z0-9_.\-]+", line), f"requirements.txt: {line!r} is not pinned with =="


def test_pyproject_pins_match_requirements():
  with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
    project = tomllib.load(f)["project"]
  pinned = set(project["dependencies"])
  for extra in project.get("optional-dependencies", {}).values():
    pinned |= set(extra)
  assert pinned == _requirements()
