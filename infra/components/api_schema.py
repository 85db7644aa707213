"""API Gateway request models from the pydantic models the function validates with, so the
gateway and the code enforce the same contract (API Gateway speaks JSON Schema draft 4)."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_apigateway as apigateway
from pydantic import BaseModel

_TYPES = {
    "object": apigateway.JsonSchemaType.OBJECT,
    "array": apigateway.JsonSchemaType.ARRAY,
    "string": apigateway.JsonSchemaType.STRING,
    "integer": apigateway.JsonSchemaType.INTEGER,
    "number": apigateway.JsonSchemaType.NUMBER,
    "boolean": apigateway.JsonSchemaType.BOOLEAN,
    "null": apigateway.JsonSchemaType.NULL,
}
_KEYWORDS = {
    "minLength": "min_length",
    "maxLength": "max_length",
    "pattern": "pattern",
    "minimum": "minimum",
    "maximum": "maximum",
    "minItems": "min_items",
    "maxItems": "max_items",
    "enum": "enum",
    "description": "description",
}


def _resolve(node: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        return _resolve(definitions[node["$ref"].rsplit("/", 1)[-1]], definitions)
    return node


def _convert(node: dict[str, Any], definitions: dict[str, Any]) -> apigateway.JsonSchema:
    node = _resolve(node, definitions)
    options: dict[str, Any] = {target: node[source] for source, target in _KEYWORDS.items() if source in node}
    if "type" in node:
        options["type"] = _TYPES[node["type"]]
    if "properties" in node:
        options["properties"] = {name: _convert(child, definitions) for name, child in node["properties"].items()}
    if "required" in node:
        options["required"] = list(node["required"])
    if node.get("additionalProperties") is False:
        options["additional_properties"] = False
    if "items" in node:
        options["items"] = _convert(node["items"], definitions)
    if "anyOf" in node:
        options["any_of"] = [_convert(child, definitions) for child in node["anyOf"]]
    return apigateway.JsonSchema(**options)


def request_schema(model: type[BaseModel]) -> apigateway.JsonSchema:
    schema = model.model_json_schema()
    converted = _convert(schema, schema.get("$defs", {}))
    return apigateway.JsonSchema(
        schema=apigateway.JsonSchemaVersion.DRAFT4,
        title=model.__name__,
        type=converted.type,
        properties=converted.properties,
        required=converted.required,
        additional_properties=converted.additional_properties,
    )
