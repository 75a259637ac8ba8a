"""End-to-end tests of the main job (``./run.sh`` = ``python -m experiments.main``), real subprocesses."""

from tests import cli_run


def run_main(*args):
  return cli_run.run_module("experiments.main", *args, timeout=900)


def test_main_trains_go_and_prints_it_next_to_the_baselines():
  out = run_main("--graph=toy_chains_4x6", "--iterations=3", "--methods=single,heft")
  assert out.returncode == 0, out.stderr
  progress = [line for line in out.stderr.splitlines() if line.startswith("[train] it")]
  assert len(progress) == 3 and "it    3/3" in progress[-1] and "ETA" in progress[-1]
  lines = out.stdout.splitlines()
  methods = [line.split()[0] for line in lines if line.split()]
  for name in ("single", "heft", "go_one", "go_one_greedy"):
    assert name in methods, out.stdout
  # The go_one note: the warm start scored its 5 usable teachers (all but expert, which a toy
  # graph lacks) and the clone's argmax; the relaxed objective's calibration; then 3 iterations
  # of 16 relaxed steps, the argmax and 16 samples.
  assert "3 PPO iterations, 106 simulator evaluations; warm start: cloned" in out.stdout, out.stdout


def test_main_baselines_only_and_bad_tasks():
  out = run_main("--graph=toy_chains_2x4", "--nogo", "--methods=single")
  assert out.returncode == 0, out.stderr
  assert "single" in out.stdout and "go_one" not in out.stdout and "[train]" not in out.stderr
  bad = run_main("--graph=toy_chains_2x4", "--tasks=placement,colour")
  cli_run.check_input_error(bad, "colour", only_line=True)
