"""The Bazel BUILD file is generated from the tree; it must be up to date."""

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_build_file_is_up_to_date():
  generated = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "gen_build.py")],
                             capture_output=True, text=True, check=True).stdout
  with open(os.path.join(REPO, "BUILD"), encoding="utf-8") as f:
    assert f.read() == generated, "BUILD is stale: run `python scripts/gen_build.py > BUILD`"


def test_every_test_folder_is_a_package():
  for directory, dirs, files in os.walk(os.path.join(REPO, "tests")):
    dirs[:] = [d for d in dirs if not d.startswith((".", "__")) and d != "testdata"]
    if any(f.startswith("test_") and f.endswith(".py") for f in files):
      assert "__init__.py" in files, f"{directory} has tests but no __init__.py"
