"""A generic training step (forward, backward, optimizer update) for the zoo.

Every workload is a :class:`TrainingProblem`: a Flax model, abstract shapes of
one batch, a loss and an optimizer. :func:`build_train_step` turns it into a
pure function ``step(params, model_state, opt_state, batch)`` plus abstract
example arguments (``jax.ShapeDtypeStruct`` pytrees, so nothing is allocated
even for multi-GiB models), ready for the JAX importer.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

Batch = Mapping[str, jax.ShapeDtypeStruct]
# (model outputs, batch) -> scalar loss. Outputs are logits or (logits, extras).
LossFn = Callable[[Any, Mapping[str, jax.Array]], jax.Array]


def sequence_cross_entropy(outputs: Any, batch: Mapping[str, jax.Array]) -> jax.Array:
  """Mean softmax cross-entropy of logits against integer ``batch["labels"]``.

  Args:
    outputs: logits (..., V) float32, or a tuple whose first entry is them.
    batch: holds ``labels`` (...) int32 with the logits' leading shape.

  Returns:
    Scalar float32 loss (nats per label).
  """
  logits = outputs[0] if isinstance(outputs, tuple) else outputs
  return optax.softmax_cross_entropy_with_integer_labels(logits, batch["labels"]).mean()


def adam(learning_rate: float = 1e-3, clip_norm: float | None = None) -> optax.GradientTransformation:
  """Adam, optionally after global-norm clipping (as GNMT/RNNLM trainers do)."""
  if clip_norm is None:
    return optax.adam(learning_rate)
  return optax.chain(optax.clip_by_global_norm(clip_norm), optax.adam(learning_rate))


@dataclasses.dataclass(frozen=True)
class TrainingProblem:
  """What a workload factory returns.

  Attributes:
    model: a Flax module called as ``model(batch, train=True)``; returns logits
      or ``(logits, extras)`` (extras, e.g. Transformer-XL memories, become
      outputs of the step).
    batch: abstract batch, name -> ShapeDtypeStruct (inputs and ``labels``).
    init_batch: a smaller batch of the same structure used only to initialise
      parameters (shapes of parameters must not depend on it; unrolled models
      pass a short sequence so that initialisation is cheap). Defaults to
      ``batch``.
    loss: loss on the model outputs.
    optimizer: the optax optimizer of the training step.
    mutable: variable collections updated in training (e.g. ``batch_stats``).
  """

  model: nn.Module
  batch: Batch
  init_batch: Batch | None = None
  loss: LossFn = sequence_cross_entropy
  optimizer: optax.GradientTransformation = dataclasses.field(default_factory=adam)
  mutable: tuple[str, ...] = ()


def abstract_batch(shapes: Mapping[str, tuple[tuple[int, ...], Any]]) -> dict[str, jax.ShapeDtypeStruct]:
  """name -> (shape, dtype) into name -> ShapeDtypeStruct."""
  return {k: jax.ShapeDtypeStruct(tuple(shape), jnp.dtype(dtype)) for k, (shape, dtype) in shapes.items()}


def _zeros(tree):
  return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), tree)


def init_variables(problem: TrainingProblem) -> dict[str, Any]:
  """Abstract model variables (ShapeDtypeStruct pytree), without allocating."""
  init_batch = problem.init_batch if problem.init_batch is not None else problem.batch

  def init():
    return problem.model.init(jax.random.key(0), _zeros(init_batch), train=True)

  return dict(jax.eval_shape(init))


def build_train_step(problem: TrainingProblem) -> tuple[Callable, tuple[Any, Any, Any, Any]]:
  """Builds the training step of ``problem`` and abstract example arguments.

  Args:
    problem: the workload.

  Returns:
    ``(step, (params, model_state, opt_state, batch))`` where
    ``step(params, model_state, opt_state, batch) -> (params, model_state,
    opt_state, loss, extras)`` runs forward, backward and the optimizer
    update, and the example arguments are ShapeDtypeStruct pytrees.
  """
  variables = init_variables(problem)
  params = variables.pop("params")
  model_state = {k: v for k, v in variables.items() if k in problem.mutable}
  opt_state = jax.eval_shape(problem.optimizer.init, params)
  mutable = list(problem.mutable)

  def loss_fn(params, model_state, batch):
    if mutable:
      outputs, new_state = problem.model.apply({"params": params, **model_state}, batch, train=True,
                                               mutable=mutable)
    else:
      outputs, new_state = problem.model.apply({"params": params}, batch, train=True), {}
    extras = outputs[1] if isinstance(outputs, tuple) else ()
    return problem.loss(outputs, batch), (dict(new_state), extras)

  def step(params, model_state, opt_state, batch):
    (loss, (new_state, extras)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        params, model_state, batch)
    updates, opt_state = problem.optimizer.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    return params, new_state, opt_state, loss, extras

  return step, (params, model_state, opt_state, dict(problem.batch))
