"""GET /api/openapi.json: a valid OpenAPI 3.1 document that describes every route."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from chalice import Chalice
from chalice.test import Client
from openapi_spec_validator import validate

import app as app_module
from chalicelib.api import openapi


def undescribed(routes: Mapping[str, Mapping[str, Any]], document: dict[str, Any]) -> list[str]:
    """Every route, method and path parameter of `routes` the document does not describe."""
    missing = []
    for path, methods in routes.items():
        for method, entry in methods.items():
            operation = document["paths"].get(path, {}).get(method.lower())
            if operation is None:
                missing.append(f"{method} {path}")
                continue
            described = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            missing.extend(
                f"{method} {path} {{{arg}}}" for arg in entry.view_args if arg not in described
            )
    return missing


def fetch(client: Client) -> dict[str, Any]:
    response = client.http.get("/api/openapi.json")  # public: no token
    assert response.status_code == 200, response.body
    return dict(response.json_body)


def schema(document: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    name = ref["$ref"].removeprefix("#/components/schemas/")
    return dict(document["components"]["schemas"][name])


def test_the_document_is_valid_openapi_3_1(chalice_client: Client) -> None:
    document = fetch(chalice_client)

    assert document["openapi"] == "3.1.0"
    validate(document)  # raises on any structural error or dangling $ref


def test_every_route_method_and_path_parameter_is_described(chalice_client: Client) -> None:
    document = fetch(chalice_client)

    assert undescribed(app_module.app.routes, document) == []


def test_a_route_without_a_declaration_is_caught() -> None:
    # GIVEN an app with a route nobody declared, and a document missing a path parameter
    other = Chalice(app_name="other")
    other.route("/api/things/{thing_id}")(lambda thing_id: {})
    document = openapi.document(other.routes, {})
    described = copy.deepcopy(fetch_offline())
    del described["paths"]["/api/jobs/{job_id}"]["get"]["parameters"]
    # THEN the check names both
    assert undescribed(other.routes, document) == ["GET /api/things/{thing_id}"]
    assert undescribed(app_module.app.routes, described) == ["GET /api/jobs/{job_id} {job_id}"]


def fetch_offline() -> dict[str, Any]:
    return openapi.document(app_module.app.routes, app_module.OPERATIONS)


def test_bodies_and_responses_are_the_api_models(chalice_client: Client) -> None:
    document = fetch(chalice_client)
    paths = document["paths"]

    job = schema(
        document,
        paths["/api/jobs/{job_id}"]["get"]["responses"]["200"]["content"]["application/json"][
            "schema"
        ],
    )
    assert {"progress", "etaSeconds", "rowsPerSecond", "loteDeleted"} <= set(job["properties"])
    create = paths["/api/jobs/dkt-import"]["post"]
    body = schema(document, create["requestBody"]["content"]["application/json"]["schema"])
    assert {"codigoTarjeta", "filename", "size", "content"} <= set(body["properties"])
    assert set(create["responses"]) == {"201", "400", "401", "409", "413", "429"}
    error = schema(document, create["responses"]["413"]["content"]["application/json"]["schema"])
    assert set(error["required"]) == {"code", "message"}
    rules = schema(
        document, paths["/api/rules"]["put"]["requestBody"]["content"]["application/json"]["schema"]
    )
    assert rules["properties"]["rules"]["items"] == {"$ref": "#/components/schemas/RuleModel"}


def test_query_parameters_carry_their_limits(chalice_client: Client) -> None:
    paths = fetch(chalice_client)["paths"]

    def query(path: str) -> dict[str, Any]:
        parameters = paths[path]["get"]["parameters"]
        return {p["name"]: p["schema"] for p in parameters if p["in"] == "query"}

    assert set(query("/api/jobs")) == {"limit", "cursor", "status", "codigoTarjeta", "periodo"}
    assert query("/api/jobs")["limit"]["maximum"] == 100
    assert query("/api/lotes/{lote_id}")["tarjeta"]["pattern"] == "^[0-9]{4}$"
    assert set(query("/api/lotes")) == {"limit", "cursor", "codigoTarjeta", "periodo"}
    assert query("/api/jobs/{job_id}/errors")["limit"]["maximum"] == 1000
    assert query("/api/lotes/{lote_id}")["cursor"]["maxLength"] == 2048


def test_the_api_needs_a_bearer_token_and_the_page_does_not(chalice_client: Client) -> None:
    document = fetch(chalice_client)
    paths = document["paths"]

    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert paths["/api/jobs"]["get"]["security"] == [{"bearerAuth": []}]
    assert "401" in paths["/api/jobs"]["get"]["responses"]
    for public in ("/", "/ui-config", "/api/openapi.json"):
        assert paths[public]["get"]["security"] == []
