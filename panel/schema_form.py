"""A form for any central-system command, generated from the action's OCPP 1.6 JSON schema.

Each top-level property becomes one field: an enum a select, an integer or number a number input,
a boolean a select (yes / no / left out), a date-time a text input (ISO 8601), a string a text
input, and an object or array a JSON text area. Defaults come from the tested example of each
command (datapoints/command_examples.py), so the form is ready to send as it opens.
"""
import json
from dataclasses import dataclass

from datapoints.command_examples import EXAMPLES
from datapoints.protocol.validation import schema_path


@dataclass
class Field:
    name: str
    kind: str  # enum | integer | number | boolean | datetime | string | json
    required: bool
    choices: tuple = ()
    default: str = ""
    max_length: int = None

    @property
    def multiline(self):
        return self.kind == "json" or "\n" in self.default or (self.max_length or 0) > 500

    @property
    def input_id(self):
        return f"field-{self.name}"


def schema(action):
    return json.loads(schema_path(action).read_text(encoding="utf-8-sig"))


def _resolved(spec, prop):
    """The security extension's schemas name their enums by "$ref": "#/definitions/<Name>"."""
    ref = prop.get("$ref", "")
    if ref.startswith("#/definitions/"):
        return {**spec.get("definitions", {}).get(ref.rsplit("/", 1)[1], {}), **{k: v for k, v in prop.items() if k != "$ref"}}
    return prop


def _kind(spec):
    if "enum" in spec:
        return "enum"
    kind = spec.get("type")
    if kind == "string" and spec.get("format") == "date-time":
        return "datetime"
    if kind in ("integer", "number", "boolean", "string"):
        return kind
    return "json"


def _default_text(kind, value):
    if value is None:
        return ""
    if kind == "json":
        return json.dumps(value, indent=2)
    if kind == "boolean":
        return "true" if value else "false"
    return str(value)


def fields(action):
    """The form's fields for `action`, in the schema's order, required ones first."""
    spec = schema(action)
    required = set(spec.get("required", []))
    example = EXAMPLES.get(action, ("", {}))[1]
    result = []
    for name, prop in spec.get("properties", {}).items():
        prop = _resolved(spec, prop)
        kind = _kind(prop)
        result.append(
            Field(
                name=name,
                kind=kind,
                required=name in required,
                choices=tuple(prop.get("enum", ())),
                default=_default_text(kind, example.get(name)),
                max_length=prop.get("maxLength"),
            )
        )
    return sorted(result, key=lambda f: not f.required)


def payload(action, data):
    """(payload dict, {field: error}) from submitted form data: empty optional fields are left out."""
    result, problems = {}, {}
    for field in fields(action):
        text = (data.get(field.name) or "").strip()
        if not text:
            if field.required:
                problems[field.name] = "required"
            continue
        try:
            result[field.name] = _parse(field, text)
        except ValueError as exc:
            problems[field.name] = str(exc)
    return result, problems


def _parse(field, text):
    if field.kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a whole number") from None
    if field.kind == "number":
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
    if field.kind == "boolean":
        if text not in ("true", "false"):
            raise ValueError("choose yes or no")
        return text == "true"
    if field.kind == "json":
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ValueError(f"not JSON: {exc}") from None
    return text
