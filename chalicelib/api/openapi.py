"""The OpenAPI 3.1 document of the HTTP API, generated, never written by hand.

Paths, methods and path parameters come from Chalice's route table (`app.routes`);
each route adds a small declaration (an Operation: its query, body and response
models and the errors it answers), and every schema comes from those pydantic
models. A route without a declaration is left out, and tests/functional/test_openapi.py
fails on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from chalicelib.api.errors import ERROR_DESCRIPTIONS, ErrorBody

REF = "#/components/schemas/{model}"
TITLE = "dkt-jobs"
VERSION = "0.1.0"
JSON = "application/json"
BEARER = "bearerAuth"
BEARER_SCHEME = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


@dataclass(frozen=True)
class Header:
    """A request header an operation reads."""

    name: str
    description: str
    max_length: int


@dataclass(frozen=True)
class Operation:
    """What the document says of one route and method beyond what Chalice knows of it.

    `response` None means a body without a model: JSON of any shape, or text for the
    page's files. `errors` are the error statuses besides 401 (every route that is not
    public) and 400 (every route with a query or body model), which are added for it.
    """

    summary: str
    response: type[BaseModel] | None = None
    status: int = 200
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    body_required: bool = True
    errors: tuple[int, ...] = ()
    public: bool = False
    content_types: tuple[str, ...] = (JSON,)
    headers: tuple[Header, ...] = ()

    def error_statuses(self) -> list[int]:
        implied = {401} if not self.public else set()
        if self.query is not None or self.body is not None:
            implied.add(400)
        return sorted(implied | set(self.errors))


def document(
    routes: Mapping[str, Mapping[str, Any]],
    operations: Mapping[tuple[str, str], Operation],
    extra_models: Iterable[type[BaseModel]] = (),
) -> dict[str, Any]:
    """The OpenAPI document of every declared route.

    Args:
        routes: Chalice's `app.routes`, path -> method -> RouteEntry.
        operations: (path, method) -> what to say of it.
        extra_models: models a schema refers to by name without a route naming them.
    """
    refs, schemas = _components(operations.values(), extra_models)
    paths: dict[str, dict[str, Any]] = {}
    for path in sorted(routes):
        for method, entry in sorted(routes[path].items()):
            operation = operations.get((path, method))
            if operation is not None:
                item = _operation(entry.view_name, entry.view_args, operation, refs)
                paths.setdefault(path, {})[method.lower()] = item
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": "Background import of DKT card-statement files. Errors are "
            '{"code", "message"}; the message is in Spanish, for the person at the screen.',
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {BEARER: BEARER_SCHEME},
        },
    }


# (model, mode) -> {"$ref": ...}; pydantic also allows its dataclasses here.
Refs = dict[tuple[Any, JsonSchemaMode], dict[str, Any]]


def _components(
    operations: Iterable[Operation], extra_models: Iterable[type[BaseModel]]
) -> tuple[Refs, dict[str, Any]]:
    # A dict as an ordered set: each model once, in the order routes name them.
    wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {}
    wanted[ErrorBody, "serialization"] = None
    for operation in operations:
        if operation.body is not None:
            wanted[operation.body, "validation"] = None
        if operation.response is not None:
            wanted[operation.response, "serialization"] = None
    for model in extra_models:
        wanted[model, "validation"] = None
    refs, top = models_json_schema(list(wanted), by_alias=True, ref_template=REF)
    return dict(refs), dict(top.get("$defs", {}))


def _operation(name: str, path_args: list[str], operation: Operation, refs: Refs) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": arg, "in": "path", "required": True, "schema": {"type": "string"}}
        for arg in path_args
    ]
    if operation.query is not None:
        parameters.extend(_query_parameters(operation.query))
    parameters.extend(
        {
            "name": header.name,
            "in": "header",
            "required": False,
            "description": header.description,
            "schema": {"type": "string", "minLength": 1, "maxLength": header.max_length},
        }
        for header in operation.headers
    )
    item: dict[str, Any] = {
        "operationId": name,
        "summary": operation.summary,
        "security": [] if operation.public else [{BEARER: []}],
        "responses": {str(operation.status): _success(operation, refs)},
    }
    if parameters:
        item["parameters"] = parameters
    if operation.body is not None:
        schema = refs[operation.body, "validation"]
        item["requestBody"] = {
            "required": operation.body_required,
            "content": {JSON: {"schema": schema}},
        }
    error = refs[ErrorBody, "serialization"]
    for status in operation.error_statuses():
        item["responses"][str(status)] = {
            "description": ERROR_DESCRIPTIONS[status],
            "content": {JSON: {"schema": error}},
        }
    return item


def _success(operation: Operation, refs: Refs) -> dict[str, Any]:
    if operation.response is not None:
        schema: dict[str, Any] = refs[operation.response, "serialization"]
        description = operation.response.__doc__ or operation.summary
    else:
        schema = {"type": "object"} if operation.content_types == (JSON,) else {"type": "string"}
        description = operation.summary
    return {
        "description": description.strip().splitlines()[0],
        "content": {content_type: {"schema": schema} for content_type in operation.content_types},
    }


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(by_alias=True, ref_template=REF)
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": _present(field)}
        for name, field in schema.get("properties", {}).items()
    ]


def _present(field: dict[str, Any]) -> dict[str, Any]:
    # A query parameter is absent or a string, never null: drop pydantic's null branch.
    branches = [branch for branch in field.get("anyOf", []) if branch != {"type": "null"}]
    if len(branches) != 1:
        return field
    rest = {key: value for key, value in field.items() if key != "anyOf"}
    if rest.get("default", ...) is None:
        del rest["default"]
    return {**rest, **branches[0]}
