r"""Simulates one decision set on one graph and prints the simulator's outputs.

  python -m experiments.simulate --graph=../shared/data/dnn-partitioning/throughput-inputs/LayerGraphs/resnet50_inference.json \
      --placement=../shared/data/dnn-partitioning/human-experts/resnet50_inference_expert.json --json
"""

import json

from absl import flags

from experiments import cli
from experiments import simulate_lib
from go_jax import baselines

_GRAPH = flags.DEFINE_string("graph", None, "Workload name, variant (rnnlm_2:unroll=6) or graph file.", required=True)
_CLUSTER = flags.DEFINE_string("cluster", None, "Cluster preset or JSON (default: the file's own for "
                               "dnn-partitioning graphs, else v100x4).")
_DEVICES = flags.DEFINE_integer("devices", None, "Use only the first D devices of the cluster.")
_PLACEMENT = flags.DEFINE_string("placement", None, "Decisions JSON, dnn-partitioning expert split, or a "
                                 f"method ({', '.join(baselines.METHODS)}); default single.")
_OBJECTIVE = flags.DEFINE_enum("objective", "step_time", ["step_time", "max_load"], "Objective to print first.")
_JSON = flags.DEFINE_bool("json", False, "Print one JSON object.")


def main(argv):
  del argv
  report = simulate_lib.simulate_to_dict(_GRAPH.value, _CLUSTER.value, _PLACEMENT.value, _DEVICES.value)
  report = {"objective": _OBJECTIVE.value, "value": report[_OBJECTIVE.value], **report}
  if _JSON.value:
    print(json.dumps(report))
  else:
    for key, value in report.items():
      print(f"{key}: {value}")


if __name__ == "__main__":
  cli.run(main)
