"""evaluation.evaluate: methods' extra record fields (MethodOutput.record) and Problem.checkpoint."""

import numpy as np
import pytest

from go_jax import evaluation
from go_jax.graph import graph as graph_lib
import simulator
from simulator import cluster as cluster_lib


def chain_problem(**kwargs):
  """Two 1-FLOP dots in a chain on one device of 1 FLOP/s: step time 2 s."""
  b = graph_lib.GraphBuilder("chain")
  b.add_node("a", "dot", flops=1)
  b.add_node("b", "dot", flops=1)
  b.add_edge(0, 1, 0)
  cluster = cluster_lib.make_cluster("toy", "gpu", peak_flops=1.0, mem_bandwidth=1e30, mem_capacity=1e12,
                                     launch_overhead=0.0, link_latency=np.ones((1, 1)),
                                     link_bandwidth=np.full((1, 1), 1e30), eff=1.0, eff_bw=1.0)
  return evaluation.Problem(b.build(), cluster, **kwargs)


def test_method_record_fields_reach_the_record():
  def with_curve(problem):
    decisions = simulator.default_decisions(problem.graph.num_nodes, np.zeros(2, np.int32))
    return evaluation.MethodOutput(decisions, evaluations=3, record={"learning_curve": [[3, 0.5, 2.0]]})
  (record,) = evaluation.evaluate(chain_problem(), {"curve": with_curve}, ["curve"])
  assert record["learning_curve"] == [[3, 0.5, 2.0]]
  assert record["step_time"] == pytest.approx(2.0) and record["evaluations"] == 3


def test_record_fields_may_not_overwrite_the_scores():
  def cheat(problem):
    decisions = simulator.default_decisions(problem.graph.num_nodes, np.zeros(2, np.int32))
    return evaluation.MethodOutput(decisions, record={"step_time": 0.0})
  with pytest.raises(ValueError, match="step_time"):
    evaluation.evaluate(chain_problem(), {"cheat": cheat}, ["cheat"])


def test_problem_checkpoint_defaults_to_none():
  assert chain_problem().checkpoint is None
  assert chain_problem(checkpoint="/runs/go").checkpoint == "/runs/go"
