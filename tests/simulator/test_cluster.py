"""Cluster presets, first-D helper, JSON round trip and one-line errors."""

import json

import jax
import numpy as np
import pytest

from simulator import cluster as cluster_lib


@pytest.mark.parametrize("name", sorted(cluster_lib.PRESETS))
def test_presets_are_valid_and_round_trip(name, tmp_path):
  cluster = cluster_lib.get_cluster(name)
  assert cluster.num_devices == len(cluster.device_kinds)
  path = tmp_path / "c.json"
  cluster_lib.save_json(cluster, path)
  again = cluster_lib.load_json(path)
  assert again.device_kinds == cluster.device_kinds and again.name == cluster.name
  for a, b in zip(jax.tree.leaves(cluster), jax.tree.leaves(again)):
    np.testing.assert_array_equal(a, b)


def test_preset_sizes():
  sizes = {name: cluster_lib.get_cluster(name).num_devices for name in cluster_lib.PRESETS}
  assert sizes == {"k80x2": 2, "p100x4": 4, "v100x4": 4, "v100x8": 8, "a100x8": 8, "h100x8": 8,
                   "tpu_v3_8": 8, "cpu_host": 1}
  v100 = cluster_lib.get_cluster("v100x8")
  assert v100.link_bandwidth[0, 4] == 50e9 and v100.link_bandwidth[0, 5] == 10e9  # cube-mesh


def test_first_devices_and_host():
  cluster = cluster_lib.get_cluster("v100x8", 3)
  assert cluster.num_devices == 3 and np.shape(cluster.link_latency) == (3, 3)
  with_host = cluster_lib.with_host(cluster)
  assert with_host.device_kinds == ("gpu", "gpu", "gpu", "cpu")
  with pytest.raises(cluster_lib.ClusterError, match="cannot take the first 9"):
    cluster_lib.get_cluster("v100x8", 9)


def test_bad_json_names_file_and_field(tmp_path):
  path = tmp_path / "bad.json"
  good = cluster_lib.to_dict(cluster_lib.get_cluster("p100x4"))
  path.write_text("{not json")
  with pytest.raises(cluster_lib.ClusterError, match=r"bad.json: invalid JSON at line 1"):
    cluster_lib.load_json(path)
  for field, value, message in (("peak_flops", [1, 2], "'peak_flops' has shape"),
                                ("link_bandwidth", -1.0, "'link_bandwidth' must be > 0"),
                                ("eff", {"bogus": 1.0}, "unknown op class 'bogus'"),
                                ("mem_capacity", "x", "'mem_capacity' is not a number")):
    path.write_text(json.dumps({**good, field: value}))
    with pytest.raises(cluster_lib.ClusterError, match=message) as info:
      cluster_lib.load_json(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
  del good["eff_bw"]
  path.write_text(json.dumps(good))
  with pytest.raises(cluster_lib.ClusterError, match="missing field 'eff_bw'"):
    cluster_lib.load_json(path)


def test_memory_suffix_gives_every_device_that_capacity():
  squeezed = cluster_lib.get_cluster("v100x4@9.5GiB")
  np.testing.assert_array_equal(squeezed.mem_capacity, np.full(4, 9.5 * 2 ** 30))
  assert squeezed.name == f"v100x4@{9.5 * 2 ** 30:.6g}B"
  again = cluster_lib.get_cluster(squeezed.name)  # the name parses back to the same cluster
  np.testing.assert_allclose(again.mem_capacity, squeezed.mem_capacity, rtol=1e-5)  # 6 digits in the name
  np.testing.assert_array_equal(again.link_bandwidth, cluster_lib.get_cluster("v100x4").link_bandwidth)
  assert cluster_lib.get_cluster("a100x8@16GB", 2).mem_capacity.tolist() == [16e9, 16e9]
  with pytest.raises(cluster_lib.ClusterError, match=r"'v100x4@9.5TB': the memory suffix must look like @9.5GiB"):
    cluster_lib.get_cluster("v100x4@9.5TB")
  with pytest.raises(cluster_lib.ClusterError, match="memory capacity must be a positive number of bytes, got 0.0"):
    cluster_lib.get_cluster("v100x4@0GiB")
