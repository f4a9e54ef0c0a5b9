"""``chainrule.config``: experiments described in YAML files, built from the same Modules eager
code uses (Caffe's "model in a file, ``caffe train -solver``" with PyTorch's classes).

- :func:`load` reads a config into an :class:`Experiment` (model, loss, optimizer, scheduler,
  data loaders, callbacks; ``.fit()``). Shapes are inferred when it loads, by a zero batch
  through each layer, so a layer that does not fit is named with both shapes before any data
  is read; a typo'd key or a bad value is named with its line.
- :mod:`~chainrule.config.model`: layers as a stack or a DAG (:class:`Add`, :class:`Concat`,
  :class:`LayerGraph`).
- :mod:`~chainrule.config.prototxt`: a Caffe ``.prototxt`` net into the same model.

Needs PyYAML (``pip install 'chainrule[config]'``); configs are read with its safe loader.
"""

from __future__ import annotations

from chainrule.config._source import ConfigError
from chainrule.config.experiment import Experiment, load
from chainrule.config.model import Add, Concat, LayerGraph

__all__ = ["load", "Experiment", "ConfigError", "Add", "Concat", "LayerGraph"]
