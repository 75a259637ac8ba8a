"""Tests of GO-JAX's own graph format and of the padded feature views."""

import json
import zipfile

import jraph
import numpy as np
import pytest

from go_jax.graph import features
from go_jax.graph import graph as graph_lib
from go_jax.graph import serialization
from tests import shared_data
from tests.graph import test_graph


def assert_graphs_equal(a, b):
  assert a.name == b.name and a.node_names == b.node_names
  for field in ("op_type", "dtype", "rank", "dims", "flops", "bytes_read", "bytes_written",
                "output_bytes", "param_bytes", "colocation", "senders", "receivers", "edge_bytes"):
    np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
  assert sorted(a.latency) == sorted(b.latency)
  for kind in a.latency:
    np.testing.assert_array_equal(a.latency[kind], b.latency[kind])
  assert sorted(a.node_attrs) == sorted(b.node_attrs)
  for key in a.node_attrs:
    np.testing.assert_array_equal(a.node_attrs[key], b.node_attrs[key])
  if a.transfer_time is None:
    assert b.transfer_time is None
  else:
    np.testing.assert_array_equal(a.transfer_time, b.transfer_time)
  assert dict(a.meta) == dict(b.meta)


def test_round_trip_is_exact(tmp_path):
  g = test_graph.diamond()
  path = tmp_path / "d.gograph.npz"
  serialization.save(g, path)
  assert serialization.is_gograph(path)
  assert_graphs_equal(g, serialization.load(path))


def test_round_trip_with_measured_costs(tmp_path):
  from go_jax.graph import dnn_partitioning  # pylint: disable=g-import-not-at-top
  g = dnn_partitioning.load(shared_data.path(
      "dnn-partitioning", "throughput-inputs", "OperatorGraphs", "bert_l-3_training.json"))
  path = tmp_path / "bert.gograph.npz"
  serialization.save(g, path)
  assert_graphs_equal(g, serialization.load(path))


def test_bad_files_give_one_line_errors(tmp_path):
  junk = tmp_path / "junk.gograph.npz"
  junk.write_bytes(b"not a zip")
  with pytest.raises(graph_lib.GraphError, match="junk.gograph.npz: cannot read GO-JAX graph file"):
    serialization.load(junk)
  g = test_graph.diamond()
  good = tmp_path / "g.gograph.npz"
  serialization.save(g, good)
  truncated = tmp_path / "t.gograph.npz"
  truncated.write_bytes(good.read_bytes()[:200])
  with pytest.raises(graph_lib.GraphError, match="t.gograph.npz: cannot read"):
    serialization.load(truncated)
  future = tmp_path / "future.gograph.npz"
  with np.load(good) as data:
    arrays = {k: data[k] for k in data.files}
  header = json.loads(str(arrays["__header__"]))
  header["version"] = 99
  arrays["__header__"] = np.asarray(json.dumps(header))
  np.savez(future, **arrays)
  with pytest.raises(graph_lib.GraphError, match="unsupported version 99"):
    serialization.load(future)


def test_failed_save_leaves_nothing(tmp_path, monkeypatch):
  def explode(*args, **kwargs):
    raise OSError("disk full")
  monkeypatch.setattr(np, "savez_compressed", explode)
  with pytest.raises(OSError):
    serialization.save(test_graph.diamond(), tmp_path / "x.gograph.npz")
  assert list(tmp_path.iterdir()) == []


def test_no_pickle_in_files(tmp_path):
  path = tmp_path / "d.gograph.npz"
  serialization.save(test_graph.diamond(), path)
  with zipfile.ZipFile(path) as archive:
    for name in archive.namelist():
      with archive.open(name) as f:
        np.lib.format.read_array(f, allow_pickle=False)  # raises if any member needs pickle


def test_bucket_sizes():
  assert [features.bucket_size(n) for n in (0, 1, 64, 65, 1000, 1024, 1025)] == [64, 64, 64, 128, 1024, 1024, 1280]
  # Quarter octaves above 1024: (2048, 4096] is cut at 2560, 3072, 3584, 4096.
  assert [features.bucket_size(n) for n in (2048, 2049, 2560, 2561, 4096, 10_000, 80_000)] == [
      2048, 2560, 2560, 3072, 4096, 10_240, 81_920]
  # Every size fits its bucket with at most 25% waste above 1024 (and all buckets are multiples of 256).
  for n in range(1025, 70_000, 997):
    b = features.bucket_size(n)
    assert n <= b <= 1.25 * n + 256 and b % 256 == 0


def test_graphs_tuple_padding_and_features():
  g = test_graph.diamond()
  gt = features.to_graphs_tuple(g)
  assert gt.n_node.tolist() == [4, 60] and gt.n_edge.tolist() == [4, 60]
  mask = jraph.get_node_padding_mask(gt)
  assert mask.tolist() == [True] * 4 + [False] * 60
  feats = gt.nodes["features"]
  assert feats.shape == (64, features.NUM_NODE_FEATURES) and feats.dtype == np.float32
  # b: 10 FLOPs -> log1p(10)/20; output (4, 4): dims cols 8, 9 = log1p(4)/20, col 6, 7 zero.
  np.testing.assert_allclose(feats[1, 0], np.log1p(10) / 20, rtol=1e-6)
  np.testing.assert_allclose(feats[1, 6:10], [0, 0, np.log1p(4) / 20, np.log1p(4) / 20], rtol=1e-6)
  # d is the only level-2 node of a depth-3 graph: relative level 1.0; in-degree 2.
  assert feats[3, 13] == 1.0
  np.testing.assert_allclose(feats[3, 11], np.log1p(2) / 20, rtol=1e-6)
  assert gt.nodes["topo_rank"][:4].tolist() == [0, 1, 2, 3]
  assert np.all(feats[4:] == 0)
