"""GO training: PPO on the simulator (GO-one).

Modules: :mod:`~go_jax.rl.losses` (the PPO loss), :mod:`~go_jax.rl.rewards`
(normalised reward, OOM rule), :mod:`~go_jax.rl.iteration` (the jitted
sample-simulate-update step and its state), :mod:`~go_jax.rl.imitation`
(GO-one's warm start: clone the best heuristic decisions for its tasks before PPO),
:mod:`~go_jax.rl.pathwise` (Adam steps through the relaxed simulator before
each PPO iteration), :mod:`~go_jax.rl.symmetry` (canonical device labels:
each sampled placement renamed to one representative of its relabelings that
leave the cluster unchanged, so a per-node policy learns one labeling per
partition; on in pretraining), :mod:`~go_jax.rl.train` (host
loop, checkpoints, metrics, results), :mod:`~go_jax.rl.method` (``go_one`` for
the methods registry), :mod:`~go_jax.rl.config` (default config),
:mod:`~go_jax.rl.toy_graphs` (small graphs with known answers),
:mod:`~go_jax.rl.benchmark` (training throughput, ``experiments.bench_train``).

**Tasks GO does not decide.** ``config.tasks`` switches any subset of
placement, scheduling and fusion on. For the tasks left out, every sampled
vector keeps the problem's default decisions
(:meth:`go_jax.evaluation.Problem.default_decisions`: the human-expert
placement, else one device; equal priorities, i.e. level order; no fusion),
carried per graph in :attr:`GraphBatch.base`. "Scheduling only" is therefore
GO's priorities on the expert placement, the setting the scheduling
baselines use too. The warm start and the pathwise steps are placement
tools and are off when placement is not among the tasks.
"""

from go_jax.rl.iteration import GraphBatch
from go_jax.rl.iteration import IterationConfig
from go_jax.rl.iteration import TrainState
from go_jax.rl.iteration import train_iteration
from go_jax.rl.losses import ppo_loss
from go_jax.rl.train import train_and_evaluate

__all__ = ["GraphBatch", "IterationConfig", "TrainState", "ppo_loss", "train_and_evaluate",
           "train_iteration"]
