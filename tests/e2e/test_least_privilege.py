"""A mutation test over the template's permissions: after an order that ships and one that is
declined, each Allow statement of the template (role policies, queue, topic, function and bus
policies, key policies) is taken away alone and every request the flow made is judged again.
Each statement the flow needs makes the local cloud refuse at least one of them, with AWS's
message; the live refusals (what the service answers, where the message goes) are planted one
by one in `test_permissions.py`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from localcloud.cloud import LocalCloud
from tests.e2e.saga_support import no_saga_running, place, wait_terminal

AWS_REFUSAL = re.compile(
    r"User: (arn:aws:sts::\d{12}:assumed-role/[\w+=,.@-]+/[\w+=,.@-]+|[a-z0-9.-]+\.amazonaws\.com) is not authorized"
    r" to perform: [a-z0-9-]+:\w+ on resource: arn:aws:\S+ because no (identity|resource)-based policy allows"
    r" the [a-z0-9-]+:\w+ action"
)


def _allow_statements(cloud: LocalCloud) -> Iterator[tuple[str, list[dict[str, Any]], int]]:
    """(where, the live statement list, the index) of every Allow statement."""
    permissions = cloud.deployment.permissions
    documents = [(f"role {role.rsplit('/', 1)[-1]}", d) for role, ds in permissions.roles.items() for d in ds]
    documents += [(f"policy of {arn}", d) for arn, ds in permissions.resource_policies.items() for d in ds]
    documents += [(f"key policy of {key}", d) for key, d in permissions.key_policies.items()]
    for where, document in documents:
        if not isinstance(document["Statement"], list):
            document["Statement"] = [document["Statement"]]
        for index, statement in enumerate(document["Statement"]):
            if statement.get("Effect") == "Allow":
                yield where, document["Statement"], index


def _queues_gone(cloud: LocalCloud) -> set[str]:
    """Queues requests were granted on that no longer exist (a test's own, deleted when it ended):
    with the queue, its policy is gone, and nothing is left to judge such a request against."""
    names = {url.rsplit("/", 1)[-1] for url in cloud.client("sqs").list_queues().get("QueueUrls", [])}
    granted = {resource for *_, resource in cloud.access.granted if resource.startswith("arn:aws:sqs:")}
    return {arn for arn in granted if arn.rsplit(":", 1)[-1] not in names}


def test_every_statement_the_flow_needs_is_refused_as_aws_refuses_when_taken_away(cloud: LocalCloud) -> None:
    wait_terminal(cloud, place(cloud, "tok_ok"), place(cloud, "tok_declined"))
    no_saga_running(cloud)
    assert cloud.wait_until_idle()
    gone = _queues_gone(cloud)
    requests = sorted((request for request in cloud.access.granted if request[3] not in gone), key=repr)
    assert all(cloud.access.refusal(*request) is None for request in requests)  # the template as it is

    needed: dict[str, list[tuple[str, str, str, str]]] = {}
    with cloud.paused():  # the event sources hold still while a statement is missing
        for where, statements, index in _allow_statements(cloud):
            statement = statements.pop(index)
            try:
                refused = [(request[0].arn, *r) for request in requests if (r := cloud.access.refusal(*request))]
            finally:
                statements.insert(index, statement)
            if refused:
                needed[f"{where}: {json.dumps(statement, sort_keys=True)}"] = refused

    for statement, refusals in needed.items():
        for who, action, resource, why in refusals:
            message = f"User: {who} is not authorized to perform: {action} on resource: {resource} {why}"
            assert AWS_REFUSAL.fullmatch(message), (statement, message)
    # What the flow cannot run without, by kind: each function role the flow used, the state
    # machine's role, each subscribed queue's SNS statement, EventBridge's statement on the saga
    # queue, the API function's statement for POST /orders, and the keys' statements for the
    # services and for the account's roles.
    used_roles = {request[0].principal.rsplit("/", 1)[-1] for request in requests if not request[0].service}
    assert {name for name in used_roles if not any(f"role {name}:" in s for s in needed)} == set()
    for queue in ("OrderHistoryQueue", "NotificationsQueue", "FulfilmentShippingQueue"):
        assert any(queue in s and "sns.amazonaws.com" in s for s in needed), queue
    assert any("FulfilmentSagaStartsQueue" in s and "events.amazonaws.com" in s for s in needed)
    assert any("apigateway.amazonaws.com" in s and "/POST/orders" in s for s in needed)
    assert any(s.startswith("key policy") and '"Service": "sns.amazonaws.com"' in s for s in needed)
    assert any(s.startswith("key policy") and '"Service": "events.amazonaws.com"' in s for s in needed)
    assert sum(s.startswith("key policy") and ":root" in s for s in needed) == 2  # both keys delegate to IAM
