"""``chainrule.optim``: optimizers and learning-rate schedules, with torch.optim's API.

Every optimizer subclasses :class:`Optimizer` and implements one per-parameter update on NumPy
arrays; ``lr_scheduler`` holds the schedules.
"""

from __future__ import annotations

from chainrule.optim import lr_scheduler
from chainrule.optim.adadelta import Adadelta
from chainrule.optim.adagrad import Adagrad
from chainrule.optim.adam import Adam
from chainrule.optim.adamax import Adamax
from chainrule.optim.adamw import AdamW
from chainrule.optim.nadam import NAdam
from chainrule.optim.optimizer import Optimizer
from chainrule.optim.radam import RAdam
from chainrule.optim.rmsprop import RMSprop
from chainrule.optim.sgd import SGD

__all__ = ["Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "NAdam", "Optimizer", "RAdam",
           "RMSprop", "SGD", "lr_scheduler"]
