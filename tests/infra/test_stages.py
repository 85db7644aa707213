"""Stages: two stacks per stage (what holds data apart from what runs), names that never clash
between stages, production keeping its data and refusing test payments, and the replacement
guard catching a change that would replace what holds data."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import aws_cdk as cdk
import pytest

from app import build
from infra.replacement import RECORD, REPLACED_BY, replacements
from infra.synthesis import context
from tests.infra import checks
from tests.infra.checks import NAME_LIMITS, render

Templates = dict[str, dict[str, Any]]
# What runs: destroyed and deployed again freely.
APP_TYPES = {
    "AWS::Lambda::Function",
    "AWS::Lambda::EventSourceMapping",
    "AWS::StepFunctions::StateMachine",
    "AWS::ApiGateway::RestApi",
    "AWS::Events::Rule",
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::Dashboard",
}


def _synth(stage: str, **extra: Any) -> tuple[cdk.App, Any, Any, Templates]:
    app = cdk.App(context={**context(stage), **extra})
    data, application = build(app)
    assembly = app.synth()
    templates = {
        stack.stack_name: dict(assembly.get_stack_by_name(stack.stack_name).template) for stack in (data, application)
    }
    return app, assembly, (data, application), templates


@pytest.fixture(scope="module")
def development() -> tuple[Any, Any, Templates]:
    """A development stage that deletes its data (`-c retain_data=false`), beside the session's
    production stage."""
    return _synth("dev-alice", retain_data="false")[1:]


def _names(templates: Templates) -> set[str]:
    """Every name the templates fix, and the stacks' export names: what must be unique per account and region."""
    names = set(templates)
    for template in templates.values():
        for resource in template["Resources"].values():
            if resource["Type"] in NAME_LIMITS:
                name = render(resource.get("Properties", {}).get(NAME_LIMITS[resource["Type"]][0]))
                if isinstance(name, str):
                    names.add(f"{resource['Type']}:{name}")
        names.update(
            str(output["Export"]["Name"]) for output in template.get("Outputs", {}).values() if "Export" in output
        )
    return names


def test_two_stages_deploy_side_by_side_without_a_name_clash(
    development: tuple[Any, Any, Templates], stack_templates: Templates
) -> None:
    alice, bob = _names(development[2]), _names(stack_templates)
    assert set(development[2]) == {"orderflow-dev-alice-data", "orderflow-dev-alice-app"}
    assert set(stack_templates) == {"orderflow-prod-data", "orderflow-prod-app"}
    assert any(name.startswith("AWS::Events::EventBus:") for name in alice)  # names are fixed, and differ
    assert alice.isdisjoint(bob)


def test_what_holds_data_and_what_runs_are_apart(stack_templates: Templates) -> None:
    data, application = stack_templates.values()
    data_types = {resource["Type"] for resource in data["Resources"].values()}
    app_types = {resource["Type"] for resource in application["Resources"].values()}
    assert set(REPLACED_BY) - {"AWS::Logs::LogGroup"} <= data_types
    assert not (set(REPLACED_BY) - {"AWS::Logs::LogGroup"}) & app_types  # no table, queue, topic, key or bus
    assert app_types >= APP_TYPES
    assert not APP_TYPES & data_types
    # The app stack reads the data stack only through its exports.
    assert "Fn::ImportValue" in json.dumps(application)
    assert "Fn::ImportValue" not in json.dumps(data)


def test_production_keeps_its_data_and_protects_the_data_stack(app_and_stacks: Any, stack_templates: Templates) -> None:
    app, data, application = app_and_stacks
    assembly = app.synth()
    assert assembly.get_stack_by_name(data.stack_name).termination_protection
    assert not assembly.get_stack_by_name(application.stack_name).termination_protection
    held = {
        logical_id: resource
        for logical_id, resource in stack_templates[data.stack_name]["Resources"].items()
        if resource["Type"] in REPLACED_BY
    }
    assert len(held) >= 20
    assert {
        lid
        for lid, r in held.items()
        if (r.get("DeletionPolicy"), r.get("UpdateReplacePolicy")) != ("Retain", "Retain")
    } == set()


def test_a_development_stage_may_destroy_its_data(development: tuple[Any, Any, Templates]) -> None:
    assembly, (data, _), templates = development
    assert not assembly.get_stack_by_name(data.stack_name).termination_protection
    held = [r for r in templates[data.stack_name]["Resources"].values() if r["Type"] in REPLACED_BY]
    policies = {r.get("DeletionPolicy", "Delete") for r in held}  # none: CloudFormation deletes
    assert policies == {"Delete"}


def test_production_refuses_the_simulated_provider_and_destroying_data() -> None:
    with pytest.raises(Exception, match="the simulated provider and its test cards are refused"):
        build(cdk.App(context={**context("dev"), "stage": "prod"}))
    with pytest.raises(Exception, match="stage prod keeps its data"):
        build(cdk.App(context={**context("prod"), "retain_data": "false"}))


def test_production_takes_payments_through_the_configured_provider(stack_templates: Templates) -> None:
    application = next(t for name, t in stack_templates.items() if name.endswith("-app"))
    payments = [
        resource["Properties"]["Environment"]["Variables"]
        for resource in application["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
        and "PAYMENT_PROVIDER" in resource["Properties"].get("Environment", {}).get("Variables", {})
    ]
    assert len(payments) == 2  # the payments consumer and the refund task
    assert {variables["PAYMENT_PROVIDER"] for variables in payments} == {"http"}
    assert {variables["PAYMENT_PROVIDER_URL"] for variables in payments} == {"https://payments.example.com/v1"}
    assert not any("LEDGER_TABLE" in variables for variables in payments)
    data = next(t for name, t in stack_templates.items() if name.endswith("-data"))
    assert not [lid for lid in data["Resources"] if lid.startswith("TablesPaymentLedger")]  # the simulated one's


def test_other_stages_pay_through_the_simulated_provider(development: tuple[Any, Any, Templates]) -> None:
    _, _, templates = development
    data, application = templates["orderflow-dev-alice-data"], templates["orderflow-dev-alice-app"]
    assert [lid for lid in data["Resources"] if lid.startswith("TablesPaymentLedger")]
    providers = {
        resource["Properties"]["Environment"]["Variables"].get("PAYMENT_PROVIDER")
        for resource in application["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
    }
    assert providers == {None, "simulated"}


# --- the replacement guard -------------------------------------------------------------------


@pytest.fixture
def data_template(stack_templates: Templates) -> dict[str, Any]:
    return copy.deepcopy(next(t for name, t in stack_templates.items() if name.endswith("-data")))


def test_the_data_stack_matches_its_record(data_template: dict[str, Any]) -> None:
    # `make stateful` records a deliberate change; anything else that replaces data fails here.
    assert replacements(json.loads(RECORD.read_text()), data_template) == []


def test_a_changed_logical_id_is_refused(data_template: dict[str, Any]) -> None:
    record = json.loads(RECORD.read_text())
    table = next(lid for lid in record if lid.startswith("TablesOrders"))
    data_template["Resources"]["TablesOrdersRenamed"] = data_template["Resources"].pop(table)

    problems = replacements(record, data_template)

    assert problems[0].startswith(f"{table} (AWS::DynamoDB::Table) is gone: CloudFormation would delete it")
    assert "TablesOrdersRenamed (AWS::DynamoDB::Table) holds data and is not in stateful.json" in problems[1]


def test_a_replacing_property_change_is_refused(data_template: dict[str, Any]) -> None:
    record = json.loads(RECORD.read_text())
    queue = next(lid for lid in record if lid.startswith("OrderHistoryQueue"))
    data_template["Resources"][queue]["Properties"].pop("FifoQueue")
    table = next(lid for lid in record if lid.startswith("TablesPayments"))
    data_template["Resources"][table]["Properties"]["KeySchema"][0]["AttributeName"] = "payment_id"

    problems = replacements(record, data_template)

    assert problems == [
        f"{queue} (AWS::SQS::Queue): changing FifoQueue makes CloudFormation replace it with a new, empty one",
        f"{table} (AWS::DynamoDB::Table): changing KeySchema makes CloudFormation replace it with a new, empty one",
    ]


def test_a_property_change_that_updates_in_place_passes(data_template: dict[str, Any]) -> None:
    record = json.loads(RECORD.read_text())
    queue = next(lid for lid in record if lid.startswith("OrderHistoryQueue"))
    data_template["Resources"][queue]["Properties"]["VisibilityTimeout"] = 300

    assert replacements(record, data_template) == []


# --- versions behind an alias, and rollouts in production ---------------------------------------


def test_every_caller_invokes_a_live_alias_never_the_function(resources: dict[str, dict[str, Any]]) -> None:
    functions = {lid for lid, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}
    aliases = {lid: r["Properties"] for lid, r in resources.items() if r["Type"] == "AWS::Lambda::Alias"}
    assert {str(checks.target(alias["FunctionName"])) for alias in aliases.values()} == functions
    assert {alias["Name"] for alias in aliases.values()} == {"live"}
    for alias in aliases.values():  # each on a version published from its own function
        version = resources[str(checks.target(alias["FunctionVersion"]))]
        assert version["Type"] == "AWS::Lambda::Version"
        assert version["Properties"]["FunctionName"] == alias["FunctionName"]

    def referenced(value: Any) -> set[str]:
        text = json.dumps(value)
        return set(re.findall(r'"Ref": "([^"]+)"', text)) | set(re.findall(r'"Fn::GetAtt": \["([^"]+)"', text))

    mappings = [
        r["Properties"]["FunctionName"] for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"
    ]
    permissions = [
        r["Properties"]["FunctionName"] for r in resources.values() if r["Type"] == "AWS::Lambda::Permission"
    ]
    integrations = [
        r["Properties"]["Integration"]["Uri"] for r in resources.values() if r["Type"] == "AWS::ApiGateway::Method"
    ]
    machine = next(r for r in resources.values() if r["Type"] == "AWS::StepFunctions::StateMachine")
    tasks = [part for part in machine["Properties"]["DefinitionString"]["Fn::Join"][1] if isinstance(part, dict)]
    assert (len(mappings), len(integrations)) == (6, 3)
    for value in [*mappings, *permissions, *integrations]:
        assert referenced(value) & set(aliases), value
        assert not referenced(value) & functions, value
    invoked_by_saga = set().union(*(referenced(task) for task in tasks))
    assert not invoked_by_saga & functions
    assert invoked_by_saga & set(aliases) == {lid for lid in aliases if "Fulfilment" in lid and "Consumer" not in lid}


def test_production_rolls_each_function_out_gradually_and_back_on_its_alarms(stack_templates: Templates) -> None:
    application = next(t for name, t in stack_templates.items() if name.endswith("-app"))["Resources"]
    groups = [r["Properties"] for r in application.values() if r["Type"] == "AWS::CodeDeploy::DeploymentGroup"]
    aliases = [r for r in application.values() if r["Type"] == "AWS::Lambda::Alias"]
    assert len(groups) == len(aliases) == 11
    for group in groups:
        assert group["DeploymentConfigName"] == "CodeDeployDefault.LambdaCanary10Percent5Minutes"
        assert group["AutoRollbackConfiguration"] == {
            "Enabled": True,
            "Events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"],
        }
        alarms = group["AlarmConfiguration"]["Alarms"]
        assert group["AlarmConfiguration"]["Enabled"]
        assert alarms
        assert all(
            application[str(checks.target(alarm["Name"]))]["Type"] == "AWS::CloudWatch::Alarm" for alarm in alarms
        )
    # CodeDeploy shifts each alias: CloudFormation hands the alias update to it.
    assert all("CodeDeployLambdaAliasUpdate" in alias.get("UpdatePolicy", {}) for alias in aliases)


def test_other_stages_move_the_alias_at_once(development: tuple[Any, Any, Templates]) -> None:
    _, _, templates = development
    kinds = {r["Type"] for t in templates.values() for r in t["Resources"].values()}
    assert "AWS::Lambda::Alias" in kinds
    assert not any(kind.startswith("AWS::CodeDeploy::") for kind in kinds)
