"""Schema validation with validators compiled by fastjsonschema from the `ocpp` package's 1.6
schemas (about 10x faster than jsonschema; see docs/decisions/0002-validation.md).

Schema failures map to OCPP-J 1.6 error codes:
  required field missing          -> OccurenceConstraintViolation
  wrong JSON type, over maxLength,
  not a date-time                 -> TypeConstraintViolation
  a field the PDU does not have   -> FormationViolation
  enum, minItems, other values    -> PropertyConstraintViolation
"""
import functools
import json
from pathlib import Path

import fastjsonschema
import ocpp

from . import errors

SCHEMA_DIR = Path(ocpp.__file__).parent / "v16" / "schemas"

_CODE_BY_RULE = {
    "required": errors.OccurenceConstraintViolation,
    "type": errors.TypeConstraintViolation,
    "maxLength": errors.TypeConstraintViolation,
    "format": errors.TypeConstraintViolation,
    "additionalProperties": errors.FormationViolation,
}


def _drop_multiple_of(node):
    # "multipleOf": 0.1 on float fields cannot be checked exactly on binary floats (21.3 / 0.1 is
    # 212.99999999999997); chargers and the CSMS send such values all the time. We drop it.
    if isinstance(node, dict):
        node.pop("multipleOf", None)
        for child in node.values():
            _drop_multiple_of(child)
    elif isinstance(node, list):
        for child in node:
            _drop_multiple_of(child)
    return node


def schema_path(action, response=False):
    return SCHEMA_DIR / f"{action}{'Response' if response else ''}.json"


def has_schema(action):
    return schema_path(action).exists()


@functools.lru_cache(maxsize=None)
def compiled(action, response=False):
    schema = json.loads(schema_path(action, response).read_text(encoding="utf-8-sig"))
    schema.pop("$schema", None)
    return fastjsonschema.compile(_drop_multiple_of(schema))


def validate(action, payload, response=False):
    """Raise the matching CallError if `payload` breaks the action's 1.6 schema."""
    try:
        compiled(action, response)(payload)
    except fastjsonschema.JsonSchemaValueException as exc:
        error = _CODE_BY_RULE.get(exc.rule, errors.PropertyConstraintViolation)
        raise error(f"{action}: {exc.message}", {"field": exc.name.replace("data", "", 1).lstrip(".") or "payload", "rule": exc.rule}) from None
