r"""Summarise a graph, or list the workload zoo.

Usage:
  python -m experiments.graphs --graph=PATH_OR_WORKLOAD_NAME [--json] [--save=OUT.gograph.npz]
  python -m experiments.graphs --list [--json] [--markdown]

``--graph`` accepts any importable file (XLA HLO text, dnn-partitioning JSON,
PipeDream graph.txt or its folder, our ``.gograph.npz``) or a workload name;
the format is picked from the file's content. ``--json`` prints one JSON
object (keys include ``nodes``, ``edges``, ``depth``, ``flops``).
"""

from __future__ import annotations

from absl import flags

from experiments import cli
from experiments import graphs_lib

_GRAPH = flags.DEFINE_string("graph", None, "Graph file, workload name or variant (rnnlm_2:unroll=6).")
_LIST = flags.DEFINE_bool("list", False, "List every workload of the zoo with its size.")
_JSON = flags.DEFINE_bool("json", False, "Print JSON instead of a table.")
_MARKDOWN = flags.DEFINE_bool("markdown", False, "With --list: print the markdown page docs/workloads.md.")
_SAVE = flags.DEFINE_string("save", None, "With --graph: also write the graph in GO-JAX's own format.")


def main(argv):
  del argv
  if _LIST.value == bool(_GRAPH.value):
    cli.fail("give exactly one of --graph=PATH_OR_NAME or --list")
  if _LIST.value:
    rows = graphs_lib.workload_rows()
    if _JSON.value:
      cli.print_json(rows)
    elif _MARKDOWN.value:
      print(graphs_lib.workloads_markdown(rows), end="")
    else:
      print(cli.format_table(rows, graphs_lib.LIST_COLUMNS))
    return
  graph = graphs_lib.load(_GRAPH.value)
  if _SAVE.value:
    graphs_lib.save(graph, _SAVE.value)
  summary = graph.summary()
  if _JSON.value:
    cli.print_json(summary)
  else:
    print(graphs_lib.format_summary(summary))


if __name__ == "__main__":
  cli.run(main)
