"""Hostile and careless requests: every one a 4xx in the API's shape, echoing no secret."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support import Api

from chalicelib.core.redact import card_numbers

CARD = "4539578763621486"  # passes Luhn
ROUTES = [
    ("POST", "/api/jobs/dkt-import"),
    ("PUT", "/api/rules"),
    ("POST", "/api/rules/test"),
    ("PUT", "/api/rules/lookups/proveedores"),
]


def in_api_shape(response: Any) -> dict[str, Any]:
    body = json.loads(response.body)
    # A rule set's 400 also says where the problem is.
    assert body.keys() - {"location"} == {"code", "message"}, body
    return dict(body)


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("nesting", [20, 1_000, 100_000])
def test_deeply_nested_json_is_a_400_on_every_body(
    api: Api, method: str, path: str, nesting: int
) -> None:
    body = '{"rules": ' + "[" * nesting + "]" * nesting + "}"
    response = api.client.http.request(method, path, headers=api._headers(), body=body.encode())
    assert response.status_code == 400
    assert in_api_shape(response)["code"] == "INVALID_REQUEST"


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_a_body_that_is_not_json_by_content_type_is_a_415_in_the_api_shape(
    api: Api, method: str, path: str
) -> None:
    headers = {**api._headers(), "Content-Type": "text/plain"}
    response = api.client.http.request(method, path, headers=headers, body=b"x")
    assert response.status_code == 415
    assert in_api_shape(response)["code"] == "UNSUPPORTED_MEDIA_TYPE"


@pytest.mark.parametrize(
    ("method", "path"), [("PATCH", "/api/jobs"), ("DELETE", "/api/jobs"), ("PUT", "/api/lotes")]
)
def test_a_method_the_route_does_not_take_is_a_405_in_the_api_shape(
    api: Api, method: str, path: str
) -> None:
    response = api.client.http.request(method, path, headers=api._headers(), body=b"")
    assert response.status_code == 405
    assert in_api_shape(response)["code"] == "METHOD_NOT_ALLOWED"
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize("path", ["/api/nope", "/api/jobs/x/y/z", f"/{CARD}", "/api"])
def test_an_unknown_path_is_a_404_that_repeats_no_token(api: Api, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 404
    assert in_api_shape(response)["code"] == "NOT_FOUND"
    assert api.token not in response.body.decode()
    assert CARD not in response.body.decode()


@pytest.mark.parametrize(
    "path",
    [
        "/api/jobs?limit=²",
        "/api/lotes?limit=٣",
        "/api/jobs/x/errors?limit=１０",  # noqa: RUF001 (fullwidth digits, on purpose)
        "/api/lotes/ICBCVC2404?limit=9" + "9" * 30,
        "/api/jobs?cursor=١٢٣",
        "/api/jobs?cursor=" + "A" * 3_000,
        "/api/lotes?cursor=" + "A" * 3_000,
        f"/api/jobs?{CARD}=1",
        f"/api/jobs?status={CARD}",
    ],
)
def test_odd_numbers_and_cursors_are_a_400_that_repeats_no_card(api: Api, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 400
    assert in_api_shape(response)["code"] == "INVALID_REQUEST"
    assert card_numbers(response.body.decode()) == []


def test_a_card_number_in_a_rule_is_refused_without_repeating_it(api: Api) -> None:
    rule = {"code": CARD, "name": CARD, "priority": 1, "actions": [], "conditions": []}
    response = api.put("/api/rules", {"rules": [rule]})
    assert response.status_code == 400
    message = in_api_shape(response)["message"]
    assert "tarjeta" in message
    assert card_numbers(message) == []
    assert api.get("/api/rules").json_body["version"] == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/jobs/{big}"),
        ("POST", "/api/jobs/{big}/cancel"),
        ("POST", "/api/jobs/{big}/retry"),
        ("GET", "/api/jobs/{big}/errors"),
        ("GET", "/api/lotes/{big}"),
        ("DELETE", "/api/lotes/{big}"),
        ("GET", "/api/rules/lookups/{big}"),
        ("DELETE", "/api/rules/lookups/{big}"),
        ("GET", "/static/{big}"),
    ],
)
def test_a_3kb_path_parameter_is_a_404_that_does_not_repeat_it(
    api: Api, method: str, path: str
) -> None:
    big = "A" * 3_000
    response = api.client.http.request(
        method, path.format(big=big), headers=api._headers(), body=b""
    )
    assert response.status_code == 404
    assert len(in_api_shape(response)["message"]) < 200


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_a_lone_surrogate_in_a_body_is_a_400(api: Api, method: str, path: str) -> None:
    body = b'{"rules": [], "lines": ["a\\ud800"], "entries": {"k": "\\udfff"}}'
    response = api.client.http.request(method, path, headers=api._headers(), body=body)
    assert response.status_code == 400
    assert "UTF-16" in in_api_shape(response)["message"]


def test_a_catastrophic_regex_in_a_rules_test_answers_at_once(api: Api) -> None:
    # (a+)+$ took 4.7 s of CPU on 26 characters under backtracking, doubling per character.
    rule = {
        "code": "R",
        "name": "r",
        "priority": 1,
        "conditions": [{"field": "descripcionCupon", "op": "REGEX", "value": "(a+)+$"}],
        "actions": [{"type": "SET", "field": "cuentaContable", "value": "1"}],
    }
    lines = [{"descripcionCupon": "a" * 5_000 + "!"}, {"descripcionCupon": "a" * 5_000}]

    response = api.post("/api/rules/test", {"rules": [rule], "lines": lines})

    assert response.status_code == 200, response.body
    assert [result["fired"] for result in response.json_body["results"]] == [[], ["R"]]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("body", ["[1, 2]", '"texto"', "null", "7"])
def test_a_body_that_is_not_an_object_says_so(api: Api, method: str, path: str, body: str) -> None:
    response = api.client.http.request(method, path, headers=api._headers(), body=body.encode())
    assert response.status_code == 400
    message = in_api_shape(response)["message"]
    assert "()" not in message  # it said "El campo  () no es válido."
    assert "objeto" in message or message.startswith("Envíe {")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(api: Api, constant: str) -> None:
    condition = f'{{"field": "importe", "op": "GT", "value": {constant}}}'
    body = f'{{"rules": [{{"code": "R1", "name": "x", "conditions": [{condition}]}}]}}'
    response = api.client.http.request(
        "PUT", "/api/rules", headers=api._headers(), body=body.encode()
    )
    assert response.status_code == 400
    assert in_api_shape(response)["message"] == "El cuerpo de la solicitud no es JSON válido."
    assert api.get("/api/rules").json_body["rules"] == []


@pytest.mark.parametrize("name", ["abril\x00.dkt", "abril\n.dkt", "\x1b[31mabril.dkt"])
def test_a_file_name_with_control_characters_is_refused(api: Api, name: str) -> None:
    response = api.create_import(filename=name, size=10)
    assert response.status_code == 400
    assert "filename" in in_api_shape(response)["message"]


def test_a_message_quotes_at_most_64_characters_of_what_the_caller_sent(api: Api) -> None:
    long_code = "R" * 3_000
    rules = {"rules": [{"code": long_code, "name": "x", "conditions": [], "actions": [{}]}]}
    body = in_api_shape(api.put("/api/rules", rules))
    message = body["message"]
    assert "R" * 63 in message and "R" * 64 not in message
    assert len(message) < 200
    assert "R" * 64 not in json.dumps(body["location"])  # the rule's code there too
    op = {"field": "importe", "op": "X" * 3_000, "value": 1}
    rules = {"rules": [{"code": "R1", "name": "x", "conditions": [op], "actions": []}]}
    message = in_api_shape(api.put("/api/rules", rules))["message"]
    assert "X" * 64 not in message and len(message) < 200
