"""GO-batch pretraining on CPU: ``--config=experiments/configs/pretrain.py`` (see go_jax/rl/pretrain.py).

Fields beyond :func:`go_jax.rl.config.get_default_config` (``graph``, ``cluster``,
``devices``, ``budget``, ``patience``, ``baselines`` are unused here):

  holdout: a zoo family left out of the training set ("" = none), e.g. ``gnmt``.
  zoo_variants: ``;``-separated ``workload:knob=value,...`` small zoo variants to train on.
  shared_data: folder of the third-party graphs ("" = none; a missing folder is skipped with a warning).
  synthetic_fraction: share of iterations whose batch is synthetic graphs.
  min_nodes / max_nodes: size range of synthetic graphs (nodes).
  buckets: padded node counts of batches; a graph goes to the smallest that fits.
  edge_ratio: padded edges per padded node.
  nodes_per_batch: G = max(1, nodes_per_batch // bucket) graphs per batch.
  clusters: cluster presets, one drawn per batch.
  device_counts: device counts, one drawn per graph (at most the cluster's).
  time_limit_s: stop after this many wall seconds (0 = none).
  memory_pressure: share of batches whose devices get less memory than the graphs need on
    one device (go_jax/rl/pretrain.py, "Memory pressure"); 0 = never.

The network is small (hidden 64, one attention layer) so that a 25-minute
CPU run gets through a few hundred iterations and the checkpoint stays at a few MB
(2.8 MB for the shipped one, Adam moments included).
"""

import ml_collections

from go_jax.rl import config as rl_config


def get_config() -> ml_collections.ConfigDict:
  config = rl_config.get_default_config()
  config.seed = 0
  config.model.hidden_size = 64
  config.model.edge_size = 8
  config.model.gnn_hops = 2
  config.model.num_attention_layers = 1
  config.model.num_heads = 4
  config.model.segment_length = 128
  config.model.memory_length = 128
  config.model.remat = False
  # One policy for graphs of every size: no per-node parameters (GO-one's free node logits).
  config.model.node_logit_scale = 0.0
  # Imitation is GO-one's warm start on one graph; pretraining starts from random
  # parameters and fine-tuning from the pretrained ones. Pretraining's own imitation
  # (--config.imitation.pretrain_iterations=I: the first I iterations clone each batch
  # graph's best heuristic decisions, go_jax/rl/pretrain.py "Imitation") is off.
  config.imitation.steps = 0

  config.ppo.num_samples = 8
  config.ppo.num_epochs = 2
  config.ppo.num_minibatches = 2
  config.ppo.learning_rate = 1e-3
  config.ppo.entropy_start = 1e-2
  config.ppo.entropy_end = 1e-3
  config.ppo.entropy_decay_iterations = 300
  # Learn one labeling per partition (go_jax/rl/symmetry.py). Without it the rnnlm hold-out's
  # zero-shot argmax mixed equivalent labelings: 871 fused ops on one device and 42 strays on
  # two others, 171.3 ms where fuse_all on one device takes 24.30 (docs/transfer.md).
  config.ppo.canonical_devices = True

  # Memory pressure and the cluster context that lets the policy see it: off, as the transfer
  # rows and the shipped policy were trained (`--config.memory_pressure=0.5
  # --config.model.cluster_context=True` turns both on).
  config.model.cluster_context = False
  config.memory_pressure = 0.0

  config.holdout = ""
  # Zoo variants of <= 1023 nodes fit the default buckets (measured: rnnlm_2 unroll 6: 913 nodes,
  # rnnlm_4 unroll 2: 801, txl_2 1x1: 827, wavenet 1x4: 853); gnmt_2 unroll 2 (1,336) and bert_base
  # 1 layer (1,240) need a 2048 bucket and are skipped (logged) unless --config.buckets includes it.
  config.zoo_variants = ("rnnlm_2:unroll=6;rnnlm_4:unroll=2;txl_2:num_segments=1,num_layers=1;"
                         "wavenet_2x18:num_stacks=1,layers_per_stack=4;gnmt_2:unroll=2;bert_base:num_layers=1")
  config.shared_data = "../shared/data"
  config.synthetic_fraction = 0.5
  config.min_nodes = 200
  config.max_nodes = 1000
  config.buckets = "256,512,1024"
  config.edge_ratio = 2
  config.nodes_per_batch = 1024
  config.clusters = "v100x8,a100x8,h100x8"
  config.device_counts = "2,4,8"
  config.num_iterations = 100_000
  config.time_limit_s = 0.0
  config.checkpoint_every = 10
  config.max_checkpoints = 2
  return config
