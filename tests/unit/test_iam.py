"""The local IAM evaluator against the documented evaluation rules, one rule per test."""

from __future__ import annotations

from typing import Any

import pytest

from localcloud.iam import Decision, Request, UnsupportedCondition, evaluate, evaluate_kms, wildcard_match

ROLE = "arn:aws:iam::123456789012:role/orderflow-api"
TABLE = "arn:aws:dynamodb:eu-west-1:123456789012:table/orderflow-orders"
QUEUE = "arn:aws:sqs:eu-west-1:123456789012:orderflow-history.fifo"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:orderflow-events.fifo"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def put(resource: str = TABLE, action: str = "dynamodb:PutItem", **context: Any) -> Request:
    return Request(principal=ROLE, action=action, resource=resource, context=context)


def test_nothing_allows_it_is_an_implicit_deny() -> None:
    assert evaluate(put(), [policy(allow("dynamodb:GetItem", TABLE))]) is Decision.IMPLICIT_DENY


def test_an_allow_for_the_action_on_the_resource_allows() -> None:
    assert evaluate(put(), [policy(allow(["dynamodb:GetItem", "dynamodb:PutItem"], [TABLE]))]) is Decision.ALLOW


def test_an_explicit_deny_wins_over_any_allow_in_any_policy() -> None:
    deny = {"Effect": "Deny", "Action": "dynamodb:*", "Resource": "*"}
    assert evaluate(put(), [policy(allow("*", "*")), policy(deny)]) is Decision.EXPLICIT_DENY


def test_actions_match_case_insensitively_with_star_and_question_mark() -> None:
    assert evaluate(put(), [policy(allow("DynamoDB:put*", TABLE))]) is Decision.ALLOW
    assert evaluate(put(), [policy(allow("dynamodb:?utItem", TABLE))]) is Decision.ALLOW
    assert evaluate(put(), [policy(allow("dynamodb:Put", TABLE))]) is Decision.IMPLICIT_DENY


def test_resources_match_case_sensitively_and_a_star_spans_slashes() -> None:
    assert evaluate(put(), [policy(allow("dynamodb:PutItem", "arn:aws:dynamodb:*:*:table/*"))]) is Decision.ALLOW
    assert evaluate(put(), [policy(allow("dynamodb:PutItem", TABLE.upper()))]) is Decision.IMPLICIT_DENY
    index = put(resource=f"{TABLE}/index/by-status", action="dynamodb:Query")
    assert evaluate(index, [policy(allow("dynamodb:Query", TABLE))]) is Decision.IMPLICIT_DENY
    assert evaluate(index, [policy(allow("dynamodb:Query", f"{TABLE}/index/*"))]) is Decision.ALLOW


def test_brackets_and_dots_in_a_pattern_are_plain_characters() -> None:
    assert wildcard_match("a[b].c", "a[b].c")
    assert not wildcard_match("a.c", "abc")
    assert not wildcard_match("a[bc]", "ab")


def test_not_action_allows_every_other_action() -> None:
    everything_but_delete = {"Effect": "Allow", "NotAction": "dynamodb:DeleteItem", "Resource": TABLE}
    assert evaluate(put(), [policy(everything_but_delete)]) is Decision.ALLOW
    assert evaluate(put(action="dynamodb:DeleteItem"), [policy(everything_but_delete)]) is Decision.IMPLICIT_DENY


def test_not_resource_covers_every_other_resource() -> None:
    elsewhere = {"Effect": "Allow", "Action": "dynamodb:PutItem", "NotResource": TABLE}
    assert evaluate(put(), [policy(elsewhere)]) is Decision.IMPLICIT_DENY
    assert evaluate(put(resource=f"{TABLE}-other"), [policy(elsewhere)]) is Decision.ALLOW


def test_a_deny_without_tls_applies_only_to_requests_without_tls() -> None:
    tls_only = {
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "sqs:*",
        "Resource": QUEUE,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    grant = policy(allow("sqs:SendMessage", QUEUE))
    send = Request(ROLE, "sqs:SendMessage", QUEUE, {"aws:SecureTransport": "true"})
    assert evaluate(send, [grant], policy(tls_only)) is Decision.ALLOW
    plain = Request(ROLE, "sqs:SendMessage", QUEUE, {"aws:SecureTransport": "false"})
    assert evaluate(plain, [grant], policy(tls_only)) is Decision.EXPLICIT_DENY


def test_a_resource_policy_allows_a_service_only_for_the_source_its_condition_names() -> None:
    from_topic = {
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": QUEUE,
        "Condition": {"ArnEquals": {"aws:SourceArn": TOPIC}},
    }
    delivery = Request("sns.amazonaws.com", "sqs:SendMessage", QUEUE, {"aws:SourceArn": TOPIC})
    assert evaluate(delivery, resource_policy=policy(from_topic)) is Decision.ALLOW
    other_topic = Request("sns.amazonaws.com", "sqs:SendMessage", QUEUE, {"aws:SourceArn": TOPIC + "-other"})
    assert evaluate(other_topic, resource_policy=policy(from_topic)) is Decision.IMPLICIT_DENY
    other_service = Request("events.amazonaws.com", "sqs:SendMessage", QUEUE, {"aws:SourceArn": TOPIC})
    assert evaluate(other_service, resource_policy=policy(from_topic)) is Decision.IMPLICIT_DENY
    assert evaluate(delivery) is Decision.IMPLICIT_DENY  # a service has no identity policy to fall back on


def test_arn_like_matches_each_arn_part_with_wildcards() -> None:
    rules = {"ArnLike": {"aws:SourceArn": "arn:aws:events:eu-west-1:123456789012:rule/orderflow-*"}}
    statement = {
        **allow("sqs:SendMessage", QUEUE),
        "Principal": {"Service": "events.amazonaws.com"},
        "Condition": rules,
    }
    rule = Request(
        "events.amazonaws.com",
        "sqs:SendMessage",
        QUEUE,
        {"aws:SourceArn": rules["ArnLike"]["aws:SourceArn"][:-1] + "low-stock"},
    )
    assert evaluate(rule, resource_policy=policy(statement)) is Decision.ALLOW
    elsewhere = Request(
        "events.amazonaws.com",
        "sqs:SendMessage",
        QUEUE,
        {"aws:SourceArn": "arn:aws:events:us-east-1:123456789012:rule/orderflow-x"},
    )
    assert evaluate(elsewhere, resource_policy=policy(statement)) is Decision.IMPLICIT_DENY


def test_a_missing_key_fails_a_condition_except_negated_operators_and_if_exists() -> None:
    def decision(condition: dict[str, Any]) -> Decision:
        return evaluate(put(), [policy(allow("dynamodb:PutItem", TABLE, Condition=condition))])

    assert decision({"StringEquals": {"aws:SourceAccount": "123456789012"}}) is Decision.IMPLICIT_DENY
    assert decision({"StringNotEquals": {"aws:SourceAccount": "210987654321"}}) is Decision.ALLOW
    assert decision({"StringEqualsIfExists": {"aws:SourceAccount": "210987654321"}}) is Decision.ALLOW
    assert decision({"Null": {"aws:SourceAccount": "true"}}) is Decision.ALLOW
    assert decision({"Null": {"aws:SourceAccount": "false"}}) is Decision.IMPLICIT_DENY


def test_every_operator_and_key_must_hold_and_any_value_of_a_key_may() -> None:
    condition = {
        "StringEquals": {"aws:SourceAccount": ["210987654321", "123456789012"]},
        "ArnEquals": {"aws:SourceArn": TOPIC},
    }
    grant = [policy(allow("dynamodb:PutItem", TABLE, Condition=condition))]
    assert evaluate(put(**{"aws:SourceAccount": "123456789012", "aws:SourceArn": TOPIC}), grant) is Decision.ALLOW
    assert evaluate(put(**{"aws:SourceAccount": "123456789012"}), grant) is Decision.IMPLICIT_DENY


def test_negated_operators_with_several_values_mean_none_of_them() -> None:
    grant = [policy(allow("dynamodb:PutItem", TABLE, Condition={"StringNotEquals": {"aws:SourceAccount": ["1", "2"]}}))]
    assert evaluate(put(**{"aws:SourceAccount": "2"}), grant) is Decision.IMPLICIT_DENY
    assert evaluate(put(**{"aws:SourceAccount": "3"}), grant) is Decision.ALLOW


def test_for_all_values_needs_every_value_and_for_any_value_one() -> None:
    def decision(qualifier: str, values: list[str]) -> Decision:
        condition = {f"{qualifier}:StringEquals": {"dynamodb:Attributes": ["order_id", "status"]}}
        return evaluate(
            put(**{"dynamodb:Attributes": values}), [policy(allow("dynamodb:PutItem", TABLE, Condition=condition))]
        )

    assert decision("ForAllValues", ["order_id", "status"]) is Decision.ALLOW
    assert decision("ForAllValues", ["order_id", "total"]) is Decision.IMPLICIT_DENY
    assert decision("ForAnyValue", ["order_id", "total"]) is Decision.ALLOW


def test_an_operator_the_evaluator_does_not_know_is_refused_not_guessed() -> None:
    condition = {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}
    with pytest.raises(UnsupportedCondition, match="DateLessThan"):
        evaluate(
            put(**{"aws:CurrentTime": "2026-12-03T00:00:00Z"}),
            [policy(allow("dynamodb:PutItem", TABLE, Condition=condition))],
        )


def test_a_resource_policy_naming_the_account_delegates_to_its_roles_own_policies() -> None:
    account = {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "sqs:*",
        "Resource": QUEUE,
    }
    send = Request(ROLE, "sqs:SendMessage", QUEUE)
    assert evaluate(send, [], policy(account)) is Decision.IMPLICIT_DENY
    granted = policy({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": QUEUE})
    assert evaluate(send, [granted], policy(account)) is Decision.ALLOW
    the_role = {**account, "Principal": {"AWS": ROLE}}
    assert evaluate(send, [], policy(the_role)) is Decision.ALLOW
    stranger = Request("arn:aws:iam::999999999999:role/x", "sqs:SendMessage", QUEUE)
    assert evaluate(stranger, [], policy(account)) is Decision.IMPLICIT_DENY
    denied_to_the_account = {**account, "Effect": "Deny"}
    assert evaluate(send, [granted], policy(denied_to_the_account)) is Decision.EXPLICIT_DENY


KEY_POLICY = policy(
    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"},
    {
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Resource": "*",
    },
)


def test_a_key_policy_delegating_to_the_account_needs_the_roles_own_allow() -> None:
    decrypt = Request(ROLE, "kms:Decrypt", KEY)
    assert evaluate_kms(decrypt, KEY_POLICY, []) is Decision.IMPLICIT_DENY
    assert evaluate_kms(decrypt, KEY_POLICY, [policy(allow("kms:Decrypt", KEY))]) is Decision.ALLOW


def test_a_key_policy_naming_a_service_allows_it_alone() -> None:
    assert evaluate_kms(Request("sns.amazonaws.com", "kms:GenerateDataKey", KEY), KEY_POLICY) is Decision.ALLOW
    assert (
        evaluate_kms(Request("events.amazonaws.com", "kms:GenerateDataKey", KEY), KEY_POLICY) is Decision.IMPLICIT_DENY
    )


def test_an_identity_policy_cannot_open_a_key_its_policy_does_not_delegate() -> None:
    services_only = policy(KEY_POLICY["Statement"][1])
    decrypt = Request(ROLE, "kms:Decrypt", KEY)
    assert evaluate_kms(decrypt, services_only, [policy(allow("kms:*"))]) is Decision.IMPLICIT_DENY


def test_calls_are_authorized_as_aws_authorizes_them() -> None:
    from localcloud.access import _needs

    assert _needs("sqs", "SendMessageBatch", {"QueueUrl": "http://h/123456789012/q.fifo"}) == [
        ("sqs:SendMessage", "arn:aws:sqs:eu-west-1:123456789012:q.fifo")
    ]
    assert _needs("dynamodb", "Query", {"TableName": "t", "IndexName": "by-status"}) == [
        ("dynamodb:Query", "arn:aws:dynamodb:eu-west-1:123456789012:table/t/index/by-status")
    ]
    get = {"TransactItems": [{"Get": {"TableName": "a"}}, {"Get": {"TableName": "b"}}]}
    assert [action for action, _ in _needs("dynamodb", "TransactGetItems", get)] == ["dynamodb:GetItem"] * 2
    events = {"Entries": [{"EventBusName": "orders"}, {}]}
    assert _needs("events", "PutEvents", events) == [
        ("events:PutEvents", "arn:aws:events:eu-west-1:123456789012:event-bus/default"),
        ("events:PutEvents", "arn:aws:events:eu-west-1:123456789012:event-bus/orders"),
    ]
    assert _needs("states", "SendTaskSuccess", {"taskToken": "issued-by-nobody"}) == []  # InvalidToken
    assert _needs("lambda", "Invoke", {"FunctionName": "relay"}) == [
        ("lambda:InvokeFunction", "arn:aws:lambda:eu-west-1:123456789012:function:relay")
    ]
    stream = "arn:aws:dynamodb:eu-west-1:123456789012:table/outbox/stream/2026-12-03T00:00:00.000"
    assert _needs("dynamodb", "GetRecords", {"ShardIterator": f"{stream}|1|opaque"}) == [
        ("dynamodb:GetRecords", stream)
    ]


def test_a_service_principal_acts_for_its_source_and_a_role_session_as_its_role() -> None:
    from localcloud.access import Caller

    sns = Caller.of_service("sns", source_arn="arn:aws:sns:eu-west-1:123456789012:order-events.fifo")
    assert (sns.principal, sns.arn) == ("sns.amazonaws.com", "sns.amazonaws.com")
    assert sns.context()["aws:SourceArn"] == "arn:aws:sns:eu-west-1:123456789012:order-events.fifo"
    assert sns.context()["aws:SourceAccount"] == "123456789012"
    machine = Caller.of_role("arn:aws:iam::123456789012:role/saga-role", session="saga")
    assert machine.arn == "arn:aws:sts::123456789012:assumed-role/saga-role/saga"
    assert machine.context()["aws:PrincipalArn"] == "arn:aws:iam::123456789012:role/saga-role"
    assert machine.credentials()["AWS_ACCESS_KEY_ID"] != sns.credentials()["AWS_ACCESS_KEY_ID"]
    assert machine.credentials()["AWS_ACCESS_KEY_ID"].startswith("ASIA")
