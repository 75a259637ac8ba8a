"""The simulator benchmark's library (``simulator/bench.py``) and batch sharding, on tiny inputs."""

import jax
import numpy as np
import pytest

import simulator
from simulator import bench
from simulator import cluster as cluster_lib
from simulator import types
from simulator import vectorized


def test_random_graph_is_reproducible_and_acyclic():
  a, b = bench.random_graph(200, seed=3), bench.random_graph(200, seed=3)
  assert a.num_nodes == 200 and np.array_equal(a.senders, b.senders)
  assert np.all(a.senders < a.receivers)  # edges only go forward: a DAG by construction


def test_measure_rows_and_table():
  cluster = cluster_lib.get_cluster("v100x4", 4)
  shards = (1, 2) if jax.local_device_count() >= 2 else (1,)
  rows = bench.measure(bench.random_graph(60), cluster, batches=(4,), engines=("scan",), min_seconds=0.0,
                       repeats=1, shards=shards + (3,))  # 3 does not divide the batch: skipped
  assert [r["shards"] for r in rows] == list(shards)
  for r in rows:
    assert r["evals_per_s"] > 0 and r["reference_evals_per_s"] > 0 and r["padded"] == 64
  text = bench.table(rows)
  assert text.count("\n") == 1 + len(rows) and "| shards |" in text


@pytest.mark.skipif(jax.local_device_count() < 2, reason="needs >= 2 devices (./test.sh sets 8 host devices)")
def test_sharded_batch_equals_unsharded():
  graph = bench.random_graph(120, seed=1)
  cluster = cluster_lib.get_cluster("v100x4", 4)
  g, jc = vectorized.prepare(graph, cluster)
  decisions = types.pad_decisions(bench.random_decisions(np.random.default_rng(0), 120, 4, 8), g.node_mask.shape[0])
  one = simulator.simulate_batch(g, jc, decisions)
  two = simulator.simulate_batch(g, jc, decisions, num_shards=2)
  np.testing.assert_allclose(np.asarray(two.step_time), np.asarray(one.step_time), rtol=1e-6)
  np.testing.assert_allclose(np.asarray(two.peak_memory), np.asarray(one.peak_memory), rtol=1e-6)


def test_bad_shard_count_is_a_clear_error():
  graph = bench.random_graph(30)
  g, jc = vectorized.prepare(graph, cluster_lib.get_cluster("v100x4", 4))
  decisions = types.pad_decisions(bench.random_decisions(np.random.default_rng(0), 30, 4, 3), g.node_mask.shape[0])
  with pytest.raises(ValueError, match="must divide the batch"):
    simulator.simulate_batch(g, jc, decisions, num_shards=2)


def test_stage_profile_times_every_stage():
  profile = bench.stage_profile(bench.random_graph(50), cluster_lib.get_cluster("v100x4", 4), batch=4, repeats=1)
  assert set(profile) == {"key_pass", "kernels_rows", "schedule_pass", "peak_memory", "total"}
  assert all(v > 0 for v in profile.values())
