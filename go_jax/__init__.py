"""GO-JAX: transferable graph optimizers for ML compilers, in JAX.

The few names most users need::

  import go_jax
  graph = go_jax.load_graph("gnmt_4")              # a workload, or any graph file
  graph = go_jax.from_jax(train_step, params, opt_state, batch)
  graph = go_jax.from_hlo_text(hlo_text)
  go_jax.save_graph(graph, "g.gograph.npz"); go_jax.load_graph("g.gograph.npz")

Sub-packages: ``go_jax.graph`` (IR, importers, features), ``go_jax.workloads``
(the model zoo), ``go_jax.models`` (the GO networks), ``go_jax.baselines``
(heuristic and search optimizers), ``go_jax.evaluation`` (side-by-side runs).
The simulator is the top-level package ``simulator``.
"""

from go_jax.errors import InputError
from go_jax.graph.graph import ComputationGraph, GraphBuilder, GraphError
from go_jax.graph.hlo_import import from_hlo_text, load_hlo
from go_jax.graph.jax_import import from_jax
from go_jax.graph.loading import load_graph
from go_jax.graph.serialization import save as save_graph

__all__ = [
    "InputError", "ComputationGraph", "GraphBuilder", "GraphError",
    "from_hlo_text", "load_hlo", "from_jax", "load_graph", "save_graph",
]
