"""``chainrule.viz``: see backpropagation — graph drawings, backward traces, gradient statistics.

- :func:`draw_graph` turns any computation's backward graph into Graphviz DOT (SVG/PNG via
  ``dot`` when installed); :func:`record` keeps intermediate values for the drawing.
- :func:`trace_backward` runs backward and records every step of the chain rule.
- :func:`gradient_stats`, :class:`GradientMonitor` and :func:`plot_gradient_flow` show what
  gradients do inside a network while it trains; :func:`summary` tabulates a model.
"""

from __future__ import annotations

from chainrule.viz._graph import Graph, GraphvizNotFound, draw_graph, record
from chainrule.viz._stats import (
                                  EXPLODING,
                                  VANISHING,
                                  GradientMonitor,
                                  GradientStats,
                                  gradient_stats,
                                  plot_gradient_flow,
)
from chainrule.viz._summary import ModelSummary, summary
from chainrule.viz._trace import BackwardTrace, trace_backward

__all__ = ["draw_graph", "Graph", "GraphvizNotFound", "record", "trace_backward",
           "BackwardTrace", "gradient_stats", "GradientStats", "GradientMonitor",
           "plot_gradient_flow", "VANISHING", "EXPLODING", "summary", "ModelSummary"]
