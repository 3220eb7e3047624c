"""The one seam where task-type behaviour plugs in.

A task file names its `type`; the type decides how its task file is validated (its own
hyperparameters and local-source fields), whether it fine-tunes, and how examples are read,
featurised, padded, predicted and scored. Adding a standard task needs only YAML; adding a new
*kind* of task means one new module here registered in `_TYPES` (see docs/adding-a-task.md).
"""

from __future__ import annotations

from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from xbench.tasktypes.base import TaskType

# type name -> "module:Class"; imported lazily so `xbench tasks list` stays fast.
_TYPES = {
    "sentence-pair-classification": "xbench.tasktypes.classification:PairClassification",
    "extractive-qa": "xbench.tasktypes.extractive_qa:ExtractiveQA",
}


def task_type_names() -> list[str]:
    """Every registered task type, sorted."""
    return sorted(_TYPES)


@cache
def get_task_type(name: str) -> TaskType:
    """The task type called `name` (one instance per process)."""
    module, cls = _TYPES[name].split(":")
    return getattr(import_module(module), cls)()
