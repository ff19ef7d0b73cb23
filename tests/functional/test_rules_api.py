"""The tenant's business rules through the API, and their effect on imports."""

from __future__ import annotations

from typing import Any

from support import (
    Api,
    cost_model_pump,
    import_file,
    run_first_invocations,
    start_import,
    stored_lines,
    token_for,
)

from chalicelib import dkt
from chalicelib.core.line_keys import generation_key
from chalicelib.core.models import Line
from chalicelib.dkt import Layout
from chalicelib.dkt.rule_schema import ActionType, Operator
from localdev.dktgen import generate_bytes, iter_coupons, render_line
from localdev.pump import Pump
from localdev.resources import QueueUrls

FUEL = {
    "code": "COMB",
    "name": "Combustible",
    "priority": 10,
    "conditions": [{"field": "grupoRubro", "op": "EQUALS", "value": "04"}],
    "actions": [
        {"type": "SET", "field": "cuentaContable", "value": "5.1.02"},
        {
            "type": "LOOKUP",
            "field": "proveedor",
            "source": "cuit",
            "table": "proveedores",
            "default": "SIN-PROVEEDOR",
        },
    ],
}
OTHERS = {
    "code": "RESTO",
    "name": "Resto",
    "priority": 99,
    "actions": [{"type": "SET_IF_EMPTY", "field": "cuentaContable", "value": "5.9.99"}],
}


def put_rules(api: Api, rules: list[dict[str, Any]], lookups: dict[str, Any] | None = None) -> Any:
    body: dict[str, Any] = {"rules": rules}
    if lookups is not None:
        body["lookups"] = lookups
    return api.put("/api/rules", body)


def lines_of(job: dict[str, Any]) -> list[Line]:
    return list(stored_lines(generation_key("acme", job["loteId"], job["id"])))


def test_rules_start_empty_and_a_valid_set_becomes_version_1(api: Api) -> None:
    assert api.get("/api/rules").json_body["version"] == 0

    response = put_rules(api, [FUEL, OTHERS], {"proveedores": {"0030999999991": "YPF"}})

    assert response.status_code == 200, response.body
    stored = api.get("/api/rules").json_body
    assert stored["version"] == 1
    assert [rule["code"] for rule in stored["rules"]] == ["COMB", "RESTO"]
    assert stored["rules"][1]["active"] is True  # defaults filled in
    assert stored["updatedBy"] == "ana"


def test_an_invalid_rule_is_a_400_naming_the_rule_and_field(api: Api) -> None:
    bad = {**FUEL, "conditions": [{"field": "mcc", "op": "LIKE", "value": "55"}]}

    response = put_rules(api, [bad], {"proveedores": {}})

    assert response.status_code == 400
    message = response.json_body["message"]
    assert "COMB" in message
    assert "conditions[0].op" in message
    assert api.get("/api/rules").json_body["version"] == 0
    # ... and says where, for an editor to point at the rule and field
    assert response.json_body["location"] == {
        "ruleIndex": 0,
        "ruleCode": "COMB",
        "field": "conditions[0].op",
    }


def test_a_second_rule_at_fault_is_located_by_its_index(api: Api) -> None:
    bad = {**OTHERS, "actions": [{"type": "SET", "field": "cuentaContable"}]}

    response = put_rules(api, [FUEL, bad], {"proveedores": {}})

    assert response.status_code == 400
    assert response.json_body["location"] == {
        "ruleIndex": 1,
        "ruleCode": "RESTO",
        "field": "actions[0].value",
    }
    # other errors carry no location
    assert "location" not in api.get("/api/jobs?limit=0").json_body


def test_the_vocabulary_offers_every_record_field_operator_and_action(api: Api) -> None:
    vocabulary = api.get("/api/rules/vocabulary").json_body

    assert {field["name"] for field in vocabulary["fields"]} == set(dkt.RECORD_FIELDS)
    assert {term["op"] for term in vocabulary["operators"]} == {op.value for op in Operator}
    assert {term["type"] for term in vocabulary["actions"]} == {t.value for t in ActionType}
    by_op = {term["op"]: term["value"] for term in vocabulary["operators"]}
    assert (by_op["IS_EMPTY"], by_op["IN"], by_op["BETWEEN"], by_op["EQUALS"]) == (
        "none",
        "list",
        "range",
        "one",
    )
    lookup = next(term for term in vocabulary["actions"] if term["type"] == "LOOKUP")
    assert lookup["params"] == ["source", "table", "default"]


def test_every_saved_version_is_listed_and_readable_as_it_was(api: Api) -> None:
    put_rules(api, [FUEL], {"proveedores": {}})
    put_rules(api, [FUEL, OTHERS])
    api.put("/api/rules/lookups/proveedores", {"entries": {"30": "YPF"}})

    listed = api.get("/api/rules/versions").json_body["versions"]

    assert [v["version"] for v in listed] == [3, 2, 1]
    assert [v["ruleCount"] for v in listed] == [2, 2, 1]
    assert listed[0]["lookupNames"] == ["proveedores"] and listed[0]["updatedBy"] == "ana"
    first = api.get("/api/rules/versions/1").json_body
    assert [rule["code"] for rule in first["rules"]] == ["COMB"]
    assert first["lookups"] == {"proveedores": {}}
    page = api.get("/api/rules/versions?limit=2").json_body
    rest = api.get(f"/api/rules/versions?limit=2&cursor={page['nextCursor']}").json_body
    assert [v["version"] for v in page["versions"] + rest["versions"]] == [3, 2, 1]
    assert api.get("/api/rules/versions/4").status_code == 404
    assert api.get("/api/rules/versions/uno").status_code == 400
    stranger = Api(api.client, token_for("zoe", tenant="globex"))
    assert stranger.get("/api/rules/versions").json_body["versions"] == []
    assert stranger.get("/api/rules/versions/1").status_code == 404


def test_imported_lines_carry_what_the_rules_set_and_which_fired(api: Api, pump: Pump) -> None:
    # GIVEN fuel purchases go to 5.1.02 with a supplier looked up by CUIT, the rest 5.9.99
    coupons = list(iter_coupons(300, seed=6))
    fuel_cuit = next(c.cuit for c in coupons if c.grupo_rubro == "04" and c.cuit)
    put_rules(api, [FUEL, OTHERS], {"proveedores": {fuel_cuit: "PROV-YPF"}})
    # WHEN a file is imported
    job = import_file(api, pump, generate_bytes(300, seed=6))
    # THEN every line was classified, and each records the rules that fired
    assert job["status"] == "COMPLETED"
    assert job["result"]["rulesVersion"] == 1
    lines = lines_of(job)
    fuel = [line for line in lines if line.record["grupoRubro"] == "04"]
    others = [line for line in lines if line.record["grupoRubro"] != "04"]
    assert fuel and others
    assert all(line.record["cuentaContable"] == "5.1.02" for line in fuel)
    assert all(line.rules_fired == ["COMB", "RESTO"] for line in fuel)
    assert all(line.record["cuentaContable"] == "5.9.99" for line in others)
    assert all(line.rules_fired == ["RESTO"] for line in others)
    suppliers = {line.record["proveedor"] for line in fuel}
    assert "PROV-YPF" in suppliers


def test_rules_edited_mid_import_do_not_mix_in_the_lote(api: Api, aws: QueueUrls) -> None:
    # GIVEN version 1 of the rules and an import that has started
    put_rules(api, [OTHERS])
    pump = cost_model_pump(aws, budget_ms=400)
    job_id = start_import(api, generate_bytes(1_500, seed=3))
    run_first_invocations(pump)
    assert api.job(job_id)["status"] == "PROCESSING"
    # WHEN the rules change before the rest of the file is imported
    changed = {**OTHERS, "actions": [{"type": "SET", "field": "cuentaContable", "value": "NEW"}]}
    assert put_rules(api, [changed]).json_body["version"] == 2
    pump.drain()
    # THEN the whole lote was classified with version 1
    job = api.job(job_id)
    assert job["status"] == "COMPLETED"
    assert job["result"]["rulesVersion"] == 1
    assert {line.record["cuentaContable"] for line in lines_of(job)} == {"5.9.99"}


def test_rule_test_endpoint_applies_rules_to_sample_lines_and_writes_nothing(api: Api) -> None:
    coupon = next(c for c in iter_coupons(50, seed=1) if c.grupo_rubro == "04")
    line = render_line(coupon, Layout.CON_CUIT)
    response = api.post(
        "/api/rules/test",
        {
            "lines": [line, {"grupoRubro": "01", "cuit": None}, "not a dkt line"],
            "rules": [FUEL, OTHERS],
            "lookups": {"proveedores": {}},
        },
    )

    assert response.status_code == 200, response.body
    first, second, third = response.json_body["results"]
    assert first["fired"] == ["COMB", "RESTO"]
    assert first["record"]["proveedor"] == "SIN-PROVEEDOR"
    assert first["record"]["tarjeta"].count("*") == 6
    assert second["fired"] == ["RESTO"]
    assert "error" in third
    assert api.get("/api/rules").json_body["version"] == 0


def test_lookup_tables_can_be_replaced_but_not_dropped_while_used(api: Api) -> None:
    put_rules(api, [FUEL], {"proveedores": {"1": "A"}})

    replaced = api.put("/api/rules/lookups/proveedores", {"entries": {"2": "B"}})
    dropped = api.delete("/api/rules/lookups/proveedores")

    assert replaced.status_code == 200
    assert api.get("/api/rules/lookups/proveedores").json_body["entries"] == {"2": "B"}
    assert dropped.status_code == 400
    assert "proveedores" in dropped.json_body["message"]
    assert api.get("/api/rules/lookups/nada").status_code == 404


def test_rules_belong_to_the_tenant(api: Api) -> None:
    put_rules(api, [OTHERS])
    colleague = Api(api.client, token_for("bruno", tenant="acme"))
    stranger = Api(api.client, token_for("zoe", tenant="globex"))

    assert colleague.get("/api/rules").json_body["version"] == 1
    assert stranger.get("/api/rules").json_body["version"] == 0


def test_a_rule_failing_at_run_time_is_reported_on_the_line(api: Api, pump: Pump) -> None:
    fragile = {
        "code": "NUM",
        "name": "Localidad numérica",
        "conditions": [{"field": "localidad", "op": "GREATER_THAN", "value": "10"}],
        "actions": [{"type": "SET", "field": "x", "value": "y"}],
    }
    put_rules(api, [fragile, OTHERS])

    job = import_file(api, pump, generate_bytes(20, seed=1))

    assert job["status"] == "COMPLETED"
    assert job["result"]["ruleErrors"] == 20
    line = lines_of(job)[0]
    assert line.rule_errors[0]["rule"] == "NUM"
    assert line.rules_fired == ["RESTO"]
