"""The ``data.fluid.io/v1alpha1`` API as attrs models, their JSON mapping and their validation."""

from lifecycle.api._model import ParseError, from_json, to_json
from lifecycle.api.dataset import Dataset, DatasetSpec, DatasetStatus, Mount
from lifecycle.api.meta import API_VERSION, GROUP, VERSION, Condition, ObjectMeta
from lifecycle.api.runtime import LifecycleStatus, Runtime, RuntimeSpec, RuntimeStatus
from lifecycle.api.validation import FieldError, InvalidSpec

__all__ = [
    "API_VERSION",
    "GROUP",
    "VERSION",
    "Condition",
    "Dataset",
    "DatasetSpec",
    "DatasetStatus",
    "FieldError",
    "InvalidSpec",
    "LifecycleStatus",
    "Mount",
    "ObjectMeta",
    "ParseError",
    "Runtime",
    "RuntimeSpec",
    "RuntimeStatus",
    "from_json",
    "to_json",
]
