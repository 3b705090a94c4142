"""Spec checks whose errors name the object, the field and the fix.

The CRD schema (types, enums, minimums and the CEL rules declared on the models) refuses what it
can at the API server; these checks say the same and more (cross-field rules, quantities) in
Python, for ``fluidlc validate`` and the operator alike (``lifecycle.engine.admission`` runs them
with the engine's own checks). Schemes are the engine's to judge, not the Dataset's: which under
file systems can be mounted depends on the runtime that mounts them.
"""

from lifecycle.api.validation.common import NAME_FIX, NAME_RULE, FieldError, InvalidSpec, scheme_of
from lifecycle.api.validation.dataset import dataset_errors, validate_dataset
from lifecycle.api.validation.operation import operation_errors, validate_operation
from lifecycle.api.validation.runtime import runtime_errors, tier_errors, validate_runtime

__all__ = ["NAME_FIX", "NAME_RULE", "FieldError", "InvalidSpec", "dataset_errors", "operation_errors", "runtime_errors",
           "scheme_of", "tier_errors", "validate_dataset", "validate_operation", "validate_runtime"]
