"""Front matter to a prompt's fields: description, model, params, variables, tags, metadata.

Prompty keeps the model under ``model`` (``configuration`` names it, ``parameters`` are the
settings) and its variables under ``inputs``; Dotprompt has ``model``, ``config`` and
``input.schema`` (Picoschema: ``name?: string, what it is``) with ``input.default``. Only the
placeholders the template uses are declared (a prompt file declares every placeholder and uses
every declared variable); what else the front matter says is kept under ``metadata``.
"""

from __future__ import annotations

from typing import Any

_SCALARS = (str, int, float, bool)


def _spec(description: Any, default: Any, required: bool | None) -> dict[str, Any]:
    """A variable's spec in prompt-file terms (a default makes it optional)."""
    spec: dict[str, Any] = {}
    if isinstance(description, str) and description.strip():
        spec["description"] = description.strip()
    if isinstance(default, _SCALARS):
        spec["default"] = default
    elif required is False:
        spec["required"] = False
    return spec


def _declare(names: list[str], declared: dict[str, dict[str, Any]], notes: list[str]
             ) -> dict[str, dict[str, Any]]:
    """Every placeholder declared (from ``declared`` when it says more), unused ones dropped."""
    unused = sorted(set(declared) - set(names))
    if unused:
        notes.append(f"not used in the template, so not declared: {', '.join(unused)}")
    return {name: declared.get(name, {}) for name in names}


def _common(meta: dict[str, Any], fields: dict[str, Any], source_format: str,
            consumed: set[str]) -> dict[str, Any]:
    if isinstance(meta.get("description"), str):
        fields["description"] = meta["description"]
    tags = meta.get("tags")
    if isinstance(tags, list) and all(isinstance(t, str) for t in tags):
        fields["tags"] = tags
        consumed.add("tags")
    rest = {k: v for k, v in meta.items() if k not in consumed | {"description"}}
    extra = _mapping(meta.get("metadata"))
    rest.pop("metadata", None)
    fields["metadata"] = {"source_format": source_format, **extra, **rest}
    return {k: v for k, v in fields.items() if v not in (None, {}, [])}


def prompty_fields(meta: dict[str, Any], names: list[str], notes: list[str]) -> dict[str, Any]:
    """A Prompty file's front matter as fields."""
    fields: dict[str, Any] = {}
    model = meta.get("model")
    if isinstance(model, str):
        fields["model"] = model
    elif isinstance(model, dict):
        configuration = model.get("configuration")
        configuration = dict(configuration) if isinstance(configuration, dict) else {}
        for key in ("azure_deployment", "name", "model"):
            if isinstance(configuration.get(key), str):
                fields["model"] = configuration.pop(key)
                break
        else:
            if isinstance(model.get("id"), str):
                fields["model"] = model["id"]
        parameters = model.get("parameters", model.get("options"))
        if isinstance(parameters, dict):
            fields["params"] = parameters
        left = {k: v for k, v in model.items()
                if k not in ("configuration", "parameters", "options", "id")}
        if configuration:
            left["configuration"] = configuration
        if left:
            meta = {**meta, "model_settings": left}
    declared: dict[str, dict[str, Any]] = {}
    inputs = meta.get("inputs")
    if isinstance(inputs, list):  # Prompty 2: a list of {name, description, default, ...}
        inputs = {i["name"]: i for i in inputs if isinstance(i, dict) and "name" in i}
    if isinstance(inputs, dict):
        for name, spec in inputs.items():
            spec = spec if isinstance(spec, dict) else {}
            declared[name] = _spec(spec.get("description"), spec.get("default"),
                                   spec.get("required"))
    fields["variables"] = _declare(names, declared, notes)
    return _common(meta, fields, "prompty", {"model", "inputs"})


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _picoschema(schema: dict[str, Any]) -> dict[str, tuple[str | None, bool]]:
    """name -> (description, optional) from Picoschema or a JSON Schema object."""
    if schema.get("type") == "object" and isinstance(schema.get("properties"), dict):
        required = set(schema.get("required") or [])
        return {name: ((spec or {}).get("description") if isinstance(spec, dict) else None,
                       name not in required)
                for name, spec in schema["properties"].items()}
    out: dict[str, tuple[str | None, bool]] = {}
    for key, value in schema.items():
        name = key.split("(", 1)[0].strip()
        optional = name.endswith("?")
        description = None
        if isinstance(value, str) and "," in value:
            description = value.split(",", 1)[1].strip()
        elif isinstance(value, dict) and isinstance(value.get("description"), str):
            description = value["description"]
        out[name.rstrip("?")] = (description, optional)
    return out


def dotprompt_fields(meta: dict[str, Any], names: list[str], notes: list[str]
                     ) -> dict[str, Any]:
    """A Dotprompt file's front matter as fields."""
    fields: dict[str, Any] = {}
    if isinstance(meta.get("model"), str):
        fields["model"] = meta["model"]
    if isinstance(meta.get("config"), dict):
        fields["params"] = meta["config"]
    declared: dict[str, dict[str, Any]] = {}
    spec = _mapping(meta.get("input"))
    defaults, schema = _mapping(spec.get("default")), _mapping(spec.get("schema"))
    for name, (description, optional) in _picoschema(schema).items():
        declared[name] = _spec(description, defaults.get(name), False if optional else None)
    for name, default in defaults.items():
        declared.setdefault(name, _spec(None, default, None))
    fields["variables"] = _declare(names, declared, notes)
    return _common(meta, fields, "dotprompt", {"model", "config", "input"})
