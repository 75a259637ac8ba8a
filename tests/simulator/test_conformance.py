"""Checks against numbers nobody here produced: dnn-partitioning max-load of human-expert splits.

Published evaluator values (Tarnawski et al., NeurIPS 2020, expert splits on 6
accelerators, throughput inputs, layer graphs), in the files' ms.
"""

import os

import numpy as np
import pytest

from go_jax.graph import dnn_partitioning
from simulator import cluster as cluster_lib
from simulator import objectives
from simulator import reference
from simulator import types
from simulator import vectorized

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "dnn-partitioning")
PUBLISHED_MS = {"resnet50_inference": 43.9183, "bert24_inference": 20.084, "gnmt_inference": 46.2085,
                "inceptionv3_inference": 102.482}


def _load(name):
  path = os.path.join(DATA, "throughput-inputs", "LayerGraphs", f"{name}.json")
  if not os.path.exists(path):
    pytest.skip(f"dnn-partitioning data not found at {DATA}")
  graph = dnn_partitioning.load(path)
  placement = dnn_partitioning.load_expert_split(os.path.join(DATA, "human-experts", f"{name}_expert.json"), graph)
  return graph, placement, cluster_lib.for_dnn_partitioning(graph.meta)


@pytest.mark.parametrize("name", sorted(PUBLISHED_MS))
def test_max_load_of_expert_split(name):
  graph, placement, cluster = _load(name)
  assert cluster.num_devices == 7  # 6 accelerators + the CPU
  assert objectives.max_load(graph, cluster, placement) * 1e3 == pytest.approx(PUBLISHED_MS[name], abs=1e-3)


@pytest.mark.parametrize("name", ["resnet50_inference",
                                  pytest.param("bert24_inference", marks=pytest.mark.slow)])
def test_max_load_vectorized_and_reference_step_time(name):
  graph, placement, cluster = _load(name)
  decisions = types.default_decisions(graph.num_nodes, placement)
  ref, _ = reference.simulate_reference(graph, cluster, decisions)
  g, jcluster = vectorized.prepare(graph, cluster)
  out = vectorized.simulate(g, jcluster, types.pad_decisions(decisions, g.node_mask.shape[0]))
  # float32: 1e-3 ms absolute on a ~40 ms load.
  assert float(out.max_load) * 1e3 == pytest.approx(PUBLISHED_MS[name], abs=1e-3)
  np.testing.assert_allclose(float(out.step_time), ref.step_time, rtol=1e-5)
  np.testing.assert_allclose(np.asarray(out.peak_memory), ref.peak_memory, rtol=1e-5)
  assert ref.step_time >= objectives.lower_bound(graph, cluster) * (1 - 1e-9)
