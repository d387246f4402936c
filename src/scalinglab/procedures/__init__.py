"""Training procedures: what a scaling-law comparison compares (torch-free specs).

What to use when
----------------
* ``list_procedures()`` names what is registered: ``gpt`` (a decoder-only language model,
  next-token prediction) and the image-text procedures ``clip``, ``coca``, ``mammut``
  (:mod:`scalinglab.procedures.clip` ...; D counts samples).
* ``get_procedure("gpt")`` returns its :class:`Procedure`: the model's config dataclass
  (``GPTConfig``), its parameter and FLOP conventions, the trainer entry point (imported only in
  workers), the unit of D (tokens or samples) and the metrics its runs report.
* ``procedure_of(config)`` finds the procedure of a config instance (``RunSpec.procedure`` uses it).
* ``register_procedure(Procedure(...))`` adds your own: a frozen config dataclass with
  ``n_params(convention)``, ``flops_per_unit(convention)`` and ``units_per_example``, plus a
  trainer ``"module:run"``. Nothing in sweep, store, fit or report needs an edit; see
  docs/ARCHITECTURE.md ("Adding a procedure") for a worked example.

Importing this package never imports torch.
"""

from ._base import (
    PROCEDURES,
    ModelConfig,
    Procedure,
    get_procedure,
    list_procedures,
    procedure_of,
    register_procedure,
)
from .clip import CLIPConfig
from .coca import CoCaConfig
from .gpt import GPTConfig
from .mammut import MaMMUTConfig

__all__ = [
    "CLIPConfig",
    "CoCaConfig",
    "GPTConfig",
    "MaMMUTConfig",
    "ModelConfig",
    "PROCEDURES",
    "Procedure",
    "get_procedure",
    "list_procedures",
    "procedure_of",
    "register_procedure",
]
