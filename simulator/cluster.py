"""Cluster specs: devices, directed links and the roofline cost-model parameters.

A :class:`Cluster` is an immutable pytree (``flax.struct.dataclass``): its
array fields are leaves, so ``jax.grad`` can differentiate the simulated step
time with respect to them (that is how a spec is calibrated from measured
runtimes), and its name and device kinds are static metadata.

Units: FLOP/s, bytes/s, bytes, seconds. Links are *directed*:
``link_latency[s, d]`` and ``link_bandwidth[s, d]`` describe copies from
device ``s`` to device ``d``; the diagonal is never used (it is normalised to
latency 0 and bandwidth 1 so that no NaN can appear in a gradient).

Presets come from vendor datasheets (cited per preset below). Where a
datasheet gives a peak for several number formats we take the one an ML
training step of that era would use (FP32 for K80/P100, dense FP16/BF16
tensor-core peak from V100 on, BF16 for TPUs); the per-op-class efficiency
factors ``eff`` are *uncalibrated defaults* meant to be replaced by a
calibrated spec (:func:`save_json` / :func:`load_json`).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Callable

import flax.struct
import jax
import numpy as np

from go_jax import errors
from go_jax.graph import ops

#: Default efficiency factor per op class (index = ``ops.OP_CLASSES``):
#: other, source, contraction, elementwise, reduction, data_movement.
DEFAULT_EFF: tuple[float, ...] = (0.2, 1.0, 0.6, 0.25, 0.25, 0.25)
#: Default fraction of the peak memory bandwidth that kernels reach.
DEFAULT_EFF_BW = 0.7

GB = 1e9
GIB = float(2**30)


class ClusterError(errors.InputError):
  """A malformed cluster spec (bad JSON, wrong shapes, non-positive values)."""


@flax.struct.dataclass
class Cluster:
  """An immutable cluster spec (a pytree; ``name`` and ``device_kinds`` are static).

  Attributes:
    peak_flops: (D,) float, peak FLOP/s of each device.
    mem_bandwidth: (D,) float, peak memory bandwidth, bytes/s.
    mem_capacity: (D,) float, device memory, bytes.
    launch_overhead: (D,) float, seconds added to every kernel.
    link_latency: (D, D) float, seconds per copy from row device to column device.
    link_bandwidth: (D, D) float, bytes/s from row device to column device.
    eff: (NUM_OP_CLASSES,) float, achieved fraction of peak FLOP/s per op class.
    eff_bw: () float, achieved fraction of peak memory bandwidth.
    name: preset or file name (static).
    device_kinds: (D,) tuple of str, e.g. ``"gpu"``, ``"tpu"``, ``"cpu"`` (static);
      a graph's measured ``latency[kind]`` is used on devices of that kind.
  """

  peak_flops: Any  # (D,) FLOP/s
  mem_bandwidth: Any  # (D,) bytes/s
  mem_capacity: Any  # (D,) bytes
  launch_overhead: Any  # (D,) seconds
  link_latency: Any  # (D, D) seconds
  link_bandwidth: Any  # (D, D) bytes/s
  eff: Any  # (NUM_OP_CLASSES,) fraction
  eff_bw: Any  # () fraction
  name: str = flax.struct.field(pytree_node=False, default="custom")
  device_kinds: tuple[str, ...] = flax.struct.field(pytree_node=False, default=())

  @property
  def num_devices(self) -> int:
    return int(np.shape(self.peak_flops)[0])


def make_cluster(name: str, device_kinds, peak_flops, mem_bandwidth, mem_capacity, launch_overhead,
                 link_latency, link_bandwidth, eff=DEFAULT_EFF, eff_bw=DEFAULT_EFF_BW) -> Cluster:
  """Builds a validated float64 numpy :class:`Cluster`; scalars broadcast to every device/link.

  Raises:
    ClusterError: on wrong shapes or non-positive / non-finite values.
  """
  if isinstance(device_kinds, str):  # one kind for all: the device count comes from the arrays
    count = max([np.size(v) for v in (peak_flops, mem_bandwidth, mem_capacity, launch_overhead)]
                + [np.shape(v)[0] for v in (link_latency, link_bandwidth) if np.ndim(v) == 2])
    kinds = (device_kinds,) * count
  else:
    kinds = tuple(device_kinds)
  d = len(kinds)
  if d == 0:
    raise ClusterError(f"cluster {name!r}: no devices")

  def vec(field, value, shape):
    arr = np.asarray(value, np.float64)
    try:
      arr = np.broadcast_to(arr, shape).copy()
    except ValueError:
      raise ClusterError(f"cluster {name!r}: field {field!r} has shape {arr.shape}, expected {shape}") from None
    return arr

  fields = {
      "peak_flops": vec("peak_flops", peak_flops, (d,)),
      "mem_bandwidth": vec("mem_bandwidth", mem_bandwidth, (d,)),
      "mem_capacity": vec("mem_capacity", mem_capacity, (d,)),
      "launch_overhead": vec("launch_overhead", launch_overhead, (d,)),
      "link_latency": vec("link_latency", link_latency, (d, d)),
      "link_bandwidth": vec("link_bandwidth", link_bandwidth, (d, d)),
      "eff": vec("eff", eff, (ops.NUM_OP_CLASSES,)),
      "eff_bw": vec("eff_bw", eff_bw, ()),
  }
  np.fill_diagonal(fields["link_latency"], 0.0)
  np.fill_diagonal(fields["link_bandwidth"], 1.0)
  positive = ("peak_flops", "mem_bandwidth", "mem_capacity", "link_bandwidth", "eff", "eff_bw")
  for field, arr in fields.items():
    if not np.all(np.isfinite(arr)):
      raise ClusterError(f"cluster {name!r}: field {field!r} has a non-finite value")
    if field in positive and np.any(arr <= 0):
      raise ClusterError(f"cluster {name!r}: field {field!r} must be > 0")
    if np.any(arr < 0):
      raise ClusterError(f"cluster {name!r}: field {field!r} must be >= 0")
  return Cluster(name=name, device_kinds=kinds, **fields)


def _uniform_links(d: int, latency: float, bandwidth: float) -> tuple[np.ndarray, np.ndarray]:
  return np.full((d, d), latency), np.full((d, d), bandwidth)


def k80x2() -> Cluster:
  """Two GK210 GPUs of one Tesla K80 board over PCIe 3.0 (the GDP/HDP era).

  NVIDIA Tesla K80 datasheet (2014): per board 8.73 TFLOP/s FP32 boost, 24 GB
  GDDR5, 480 GB/s, i.e. per GPU 4.37 TFLOP/s, 12 GB, 240 GB/s. PCIe 3.0 x16:
  15.75 GB/s theoretical, ~12 GB/s achieved; ~10 us per copy.
  """
  lat, bw = _uniform_links(2, 10e-6, 12 * GB)
  return make_cluster("k80x2", "gpu", [4.37e12] * 2, 240 * GB, 12 * GB, 10e-6, lat, bw)


def p100x4() -> Cluster:
  """Four Tesla P100 SXM2 in one DGX-1 quad, fully connected by NVLink 1.

  NVIDIA Tesla P100 datasheet (2016): 10.6 TFLOP/s FP32, 16 GB HBM2 at
  732 GB/s. DGX-1 (P100) whitepaper: the four GPUs of a quad are pairwise
  connected by one NVLink, 20 GB/s per direction.
  """
  lat, bw = _uniform_links(4, 5e-6, 20 * GB)
  return make_cluster("p100x4", "gpu", 10.6e12, 732 * GB, 16 * GB, 5e-6, lat, bw)


def _v100_links(d: int) -> tuple[np.ndarray, np.ndarray]:
  """DGX-1V hybrid cube-mesh: NVLink 2 at 25 GB/s per link per direction.

  NVIDIA "DGX-1 with Tesla V100 System Architecture" whitepaper (2017), Fig. 2:
  each quad (0-3, 4-7) is fully connected, GPUs (0,3) and (1,2) (and their
  mirror) by two links, the others by one; GPU i links to GPU i+4 by two
  links; any other pair goes through PCIe / QPI (~10 GB/s, ~15 us).
  """
  links = np.zeros((8, 8))
  for base in (0, 4):
    for a in range(4):
      for b in range(4):
        if a != b:
          links[base + a, base + b] = 2 if {a, b} in ({0, 3}, {1, 2}) else 1
  for i in range(4):
    links[i, i + 4] = links[i + 4, i] = 2
  bw = np.where(links > 0, links * 25 * GB, 10 * GB)
  lat = np.where(links > 0, 5e-6, 15e-6)
  return lat[:d, :d], bw[:d, :d]


def v100x4() -> Cluster:
  """Four Tesla V100 SXM2 16 GB (one DGX-1V quad).

  NVIDIA Tesla V100 datasheet (2017): 125 TFLOP/s FP16 tensor core, 15.7
  TFLOP/s FP32, 16 GB HBM2 at 900 GB/s. Links: see :func:`_v100_links`.
  """
  lat, bw = _v100_links(4)
  return make_cluster("v100x4", "gpu", 125e12, 900 * GB, 16 * GB, 5e-6, lat, bw)


def v100x8() -> Cluster:
  """Eight Tesla V100 SXM2 16 GB in a DGX-1V hybrid cube-mesh (see :func:`_v100_links`)."""
  lat, bw = _v100_links(8)
  return make_cluster("v100x8", "gpu", 125e12, 900 * GB, 16 * GB, 5e-6, lat, bw)


def a100x8() -> Cluster:
  """Eight A100 SXM4 80 GB behind NVSwitch (DGX A100).

  NVIDIA A100 datasheet (2021): 312 TFLOP/s dense BF16/FP16 tensor core,
  80 GB HBM2e at 2,039 GB/s; NVLink 3 via NVSwitch: 600 GB/s bidirectional per
  GPU, i.e. 300 GB/s per direction between any pair.
  """
  lat, bw = _uniform_links(8, 3e-6, 300 * GB)
  return make_cluster("a100x8", "gpu", 312e12, 2039 * GB, 80 * GB, 4e-6, lat, bw)


def h100x8() -> Cluster:
  """Eight H100 SXM5 80 GB behind NVSwitch (DGX H100).

  NVIDIA H100 datasheet (2023): 989 TFLOP/s dense BF16 tensor core, 80 GB HBM3
  at 3.35 TB/s; NVLink 4: 900 GB/s bidirectional per GPU, 450 GB/s per
  direction between any pair.
  """
  lat, bw = _uniform_links(8, 2e-6, 450 * GB)
  return make_cluster("h100x8", "gpu", 989e12, 3350 * GB, 80 * GB, 3e-6, lat, bw)


def tpu_v3_8() -> Cluster:
  """A Cloud TPU v3-8: 4 chips, 8 TensorCores, each core one device.

  Google Cloud TPU v3 documentation and Jouppi et al., "A domain-specific
  supercomputer for training deep neural networks", CACM 2020: per chip
  123 TFLOP/s BF16, 32 GiB HBM at 900 GB/s, two cores per chip, so per core
  61.5 TFLOP/s, 16 GiB, 450 GB/s. Inter-chip interconnect: 656 Gb/s = 82 GB/s
  per link; cores of one chip share HBM (modelled as a fast 450 GB/s link).
  """
  d = 8
  lat = np.full((d, d), 5e-6)
  bw = np.full((d, d), 82 * GB)
  for chip in range(4):
    a, b = 2 * chip, 2 * chip + 1
    bw[a, b] = bw[b, a] = 450 * GB
    lat[a, b] = lat[b, a] = 1e-6
  return make_cluster("tpu_v3_8", "tpu", 61.5e12, 450 * GB, 16 * GIB, 2e-6, lat, bw)


def cpu_host() -> Cluster:
  """One host CPU socket as a single device.

  Intel Xeon Platinum 8180 (28 cores, AVX-512, 2 FMA units) product brief:
  ~2.2 TFLOP/s FP32 peak at AVX-512 base clock; six DDR4-2666 channels,
  128 GB/s; 192 GB RAM assumed. Launch overhead models a framework op
  dispatch, ~2 us.
  """
  lat, bw = _uniform_links(1, 0.0, 1.0)
  return make_cluster("cpu_host", "cpu", 2.2e12, 128 * GB, 192 * GB, 2e-6, lat, bw)


#: Preset name -> factory. Add a preset by adding an entry; no dispatch ladder.
PRESETS: dict[str, Callable[[], Cluster]] = {
    "k80x2": k80x2,
    "p100x4": p100x4,
    "v100x4": v100x4,
    "v100x8": v100x8,
    "a100x8": a100x8,
    "h100x8": h100x8,
    "tpu_v3_8": tpu_v3_8,
    "cpu_host": cpu_host,
}


def first_devices(cluster: Cluster, num_devices: int) -> Cluster:
  """The cluster restricted to its first ``num_devices`` devices (``--devices=D``)."""
  d = cluster.num_devices
  if not 1 <= num_devices <= d:
    raise ClusterError(f"cluster {cluster.name!r} has {d} devices, cannot take the first {num_devices}")
  k = num_devices
  return Cluster(
      peak_flops=np.asarray(cluster.peak_flops)[:k], mem_bandwidth=np.asarray(cluster.mem_bandwidth)[:k],
      mem_capacity=np.asarray(cluster.mem_capacity)[:k],
      launch_overhead=np.asarray(cluster.launch_overhead)[:k],
      link_latency=np.asarray(cluster.link_latency)[:k, :k],
      link_bandwidth=np.asarray(cluster.link_bandwidth)[:k, :k],
      eff=cluster.eff, eff_bw=cluster.eff_bw, name=f"{cluster.name}[:{k}]",
      device_kinds=cluster.device_kinds[:k])


def with_host(cluster: Cluster, host: Cluster | None = None, latency: float = 10e-6,
              bandwidth: float = 12 * GB) -> Cluster:
  """Appends a host CPU device (index D) linked to every device (default PCIe 3.0 x16)."""
  host = cpu_host() if host is None else host
  d = cluster.num_devices

  def cat(field):
    return np.concatenate([np.asarray(getattr(cluster, field)), np.asarray(getattr(host, field))[:1]])

  lat = np.full((d + 1, d + 1), latency)
  bw = np.full((d + 1, d + 1), bandwidth)
  lat[:d, :d] = cluster.link_latency
  bw[:d, :d] = cluster.link_bandwidth
  return make_cluster(f"{cluster.name}+host", cluster.device_kinds + host.device_kinds[:1],
                      cat("peak_flops"), cat("mem_bandwidth"), cat("mem_capacity"),
                      cat("launch_overhead"), lat, bw, cluster.eff, cluster.eff_bw)


_MEMORY_SUFFIX = re.compile(r"^(?P<value>[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)(?P<unit>B|GB|GiB)$")
_MEMORY_UNITS = {"B": 1.0, "GB": 1e9, "GiB": 2.0 ** 30}


def with_memory(cluster: Cluster, capacity: float) -> Cluster:
  """``cluster`` with ``capacity`` bytes of memory on every device, named ``NAME@<bytes>B``.

  ``get_cluster("NAME@<bytes>B")`` (or ``@<x>GB``, ``@<x>GiB``) builds the same cluster.
  """
  if not np.isfinite(capacity) or capacity <= 0:
    raise ClusterError(f"cluster {cluster.name!r}: memory capacity must be a positive number of bytes, got {capacity}")
  return cluster.replace(mem_capacity=np.full(cluster.num_devices, float(capacity)),
                         name=f"{cluster.name}@{capacity:.6g}B")


def get_cluster(spec: str, num_devices: int | None = None) -> Cluster:
  """A preset name (see :data:`PRESETS`) or a JSON file path, optionally cut to ``num_devices``.

  A suffix ``@<x>GiB`` (or ``GB``, ``B``) gives every device ``x`` of memory
  (:func:`with_memory`), e.g. ``v100x4@9.5GiB``.
  """
  base, at, suffix = spec.rpartition("@")
  memory = _MEMORY_SUFFIX.match(suffix) if at else None
  if at and memory is None and base in PRESETS:
    raise ClusterError(f"cluster {spec!r}: the memory suffix must look like @9.5GiB, @16GB or @1.2e10B")
  if memory is not None:
    capacity = float(memory.group("value")) * _MEMORY_UNITS[memory.group("unit")]
    return with_memory(get_cluster(base, num_devices), capacity)
  if spec in PRESETS:
    cluster = PRESETS[spec]()
  elif spec.endswith(".json") or os.path.exists(spec):
    cluster = load_json(spec)
  else:
    raise ClusterError(f"unknown cluster {spec!r}: not a preset ({', '.join(PRESETS)}) nor a JSON file")
  return cluster if num_devices is None else first_devices(cluster, num_devices)


_JSON_FIELDS = ("peak_flops", "mem_bandwidth", "mem_capacity", "launch_overhead", "link_latency",
                "link_bandwidth", "eff", "eff_bw")


def to_dict(cluster: Cluster) -> dict[str, Any]:
  """A JSON-serializable dict (``eff`` keyed by op class name)."""
  out: dict[str, Any] = {"format": "go_jax.cluster", "version": 1, "name": cluster.name,
                         "device_kinds": list(cluster.device_kinds)}
  for field in _JSON_FIELDS:
    out[field] = np.asarray(getattr(cluster, field), np.float64).tolist()
  out["eff"] = dict(zip(ops.OP_CLASSES, out["eff"]))
  return out


def save_json(cluster: Cluster, path: str | os.PathLike) -> None:
  """Writes ``cluster`` as JSON (round-trips exactly through :func:`load_json`)."""
  with open(path, "w") as f:
    json.dump(to_dict(cluster), f, indent=1)
    f.write("\n")


def load_json(path: str | os.PathLike) -> Cluster:
  """Reads a cluster written by :func:`save_json` (or by hand).

  Raises:
    ClusterError: one line naming the file and the offending field.
  """
  try:
    with open(path) as f:
      raw = json.load(f)
  except OSError as e:
    raise ClusterError(f"{path}: cannot read cluster file ({e.strerror})") from None
  except json.JSONDecodeError as e:
    raise ClusterError(f"{path}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
  if not isinstance(raw, dict):
    raise ClusterError(f"{path}: expected a JSON object, got {type(raw).__name__}")
  for field in ("device_kinds",) + _JSON_FIELDS:
    if field not in raw:
      raise ClusterError(f"{path}: missing field {field!r}")
  kinds = raw["device_kinds"]
  if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
    raise ClusterError(f"{path}: field 'device_kinds' must be a list of strings")
  eff = raw["eff"]
  if isinstance(eff, dict):
    unknown = set(eff) - set(ops.OP_CLASSES)
    if unknown:
      raise ClusterError(f"{path}: field 'eff' has unknown op class {sorted(unknown)[0]!r}")
    eff = [eff.get(c, DEFAULT_EFF[i]) for i, c in enumerate(ops.OP_CLASSES)]
  values = {}
  for field in _JSON_FIELDS:
    value = eff if field == "eff" else raw[field]
    try:
      values[field] = np.asarray(value, np.float64)
    except (TypeError, ValueError):
      raise ClusterError(f"{path}: field {field!r} is not a number or array of numbers") from None
  try:
    return make_cluster(str(raw.get("name", os.path.basename(str(path)))), kinds, **values)
  except ClusterError as e:
    raise ClusterError(f"{path}: {e}") from None


def as_jax(cluster: Cluster, dtype=None) -> Cluster:
  """The cluster with every leaf as a ``jax.Array`` of ``dtype`` (default float32 / float64 under x64)."""
  dtype = dtype or (np.float64 if jax.config.jax_enable_x64 else np.float32)
  return jax.tree.map(lambda x: jax.numpy.asarray(x, dtype), cluster)


def describe(cluster: Cluster) -> str:
  """One line: name, device count and kinds, peak FLOP/s and memory of device 0."""
  return (f"{cluster.name}: {cluster.num_devices} x {','.join(sorted(set(cluster.device_kinds)))}, "
          f"{float(np.asarray(cluster.peak_flops)[0]) / 1e12:.3g} TFLOP/s, "
          f"{float(np.asarray(cluster.mem_capacity)[0]) / GIB:.3g} GiB")


def for_dnn_partitioning(meta) -> Cluster:
  """The cluster a dnn-partitioning file describes: ``max_accelerators`` accelerators, then the CPU.

  Device kinds ``"accelerator"`` and ``"cpu"`` select the file's measured
  latencies; memory per accelerator comes from the file; the measured edge
  costs replace link latency and bandwidth (which are placeholders here).
  """
  try:
    accelerators = int(meta["max_accelerators"])
    memory = float(meta["memory_per_accelerator"])
  except (KeyError, TypeError, ValueError):
    raise ClusterError("graph meta lacks max_accelerators / memory_per_accelerator "
                       "(not a dnn-partitioning graph)") from None
  kinds = ["accelerator"] * accelerators + ["cpu"]
  capacity = [memory] * accelerators + [cpu_host().mem_capacity[0]]
  return make_cluster("dnn_partitioning", kinds, 1e12, 1e11, capacity, 0.0, 0.0, 1e10)
