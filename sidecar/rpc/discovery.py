"""``rpc.discover``: an OpenRPC document generated from the registered types."""

from __future__ import annotations

from typing import Any

import msgspec

from sidecar._version import PROTOCOL_VERSION, SIDECAR_NAME, __version__
from sidecar.rpc.registry import Registry

OPENRPC_VERSION = "1.3.2"
_REF = "#/components/schemas/{name}"


def openrpc_document(registry: Registry) -> dict[str, Any]:
    """Describe every method: params (name, required, schema), result, summary, ``x-host-only``,
    ``x-app`` (the app package of a method that is not built in);
    and under ``x-notifications`` every declared notification with its params' schema."""
    specs = list(registry)
    notes = registry.notifications()
    types: list[Any] = []
    for spec in specs:
        if spec.params_type is not None:
            types.append(spec.params_type)
        types.append(spec.result_type)
    types.extend(note.params_type for note in notes)
    schemas, components = msgspec.json.schema_components(types, ref_template=_REF)
    it = iter(schemas)
    methods = []
    for spec in specs:
        params: list[dict[str, Any]] = []
        if spec.params_type is not None:
            # By its $ref, not its class name: msgspec qualifies the names of two Structs that share
            # one (an app's CountParams beside a built-in one).
            struct_schema = components[next(it)["$ref"].rpartition("/")[2]]
            required = set(struct_schema.get("required", []))
            for name, schema in struct_schema.get("properties", {}).items():
                params.append({"name": name, "required": name in required, "schema": schema})
        result_schema = next(it)
        method: dict[str, Any] = {
            "name": spec.name,
            "params": params,
            "paramStructure": "either",
            "result": {"name": "result", "schema": result_schema},
        }
        if spec.summary:
            method["summary"] = spec.summary
        if spec.description:
            method["description"] = spec.description
        if spec.host_only:
            method["x-host-only"] = True
        if spec.app is not None:
            method["x-app"] = spec.app
        methods.append(method)
    notifications = [
        {"name": note.name, "summary": note.summary, "params": {"name": "params", "schema": next(it)}} for note in notes
    ]
    return {
        "openrpc": OPENRPC_VERSION,
        "info": {
            "title": SIDECAR_NAME,
            "version": __version__,
            "x-protocol-version": PROTOCOL_VERSION,
        },
        "methods": methods,
        "components": {"schemas": components},
        "x-notifications": notifications,
    }
