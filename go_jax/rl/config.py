"""Default configuration of GO training (``experiments/configs/*.py`` start from it).

Fields (override on the command line, e.g. ``--config.ppo.clip_epsilon=0.1``):
  seed: PRNG seed of parameters and sampling (same seed, same run).
  graph: a workload name, a graph file or a :data:`go_jax.rl.toy_graphs.TOY_GRAPHS` name.
  cluster: a cluster preset or JSON file ("" = the graph's own cluster, else v100x4).
  devices: use the first ``devices`` devices of the cluster (0 = all).
  tasks: comma-separated subset of placement,scheduling,fusion. Tasks left out keep the
    problem's default decisions (:meth:`go_jax.evaluation.Problem.default_decisions`: the
    expert placement, else one device; level order; no fusion).
  model: :func:`go_jax.models.config.get_model_config` (its ``tasks`` is replaced by ``tasks``).
  ppo: :class:`go_jax.rl.iteration.IterationConfig` and :class:`go_jax.rl.losses.LossConfig` fields.
  reward: :class:`go_jax.rl.rewards.RewardConfig` fields.
  imitation: warm start (:mod:`go_jax.rl.imitation`): ``steps`` Adam steps (0 = off) at
    ``learning_rate`` cloning, before PPO, the best heuristic decisions for the decided tasks:
    the placement heuristics ``teachers``, the priorities ``scheduling_teachers`` and the fusion
    rules ``fusion_teachers`` (comma-separated names), with an ``entropy`` bonus weight that
    keeps the clone exploring. Pretraining reads ``pretrain_iterations`` (0 = off): its first
    iterations clone each batch graph's teacher instead of PPO (:mod:`go_jax.rl.pretrain`).
  pathwise: relaxed-simulator descent through the policy (:mod:`go_jax.rl.pathwise`): ``steps``
    Adam steps before each PPO iteration (0 = off), smooth-max temperature annealed from
    ``start_smoothing`` to ``end_smoothing`` (fractions of the reference step time) over
    ``anneal_iterations`` (0: over the iterations the run's budget allows). Placement only:
    off when placement is not among ``tasks``.
  num_iterations: at most this many PPO iterations.
  budget: at most this many simulator evaluations (sampled decision vectors).
  patience: stop after this many iterations without a better decision vector (0 = never).
  checkpoint_every: iterations between checkpoints (and at the end).
  max_checkpoints: checkpoints kept.
  baselines: comma-separated methods of :data:`go_jax.baselines.METHODS` in the final table.
  baseline_budget: simulator evaluations for search baselines in the final table.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import ml_collections

from go_jax.models import config as model_config

#: Options added after results rows were stored, with the value at which a run is exactly what
#: it was before the option existed; :func:`effective` drops them at that value.
NEUTRAL_FIELDS = ((("model", "node_logit_scale"), 0.0), (("ppo", "canonical_devices"), False),
                  (("model", "cluster_context"), False), (("memory_pressure",), 0.0),
                  (("imitation", "pretrain_iterations"), 0), (("model", "context_to_nodes"), False))
#: Fields read only when their task is decided: (task, path in the config).
TASK_ONLY_FIELDS = (("scheduling", ("imitation", "scheduling_teachers")),
                    ("fusion", ("imitation", "fusion_teachers")))


def get_go_one_model_config() -> ml_collections.ConfigDict:
  """The network GO-one trains from scratch on one graph: small enough for a CPU.

  Same modules and parameter names as :func:`go_jax.models.config.get_model_config`
  (the pretraining network), narrower and shallower: on a 2-core CPU one
  fwd+bwd pass over a 3k-node graph costs ~0.3 s instead of ~3 s, and on the
  graphs we measured (wavenet_2x18, txl_2) the small network learned as fast
  per iteration as the default one.
  """
  config = model_config.get_model_config()
  config.hidden_size = 32
  config.edge_size = 8
  config.gnn_hops = 2
  config.num_attention_layers = 1
  config.num_heads = 2
  config.segment_length = 128
  config.memory_length = 128
  config.remat = False  # activations of this network fit easily; remat only costs time
  # Free per-node logits (PolicyNetwork.node_logit_scale), x16 so that Adam at PPO's 3e-3
  # moves them ~0.05 per step, the `gradient` baseline's rate on its logits. The network
  # alone cloned its teacher with misses and PPO/pathwise then left the clone almost where it
  # was; with them (budget 1280, docs/go_one_tuning.md) txl_2 / 2 V100s: 195.6 -> 186.5 ms,
  # wavenet_4x36 / 8 V100s: the clone alone is 69.91 ms, below m-ETF's 70.72 (71.97 before).
  config.node_logit_scale = 16.0
  return config


def get_default_config() -> ml_collections.ConfigDict:
  """The default GO-one configuration (measured choices documented inline)."""
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.graph = "wavenet_2x18"
  config.cluster = "v100x4"
  config.devices = 0
  # The library default is the full joint policy (pretraining configs derive
  # from it). GO-one's launchers use placement only (experiments/configs/default.py,
  # the go_one method, ./run.sh): the paper's headline comparison is against
  # placement baselines, and scheduling + fusion add two action-dependent
  # attention layers per sampled vector, ~10x the cost of an iteration on CPU.
  config.tasks = "placement,scheduling,fusion"
  config.model = get_go_one_model_config()

  config.ppo = ml_collections.ConfigDict()
  config.ppo.num_samples = 16
  # One minibatch of all K vectors per epoch, 4 epochs: the policy encodes the
  # graph once per Adam step whatever K is, so fewer, larger minibatches are
  # nearly free per sample. (4 x 4 minibatches made an iteration on wavenet_2x18
  # ~50 s on 2 loaded cores; 4 x 1 with the small network: ~2.3 s.)
  config.ppo.num_epochs = 4
  config.ppo.num_minibatches = 1
  config.ppo.baseline = "mean"
  # 3e-3: at 1e-3 the per-iteration KL stayed ~1e-3 and the sampled step time
  # did not move in 20 iterations; at 3e-3 it fell steadily (wavenet_2x18:
  # 270 ms -> 76 ms in 60 iterations).
  config.ppo.learning_rate = 3e-3
  config.ppo.max_grad_norm = 1.0
  # No entropy bonus by default. The per-node bonus competes with a weak
  # per-node policy gradient (one scalar advantage shared by ~3k nodes):
  # wavenet_2x18, 60-100 iterations: at 3e-2 the sampled step time did not move
  # in 20 iterations; at 3e-3 (txl_2) it fell only 930 -> 850 ms in 80; at 0 it
  # fell 270 -> 76 ms in 60 (the policy then concentrates, which costs nothing
  # here because GO-one reports the best vector it ever sampled).
  config.ppo.entropy_start = 0.0
  config.ppo.entropy_end = 0.0
  config.ppo.entropy_decay_iterations = 100
  config.ppo.clip_epsilon = 0.2
  config.ppo.value_coef = 0.5
  config.ppo.normalize_advantages = True
  # Learn canonical device labels (go_jax/rl/symmetry.py). Off for GO-one: its warm start
  # clones heuristics in their own labels, and it reports the best sampled vector, which no
  # labeling ambiguity hurts. On for pretraining (experiments/configs/pretrain.py), whose
  # greedy decisions are the product.
  config.ppo.canonical_devices = False

  config.reward = ml_collections.ConfigDict()
  config.reward.oom_factor = 10.0
  config.reward.overflow_weight = 1.0

  # Imitation warm start (go_jax/rl/imitation.py): clone the best constructive
  # heuristic, then PPO. Without it GO-one collapsed to one device on every
  # graph of docs/results.md. 80 iterations on wavenet_2x18 / v100x4: from
  # scratch 72.2 ms; cloning m_etf (47.47 ms as a placement; the clone's argmax
  # 50.69 ms) then PPO 42.69 ms, below m_etf's 44.82 ms with its own schedule.
  # 200 steps at 3e-3 clone txl_2's expert to 99.6% of nodes (argmax 195.6 ms vs
  # 193.9); 1e-2 clones no better (202.3 ms).
  config.imitation = ml_collections.ConfigDict()
  config.imitation.steps = 200
  config.imitation.learning_rate = 3e-3
  config.imitation.entropy = 0.0
  config.imitation.teachers = "expert,metis,heft,m_etf,contiguous,single"
  # Scheduling and fusion teachers (read only when those tasks are decided): before
  # them, GO-one learned these tasks from scratch and lost to critical-path
  # priorities and to fuse_all on every graph of docs/results_joint.md.
  config.imitation.scheduling_teachers = "level_order,critical_path,fifo"
  config.imitation.fusion_teachers = "none,xla_fusion,fuse_all"
  # GO-batch pretraining only (go_jax/rl/pretrain.py, "Imitation"): the first this many
  # iterations clone every batch graph's own best heuristic decisions instead of PPO.
  config.imitation.pretrain_iterations = 0

  # Pathwise descent through the relaxed simulator (go_jax/rl/pathwise.py) before
  # each PPO iteration; each relaxed step counts as one evaluation. Budget 1280,
  # 4 x V100 (docs/go_one_tuning.md): txl_4 275.6 ms (PPO after imitation) ->
  # 243.8 ms with 16 steps, 242.9 ms with 48; wavenet_2x18 42.69 -> 42.02 ms with
  # 16 steps but 47.05 ms with 48 (too few PPO iterations left). The 48-step runs:
  # python -m experiments.results --suite=placement --graphs=txl_4:4 --budget=1280
  #   --nohdp --nosearch --config.pathwise.steps=48 --out=/tmp/p48.md
  config.pathwise = ml_collections.ConfigDict()
  config.pathwise.steps = 16
  config.pathwise.start_smoothing = 1e-3
  config.pathwise.end_smoothing = 1e-5
  config.pathwise.anneal_iterations = 60

  config.num_iterations = 300
  config.budget = 4800
  config.patience = 100
  config.checkpoint_every = 25
  config.max_checkpoints = 3
  config.baselines = "single,expert,heft,metis"
  config.baseline_budget = 1000
  return config


def names(text: str) -> list[str]:
  """A comma-separated config field (``tasks``, ``imitation.teachers``, ...) as a list of names."""
  return [name.strip() for name in str(text).split(",") if name.strip()]


def effective(config: ml_collections.ConfigDict | dict[str, Any]) -> dict[str, Any]:
  """``config`` as plain JSON data, without the fields a run with its ``tasks`` never reads.

  Stored results rows are keyed by it (``experiments/rows.py``), so a field
  read only by some tasks (e.g. a scheduling teacher) leaves the rows of runs
  without that task valid, and so does an option added later while it is at
  its off value (:data:`NEUTRAL_FIELDS`). A resumed run compares its saved
  ``config.json`` with the new config through it too, so a workdir written
  before an option existed stays resumable while the option is off.
  """
  data = copy.deepcopy(config) if isinstance(config, dict) else json.loads(config.to_json())
  tasks = names(data.get("tasks", ""))
  for task, (section, field) in TASK_ONLY_FIELDS:
    if task not in tasks:
      data.get(section, {}).pop(field, None)
  for path, off in NEUTRAL_FIELDS:
    parent = data
    for part in path[:-1]:
      parent = parent.get(part, {})
    if parent.get(path[-1], off) == off:
      parent.pop(path[-1], None)
  return data
