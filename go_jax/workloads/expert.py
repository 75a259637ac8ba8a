"""Human-expert placements: the baseline that GO and HDP compare against.

One function per model family, each ``placer(graph, num_devices) -> (N,) int32``.
They map ops to layers through node names (the Flax module path that the JAX
importer keeps in every node name, e.g. ``GNMT/decoder/lstm_2/gates/dot_general``
or ``params/encoder/lstm_0_fw/gates/kernel``), choose a device per layer by the
family's rule, and complete the placement the same way for every family:

1. ops that belong to no layer (glue such as slicing a time step, loss,
   optimizer arithmetic) take the most common device of their producers, in
   topological order; sources without a layer (optimizer state, batch inputs,
   constants) and what is still unplaced take the most common device of their
   consumers, in reverse topological order; anything left goes to device 0;
2. colocation groups (``graph.colocation``, e.g. a parameter with its optimizer
   slots) move, as a whole, to the most common device among their members.

So parameters, their gradients and optimizer state end up with the layer that
uses them, as in a hand-written TF ``with tf.device(...)`` placement where the
variables are created inside the layer's device scope.
"""

from __future__ import annotations

import functools
import re
from typing import Callable, Mapping

import numpy as np

from go_jax.graph import graph as graph_lib
from go_jax.graph import ops

Placer = Callable[[graph_lib.ComputationGraph, int], np.ndarray]


# ---------------------------------------------------------------------------
# Shared machinery.
# ---------------------------------------------------------------------------


def _layer_of_nodes(graph: graph_lib.ComputationGraph, classify: Callable[[tuple[str, ...]], object]) -> list:
  """classify(scope components) for every node, computed once per distinct scope.

  The scope of ``GNMT/decoder/lstm_1/gates/dot_general`` is ``("GNMT",
  "decoder", "lstm_1", "gates")``: the last component (a primitive, or a
  parameter's leaf name) is dropped, and ``attention.keys`` (the scope of a
  Flax module method) counts as module ``attention``.
  """
  cache: dict[str, object] = {}
  out = []
  for name in graph.node_names:
    path = name.rsplit("/", 1)[0] if "/" in name else ""
    if path not in cache:
      cache[path] = classify(tuple(part.split(".", 1)[0] for part in path.split("/")))
    out.append(cache[path])
  return out


def _mode(devices) -> int:
  counts: dict[int, int] = {}
  for d in devices:
    if d >= 0:
      counts[d] = counts.get(d, 0) + 1
  if not counts:
    return -1
  return max(sorted(counts), key=lambda d: counts[d])


def complete_placement(graph: graph_lib.ComputationGraph, device: np.ndarray) -> np.ndarray:
  """Fills unplaced nodes (-1) from their neighbours and enforces colocation.

  Args:
    graph: the graph.
    device: (N,) int, a device per node or -1 where the layer rule said nothing.

  Returns:
    (N,) int32, every node placed, colocation groups on one device.
  """
  device = [int(d) for d in device]
  senders, receivers = graph.senders, graph.receivers
  n = graph.num_nodes
  by_receiver = np.argsort(receivers, kind="stable")
  in_offsets = np.concatenate([[0], np.cumsum(np.bincount(receivers, minlength=n))])
  producers = np.split(senders[by_receiver], in_offsets[1:-1])
  by_sender = np.argsort(senders, kind="stable")
  out_offsets = np.concatenate([[0], np.cumsum(np.bincount(senders, minlength=n))])
  consumers = np.split(receivers[by_sender], out_offsets[1:-1])
  order = graph.topological_order.tolist()
  for v in order:
    if device[v] < 0 and len(producers[v]):
      device[v] = _mode(device[p] for p in producers[v].tolist())
  for v in reversed(order):
    if device[v] < 0 and len(consumers[v]):
      device[v] = _mode(device[c] for c in consumers[v].tolist())
  placement = np.maximum(np.asarray(device, np.int32), 0)
  grouped = np.flatnonzero(graph.colocation >= 0)
  if grouped.size:
    groups, inverse = np.unique(graph.colocation[grouped], return_inverse=True)
    num_devices = int(placement.max()) + 1
    votes = np.zeros((groups.size, num_devices), np.int64)
    np.add.at(votes, (inverse, placement[grouped]), 1)
    placement[grouped] = np.argmax(votes, axis=1)[inverse]
  return placement


def _check_devices(num_devices: int) -> int:
  if not isinstance(num_devices, (int, np.integer)) or isinstance(num_devices, bool) or num_devices < 1:
    raise ValueError(f"num_devices must be a positive int, got {num_devices!r}")
  return int(num_devices)


def _round_robin_slots(graph: graph_lib.ComputationGraph, classify: Callable[[tuple[str, ...]], object],
                       tail: tuple[str, ...], num_devices: int) -> np.ndarray:
  """Pipeline slots ``embedding, layer_0 .. layer_{L-1}, *tail``; slot ``j`` on device ``j mod D``.

  ``classify`` maps a node's layer path to ``"embedding"``, a layer index, a
  name in ``tail``, or None (placed later by :func:`complete_placement`).
  """
  num_devices = _check_devices(num_devices)
  slots = _layer_of_nodes(graph, classify)
  num_layers = 1 + max((s for s in slots if isinstance(s, int)), default=-1)
  slot_index = {"embedding": 0, **{name: num_layers + 1 + k for k, name in enumerate(tail)}}
  device = np.array([-1 if s is None else (slot_index[s] if isinstance(s, str) else s + 1) % num_devices
                     for s in slots], np.int64)
  return complete_placement(graph, device)


def _index(pattern: str, parts: tuple[str, ...]) -> int | None:
  for part in parts:
    match = re.fullmatch(pattern, part)
    if match:
      return int(match.group(1))
  return None


# ---------------------------------------------------------------------------
# Recurrent families: one LSTM layer per device, round robin.
# ---------------------------------------------------------------------------


def _rnnlm_slot(parts: tuple[str, ...]):
  if "embedding" in parts:
    return "embedding"
  if "softmax" in parts:
    return "softmax"
  k = _index(r"lstm_(\d+)", parts)
  return None if k is None else k


def rnnlm_placement(graph: graph_lib.ComputationGraph, num_devices: int) -> np.ndarray:
  """RNNLM: one LSTM layer per device, embedding and softmax on their own devices.

  This is the placement of the HDP/ColocRL papers' human experts for LSTM
  language models: the layers form a pipeline over time steps (layer k can
  work on step t while layer k + 1 works on step t - 1), so each layer gets its
  own device, and the large embedding and softmax layers get devices of their
  own. The pipeline order is ``embedding, lstm_0, ..., lstm_{L-1}, softmax``;
  slot ``j`` of it goes to device ``j mod D`` (round robin when there are more
  slots than devices). Concretely: ``embedding -> 0``, ``lstm_k -> (k + 1) mod
  D``, ``softmax -> (L + 1) mod D``. With ``D >= L + 2`` every layer has its own
  device; parameters, gradients and Adam slots follow their layer.

  Args:
    graph: a traced RNNLM training step.
    num_devices: D.

  Returns:
    (N,) int32 device per node.
  """
  return _round_robin_slots(graph, _rnnlm_slot, ("softmax",), num_devices)


def _gnmt_slot(parts: tuple[str, ...]):
  if "encoder_embedding" in parts or "decoder_embedding" in parts:
    return "embedding"
  if "attention" in parts:
    return "attention"
  if "softmax" in parts:
    return "softmax"
  return _index(r"lstm_(\d+)(?:_fw|_bw)?", parts)


def gnmt_placement(graph: graph_lib.ComputationGraph, num_devices: int) -> np.ndarray:
  """GNMT: layer k of the encoder and of the decoder on one device; attention, softmax apart.

  Following Wu et al. (2016) and the HDP/GO human-expert baseline: encoder
  layer ``k`` (both directions of the bidirectional layer 0) and decoder layer
  ``k`` share a device, so the encoder and decoder stacks each run as a
  pipeline over time steps; the embeddings, the attention and the softmax
  projection get devices of their own. The slot order is ``embedding,
  layer_0, ..., layer_{L-1}, attention, softmax`` and slot ``j`` goes to
  device ``j mod D``: ``embedding -> 0``, ``encoder/decoder lstm_k -> (k + 1)
  mod D``, ``attention -> (L + 1) mod D``, ``softmax -> (L + 2) mod D``.

  Args:
    graph: a traced GNMT training step.
    num_devices: D.

  Returns:
    (N,) int32 device per node.
  """
  return _round_robin_slots(graph, _gnmt_slot, ("attention", "softmax"), num_devices)


# ---------------------------------------------------------------------------
# Transformers: contiguous blocks of layers.
# ---------------------------------------------------------------------------

_FIRST = frozenset({"embedding", "word_embeddings", "type_embeddings", "position_embeddings",
                    "embeddings_norm"})
_LAST = frozenset({"softmax", "pooler", "mlm_head", "nsp_head"})


def _transformer_slot(parts: tuple[str, ...]):
  k = _index(r"layer_(\d+)", parts)
  if k is not None:
    return k
  if _FIRST.intersection(parts):
    return "first"
  if _LAST.intersection(parts):
    return "last"
  return None


def transformer_placement(graph: graph_lib.ComputationGraph, num_devices: int) -> np.ndarray:
  """Transformer-XL / BERT: contiguous blocks of layers per device (pipeline split).

  Practitioners split a layer stack into D contiguous blocks of (nearly)
  equal size, as GPipe and Mesh-TensorFlow users do and as the GO paper's
  Transformer-XL expert baseline does: layer ``k`` of ``L`` goes to device
  ``floor(k * D / L)``. Embeddings (and Transformer-XL's relative position
  projection lives inside each layer) go with the first block; the output
  softmax / pre-training heads go with the last block, because they consume
  the last layer's activations. Segment memories of a layer stay with it.

  Args:
    graph: a traced Transformer-XL or BERT training step.
    num_devices: D.

  Returns:
    (N,) int32 device per node.
  """
  num_devices = _check_devices(num_devices)
  slots = _layer_of_nodes(graph, _transformer_slot)
  num_layers = 1 + max((s for s in slots if isinstance(s, int)), default=0)
  block = lambda k: k * num_devices // num_layers
  named = {"first": block(0), "last": block(num_layers - 1)}
  device = np.array([-1 if s is None else (named[s] if isinstance(s, str) else block(s)) for s in slots],
                    np.int64)
  return complete_placement(graph, device)


# ---------------------------------------------------------------------------
# Vision: contiguous stages balanced by FLOPs.
# ---------------------------------------------------------------------------

_VISION_UNITS: Mapping[str, str] = {
    "resnet": r"stem|block_\d+|head",
    "inception": r"stem|mixed_\w+|aux_head|head",
    "amoebanet": r"stem|stem_bn|cell_\d+|head",
}


def balanced_partition(weights: np.ndarray, num_parts: int) -> np.ndarray:
  """Splits a sequence into contiguous parts minimising the heaviest part.

  Args:
    weights: (U,) float, non-negative weight of each unit, in order.
    num_parts: D.

  Returns:
    (U,) int32 part of each unit, non-decreasing, in [0, D).
  """
  weights = np.asarray(weights, np.float64)
  units = weights.size
  if units <= num_parts:
    return np.arange(units, dtype=np.int32)
  prefix = np.concatenate([[0.0], np.cumsum(weights)])
  # best[k, i]: minimal max-load of units[:i] split into k + 1 non-empty parts;
  # cut[k, i]: where the last of them starts.
  best = np.full((num_parts, units + 1), np.inf)
  cut = np.zeros((num_parts, units + 1), np.int64)
  best[0, 1:] = prefix[1:]
  for k in range(1, num_parts):
    for i in range(k + 1, units + 1):
      starts = np.arange(k, i)
      loads = np.maximum(best[k - 1, starts], prefix[i] - prefix[starts])
      j = int(np.argmin(loads))
      best[k, i], cut[k, i] = loads[j], starts[j]
  parts = np.zeros(units, np.int32)
  end = units
  for k in range(num_parts - 1, 0, -1):
    start = int(cut[k, end])
    parts[start:end] = k
    end = start
  return parts


def _vision_placement(graph: graph_lib.ComputationGraph, num_devices: int, family: str) -> np.ndarray:
  num_devices = _check_devices(num_devices)
  pattern = re.compile(_VISION_UNITS[family])
  units = _layer_of_nodes(graph, lambda parts: next((p for p in parts if pattern.fullmatch(p)), None))
  # A block's position in the chain is the level of its first forward
  # contraction: it waits for the previous block's output, whereas elementwise
  # ops on parameters (batch-norm scales, weight decay) sit at level 1 in every block.
  levels = graph.levels
  backward = np.asarray(graph.node_attrs.get("is_backward", np.zeros(graph.num_nodes, bool)), bool)
  is_contraction = np.isin(graph.op_type, [ops.OP_TYPE_ID[t] for t in ops.CONTRACTION_TYPES]) & ~backward
  first_level: dict[str, int] = {}
  flops: dict[str, float] = {}
  for i, unit in enumerate(units):
    if unit is None:
      continue
    flops[unit] = flops.get(unit, 0.0) + float(graph.flops[i])
    if is_contraction[i]:
      first_level[unit] = min(first_level.get(unit, 1 << 30), int(levels[i]))
  order = sorted(flops, key=lambda u: (first_level.get(u, 1 << 30), u))
  parts = balanced_partition(np.asarray([flops[u] for u in order]), num_devices)
  device_of = dict(zip(order, parts.tolist()))
  device = np.array([-1 if u is None else device_of[u] for u in units], np.int64)
  return complete_placement(graph, device)


def vision_placement(graph: graph_lib.ComputationGraph, num_devices: int, family: str) -> np.ndarray:
  """Inception-v3 / AmoebaNet / ResNet: contiguous stages balanced by FLOPs.

  Convolutional networks are a chain of blocks (ResNet bottlenecks, Inception
  ``mixed_*`` modules, AmoebaNet cells), so experts split them into D
  contiguous stages, GPipe-style (Huang et al. 2019 split AmoebaNet this way),
  balancing the work: the blocks, in forward order (by the topological level
  of each block's first forward convolution or matmul), are cut into D contiguous parts minimising the
  FLOPs (forward + backward) of the heaviest part. The stem goes with the first
  stage, the classifier head with the last, Inception's auxiliary head with
  the stage that holds ``mixed_6e`` or the next one (it is a unit of its own,
  ordered after ``mixed_6e``). Batch-norm statistics, gradients and
  optimizer state follow their block.

  Args:
    graph: a traced training step of the family.
    num_devices: D.
    family: ``"resnet"``, ``"inception"`` or ``"amoebanet"``.

  Returns:
    (N,) int32 device per node.
  """
  return _vision_placement(graph, num_devices, family)


# ---------------------------------------------------------------------------
# WaveNet: stacks split across devices.
# ---------------------------------------------------------------------------


def _wavenet_slot(parts: tuple[str, ...]):
  if "input_conv" in parts:
    return "first"
  if "postprocess" in parts:
    return "last"
  stack = _index(r"stack_(\d+)", parts)
  layer = _index(r"layer_(\d+)", parts)
  return None if stack is None else (stack, layer or 0)


def wavenet_placement(graph: graph_lib.ComputationGraph, num_devices: int) -> np.ndarray:
  """WaveNet: the dilation stacks split across devices, in order.

  A WaveNet is a chain of identical dilation stacks, so the natural expert
  split gives each device whole stacks (``S / D`` consecutive stacks per
  device when ``D <= S``) and, with more devices than stacks, consecutive
  layers of a stack: residual layer ``g`` (counting over all stacks, ``G`` in
  total) goes to device ``floor(g * D / G)``. The input causal convolution goes
  with the first layer; the skip-sum and output layers (``postprocess``) go
  with the last device, which computes the loss.

  Args:
    graph: a traced WaveNet training step.
    num_devices: D.

  Returns:
    (N,) int32 device per node.
  """
  num_devices = _check_devices(num_devices)
  slots = _layer_of_nodes(graph, _wavenet_slot)
  pairs = {s for s in slots if isinstance(s, tuple)}
  per_stack = 1 + max((l for _, l in pairs), default=0)
  total = per_stack * (1 + max((s for s, _ in pairs), default=0))
  named = {"first": 0, "last": num_devices - 1}
  device = np.array([-1 if s is None else (named[s] if isinstance(s, str)
                                           else (s[0] * per_stack + s[1]) * num_devices // total)
                     for s in slots], np.int64)
  return complete_placement(graph, device)


# ---------------------------------------------------------------------------
# Dispatch.
# ---------------------------------------------------------------------------

EXPERT_PLACERS: Mapping[str, Placer] = {
    "rnnlm": rnnlm_placement,
    "gnmt": gnmt_placement,
    "txl": transformer_placement,
    "bert": transformer_placement,
    "inception": functools.partial(vision_placement, family="inception"),
    "amoebanet": functools.partial(vision_placement, family="amoebanet"),
    "resnet": functools.partial(vision_placement, family="resnet"),
    "wavenet": wavenet_placement,
}


def expert_placement(name_or_graph, graph: graph_lib.ComputationGraph | int | None = None,
                     num_devices: int | None = None) -> np.ndarray:
  """The human-expert placement of a workload graph on ``num_devices`` devices.

  Call as ``expert_placement("gnmt_4", graph, 4)``, ``expert_placement(graph,
  num_devices=4)`` or ``expert_placement("gnmt_4", num_devices=4)`` (traces or
  loads the graph). The family comes from the workload name (or a family
  name), else from ``graph.meta["family"]``.

  Args:
    name_or_graph: a workload name, a family name, or the graph itself.
    graph: the workload's graph (or, positionally, ``num_devices``).
    num_devices: D >= 1.

  Returns:
    (N,) int32 device per node in ``[0, D)``; colocation groups share a device.

  Raises:
    UnknownWorkloadError: for an unknown name or a graph without a known family.
    ValueError: for an invalid ``num_devices``.
  """
  from go_jax.workloads import registry  # pylint: disable=g-import-not-at-top

  if isinstance(graph, (int, np.integer)) and not isinstance(graph, bool):
    graph, num_devices = None, int(graph)
  if num_devices is None:
    raise ValueError("expert_placement needs num_devices")
  if isinstance(name_or_graph, graph_lib.ComputationGraph):
    graph, family = name_or_graph, name_or_graph.meta.get("family")
  elif name_or_graph in EXPERT_PLACERS and name_or_graph not in registry.WORKLOADS:
    family = name_or_graph
  else:
    family = registry.get_spec(name_or_graph).family
    if graph is None:
      graph = registry.get_graph(name_or_graph)
  if family not in EXPERT_PLACERS:
    raise registry.UnknownWorkloadError(
        f"no expert placement for family {family!r}; known families: {', '.join(sorted(EXPERT_PLACERS))}")
  if graph is None:
    raise ValueError(f"expert_placement({name_or_graph!r}) needs the graph")
  return EXPERT_PLACERS[family](graph, _check_devices(num_devices))
