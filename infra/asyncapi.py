"""The AsyncAPI 3.0 document of orderflow's events, generated from the synthesized template and
the event models.

The template says where events go: the topic and its subscriptions (filter policies, raw
delivery, dead-letter queues), the bus and its rules (patterns, retries, dead-letter queue), each
queue's FIFO settings, visibility timeout, redrive policy and consumer, the saga's payment
command. The models say what an event is: every message's payload is its event model's JSON
schema, the same one `orderflow.events.schema_registry` publishes. Nothing here names a queue or
an event type by hand, so the document cannot drift from what is deployed.

`python -m infra.asyncapi --write` (`make asyncapi`) rewrites the committed `docs/asyncapi.json`;
without `--write` it exits 1 when the committed file is out of date (the tests check it too).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from infra.references import invoked_function, target
from infra.settings import PRODUCT
from orderflow.contracts import PUBLISHED_EVENTS, MessageAttribute
from orderflow.events import EVENT_MODELS

ROOT = Path(__file__).resolve().parents[1]
DOCUMENT = ROOT / "docs" / "asyncapi.json"
# The AsyncAPI 3.0 JSON schema, bindings included (`@asyncapi/specs`, pinned in package.json).
SPECIFICATION = ROOT / "node_modules" / "@asyncapi" / "specs" / "schemas" / "3.0.0.json"

STAGE = "dev"  # the stage synthesized to generate the document (`app.py`'s default)
SNS_BINDING = "0.1.0"
SQS_BINDING = "0.2.0"
BUS_SUFFIX = ".bus"  # the EventBridge form of an event: the envelope is the event's `detail`
STREAM_FAILURE = "StreamBatchFailure"
ALARM = "AlarmNotification"
HEADERS = {
    "type": "object",
    "description": "SNS message attributes, copied to SQS message attributes (raw message delivery).",
    "properties": {
        MessageAttribute.EVENT_TYPE: {
            "type": "string",
            "description": "The envelope's `type`; filter policies match it.",
        },
        MessageAttribute.CORRELATION_ID: {"type": "string", "description": "The envelope's `correlation_id`."},
        MessageAttribute.FAILURE_REASON: {
            "type": "string",
            "description": "On a message a consumer dead-lettered itself: why no retry can process it.",
        },
        MessageAttribute.ERROR_TYPE: {
            "type": "string",
            "description": "On a dead-lettered message: the error's class.",
        },
        MessageAttribute.SOURCE_QUEUE: {
            "type": "string",
            "description": "On a dead-lettered message: where it came from.",
        },
    },
    "required": [MessageAttribute.EVENT_TYPE, MessageAttribute.CORRELATION_ID],
}


def _id(logical_id: str) -> str:
    """A channel or operation id: the resource's logical id without the CDK's hash."""
    return re.sub(r"[0-9A-F]{8}$", "", logical_id)


def _text(value: Any) -> str:
    """A template string with its intrinsics as `{{logical id}}` placeholders."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_text(part) for part in parts)
    return "{{" + str(target(value)) + "}}"


def _message_ref(channel: str, message: str) -> dict[str, str]:
    return {"$ref": f"#/channels/{channel}/messages/{message}"}


def _schemas() -> dict[str, Any]:
    _, top = models_json_schema(
        [(model, "validation") for model in EVENT_MODELS.values()], ref_template="#/components/schemas/{model}"
    )
    schemas: dict[str, Any] = dict(sorted(top["$defs"].items()))
    schemas[STREAM_FAILURE] = {
        "type": "object",
        "description": (
            "Lambda's record of an outbox stream batch the relay could not publish after its retries (the "
            "stream's on-failure destination): where the batch is in the stream, not the events themselves."
        ),
        "properties": {"requestContext": {"type": "object"}, "DDBStreamBatchInfo": {"type": "object"}},
        "required": ["requestContext", "DDBStreamBatchInfo"],
    }
    schemas[ALARM] = {
        "type": "object",
        "description": "CloudWatch's notification of an alarm's state change.",
        "properties": {
            "AlarmName": {"type": "string"},
            "NewStateValue": {"enum": ["OK", "ALARM", "INSUFFICIENT_DATA"]},
            "OldStateValue": {"enum": ["OK", "ALARM", "INSUFFICIENT_DATA"]},
            "NewStateReason": {"type": "string"},
            "StateChangeTime": {"type": "string"},
            "Trigger": {"type": "object"},
        },
        "required": ["AlarmName", "NewStateValue", "NewStateReason"],
    }
    return schemas


def _messages() -> dict[str, Any]:
    messages: dict[str, Any] = {}
    for event_type, model in EVENT_MODELS.items():
        summary = (model.__doc__ or "").strip()
        messages[event_type] = {
            "name": event_type,
            "title": event_type,
            "summary": summary,
            "contentType": "application/json",
            "correlationId": {"location": "$message.payload#/correlation_id"},
            "payload": {"$ref": f"#/components/schemas/{event_type}"},
            **({"headers": HEADERS} if event_type in PUBLISHED_EVENTS else {}),
        }
        if event_type in PUBLISHED_EVENTS:
            messages[f"{event_type}{BUS_SUFFIX}"] = {
                "name": f"{event_type}{BUS_SUFFIX}",
                "title": f"{event_type} on the bus",
                "summary": f"{summary} As EventBridge delivers it: the envelope is `detail`.",
                "contentType": "application/json",
                "correlationId": {"location": "$message.payload#/detail/correlation_id"},
                "payload": {
                    "type": "object",
                    "properties": {
                        "version": {"type": "string"},
                        "id": {"type": "string"},
                        "detail-type": {"const": str(event_type)},
                        "source": {"$ref": "#/components/schemas/EventSource"},
                        "account": {"type": "string"},
                        "time": {"type": "string", "format": "date-time"},
                        "region": {"type": "string"},
                        "resources": {"type": "array", "items": {"type": "string"}},
                        "detail": {"$ref": f"#/components/schemas/{event_type}"},
                    },
                    "required": ["detail-type", "source", "detail"],
                },
            }
    messages[STREAM_FAILURE] = {
        "name": STREAM_FAILURE,
        "title": "Outbox stream batch not published",
        "contentType": "application/json",
        "payload": {"$ref": f"#/components/schemas/{STREAM_FAILURE}"},
    }
    messages[ALARM] = {
        "name": ALARM,
        "title": "CloudWatch alarm state change",
        "contentType": "application/json",
        "payload": {"$ref": f"#/components/schemas/{ALARM}"},
    }
    return messages


class _Builder:
    """Channels and operations, read from the template part by part; `carries` records which
    messages each channel carries, in the order found."""

    def __init__(self, template: dict[str, Any], stage: str) -> None:
        self.stage = stage
        self.resources: dict[str, dict[str, Any]] = template["Resources"]
        self.messages: dict[str, list[str]] = {}
        self.channels: dict[str, Any] = {}
        self.operations: dict[str, Any] = {}
        self.functions = self.of_type("AWS::Lambda::Function")
        self.queues = self.of_type("AWS::SQS::Queue")
        self.published = [str(event_type) for event_type in PUBLISHED_EVENTS]

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource.get("Properties", {})
            for logical_id, resource in self.resources.items()
            if resource["Type"] == kind
        }

    def carries(self, channel: str, messages: Iterable[str]) -> None:
        listed = self.messages.setdefault(channel, [])
        listed.extend(message for message in messages if message not in listed)

    def send(self, operation: str, channel: str, summary: str, messages: Iterable[str], **extra: Any) -> None:
        self.operations[operation] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel}"},
            "summary": summary,
            "messages": [_message_ref(channel, message) for message in messages],
            **extra,
        }

    def function(self, value: Any) -> dict[str, Any]:
        """The function a reference invokes: itself, or the one its alias (`live`) points at."""
        return self.functions[str(invoked_function(self.resources, value))]

    def fed_by(self, logical_id: str) -> str:
        """The description of the function that publishes to `logical_id` (its environment names it)."""
        for properties in self.functions.values():
            variables = properties.get("Environment", {}).get("Variables", {})
            if any(target(value) == logical_id for value in variables.values()):
                return str(properties.get("Description", ""))
        return ""

    def topics(self) -> None:
        for logical_id, properties in self.of_type("AWS::SNS::Topic").items():
            if properties.get("FifoTopic"):
                self.order_events(logical_id, properties)
            else:
                self.alerts(logical_id, properties)

    def order_events(self, logical_id: str, properties: dict[str, Any]) -> None:
        """The order-events topic (FIFO): the outbox relay publishes every event on it."""
        channel = _id(logical_id)
        self.carries(channel, self.published)
        self.channels[channel] = {
            "title": str(properties.get("DisplayName", channel)),
            "description": (
                "SNS FIFO topic of every order-lifecycle event, in order per order (message group = order "
                "id, deduplication per group). Subscribers get raw messages filtered on `event_type`."
            ),
            "servers": [{"$ref": "#/servers/sns"}],
            "bindings": {
                "sns": {
                    "name": channel,
                    "ordering": {
                        "type": "FIFO",
                        "contentBasedDeduplication": bool(properties.get("ContentBasedDeduplication")),
                    },
                    "bindingVersion": SNS_BINDING,
                }
            },
        }
        consumers = []
        for subscription in self.of_type("AWS::SNS::Subscription").values():
            if target(subscription.get("TopicArn")) != logical_id or subscription.get("Protocol") != "sqs":
                continue
            queue = _id(str(target(subscription["Endpoint"])))
            types = subscription.get("FilterPolicy", {}).get(MessageAttribute.EVENT_TYPE, self.published)
            self.carries(queue, types)
            consumer: dict[str, Any] = {
                "protocol": "sqs",
                "endpoint": {"name": queue},
                "filterPolicy": subscription.get("FilterPolicy", {}),
                "rawMessageDelivery": bool(subscription.get("RawMessageDelivery")),
            }
            redrive = subscription.get("RedrivePolicy")
            if redrive:  # deliveries SNS cannot make to the queue
                dead_letter = _id(str(target(redrive["deadLetterTargetArn"])))
                consumer["redrivePolicy"] = {"deadLetterQueue": {"name": dead_letter}}
                self.carries(dead_letter, types)
            consumers.append(consumer)
        bindings = {"sns": {"consumers": consumers, "bindingVersion": SNS_BINDING}}
        self.send(f"publish{channel}", channel, self.fed_by(logical_id), self.published, bindings=bindings)

    def alerts(self, logical_id: str, properties: dict[str, Any]) -> None:
        channel = _id(logical_id)
        self.channels[channel] = {
            "title": str(properties.get("DisplayName", channel)),
            "description": "SNS topic for operators: alarm notifications and alerts made by rules.",
            "servers": [{"$ref": "#/servers/sns"}],
            "bindings": {"sns": {"name": channel, "ordering": {"type": "standard"}, "bindingVersion": SNS_BINDING}},
        }
        alarms = [
            alarm
            for alarm in self.of_type("AWS::CloudWatch::Alarm").values()
            if any(target(action) == logical_id for action in alarm.get("AlarmActions", []))
        ]
        if alarms:
            self.carries(channel, [ALARM])
            self.send(f"notify{channel}", channel, f"CloudWatch notifies {len(alarms)} alarms' state changes.", [ALARM])

    def buses(self) -> None:
        """The bus: the relay puts every event on it; its rules send some on."""
        for logical_id, properties in self.of_type("AWS::Events::EventBus").items():
            channel = _id(logical_id)
            on_bus = [f"{message}{BUS_SUFFIX}" for message in self.published]
            self.carries(channel, on_bus)
            name = properties.get("Name")
            address = str(name).replace(f"{PRODUCT}-{self.stage}-", PRODUCT + "-{stage}-") if name else None
            self.channels[channel] = {
                "address": address,
                "parameters": {"stage": {"description": "The stage (`-c stage=NAME`)."}} if address else {},
                "title": "orderflow event bus",
                "description": (
                    "EventBridge bus with every order-lifecycle event (detail-type = event type, source = the "
                    "producing service), archived for replay; rules route some of them."
                ),
                "servers": [{"$ref": "#/servers/eventbridge"}],
            }
            self.send(f"publish{channel}", channel, self.fed_by(logical_id), on_bus)
            for rule_id, rule in self.of_type("AWS::Events::Rule").items():
                if target(rule.get("EventBusName")) == logical_id:
                    self.rule(channel, rule_id, rule)

    def rule(self, bus: str, rule_id: str, rule: dict[str, Any]) -> None:
        matched = [f"{name}{BUS_SUFFIX}" for name in rule.get("EventPattern", {}).get("detail-type", [])]
        for rule_target in rule.get("Targets", []):
            destination = _id(str(target(rule_target["Arn"])))
            # A transformed input (`InputTransformer`) is a new event: the model of its `type`.
            transformed = rule_target.get("InputTransformer", {}).get("InputTemplate")
            carried = [str(json.loads(re.sub(r"<[^>]+>", "0", transformed))["type"])] if transformed else matched
            self.carries(destination, carried)
            dead_letter = rule_target.get("DeadLetterConfig", {}).get("Arn")
            if dead_letter is not None:
                self.carries(_id(str(target(dead_letter))), matched)  # the event as it matched
            retry = rule_target.get("RetryPolicy", {})
            extension = {
                "eventBus": bus,
                "eventPattern": rule.get("EventPattern", {}),
                "maximumRetryAttempts": retry.get("MaximumRetryAttempts"),
                "maximumEventAgeInSeconds": retry.get("MaximumEventAgeInSeconds"),
                "deadLetterQueue": _id(str(target(dead_letter))) if dead_letter else None,
            }
            summary = str(rule.get("Description", ""))
            self.send(_id(rule_id), destination, summary, carried, **{"x-eventbridge-rule": extension})

    def commands(self) -> None:
        """The saga's commands: a `sqs:sendMessage` task names its queue and its body's `type`."""
        for machine in self.of_type("AWS::StepFunctions::StateMachine").values():
            definition = json.loads(_text(machine["DefinitionString"]))
            for state_name, state in definition["States"].items():
                if ":sqs:sendMessage" not in state.get("Resource", ""):
                    continue
                queue = _id(state["Parameters"]["QueueUrl"].strip("{}"))
                message = str(state["Parameters"]["MessageBody"]["type"])
                self.carries(queue, [message])
                summary = f"The fulfilment saga's `{state_name}` state sends it and waits for its task token."
                self.send(f"send{state_name}", queue, summary, [message])

    def consumers(self) -> None:
        """Every queue a function consumes, and the outbox stream's on-failure destination."""
        for mapping in self.of_type("AWS::Lambda::EventSourceMapping").values():
            on_failure = mapping.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            if on_failure is not None:
                self.carries(_id(str(target(on_failure))), [STREAM_FAILURE])
            source = str(target(mapping["EventSourceArn"]))
            if source not in self.queues:
                continue
            channel = _id(source)
            self.operations[f"consume{channel}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{channel}"},
                "summary": str(self.function(mapping["FunctionName"]).get("Description", "")),
                "x-lambda-event-source": {
                    "batchSize": mapping.get("BatchSize"),
                    "reportBatchItemFailures": "ReportBatchItemFailures" in mapping.get("FunctionResponseTypes", []),
                },
            }

    def dead_letter_of(self, logical_id: str) -> str | None:
        redrive = self.queues[logical_id].get("RedrivePolicy")
        return str(target(redrive["deadLetterTargetArn"])) if redrive else None

    def queue_channels(self) -> None:
        """Every queue, with its SQS settings; a dead-letter queue receives what its queues carried."""
        for logical_id in self.queues:
            dead_letter = self.dead_letter_of(logical_id)
            if dead_letter is not None:
                self.carries(_id(dead_letter), self.messages.get(_id(logical_id), []))
        for logical_id in self.queues:
            served = [_id(other) for other in self.queues if self.dead_letter_of(other) == logical_id]
            description = (
                f"Dead-letter queue of {', '.join(served)}: what its consumer could not process, kept for redrive."
                if served
                else "SQS queue."
            )
            self.channels[_id(logical_id)] = {
                "title": _id(logical_id),
                "description": description,
                "servers": [{"$ref": "#/servers/sqs"}],
                "bindings": {"sqs": self.queue_binding(logical_id)},
            }

    def queue_binding(self, logical_id: str) -> dict[str, Any]:
        properties = self.queues[logical_id]
        fifo = bool(properties.get("FifoQueue"))
        queue: dict[str, Any] = {"name": _id(logical_id), "fifoQueue": fifo}
        if fifo:
            queue["deduplicationScope"] = properties.get("DeduplicationScope", "queue")
            queue["fifoThroughputLimit"] = properties.get("FifoThroughputLimit", "perQueue")
        for key, field in (
            ("visibilityTimeout", "VisibilityTimeout"),
            ("messageRetentionPeriod", "MessageRetentionPeriod"),
        ):
            if field in properties:
                queue[key] = int(properties[field])
        binding: dict[str, Any] = {"queue": queue, "bindingVersion": SQS_BINDING}
        dead_letter = self.dead_letter_of(logical_id)
        if dead_letter is not None:
            queue["redrivePolicy"] = {
                "deadLetterQueue": {"name": _id(dead_letter)},
                "maxReceiveCount": int(properties["RedrivePolicy"]["maxReceiveCount"]),
            }
            binding["deadLetterQueue"] = self.queue_binding(dead_letter)["queue"]
        return binding

    def finish(self) -> None:
        """Each channel lists its messages; a receive operation takes all of its channel's."""
        for channel, listed in self.messages.items():
            self.channels[channel]["messages"] = {
                message: {"$ref": f"#/components/messages/{message}"} for message in listed
            }
        for operation in self.operations.values():
            channel = operation["channel"]["$ref"].rsplit("/", 1)[-1]
            operation.setdefault(
                "messages", [_message_ref(channel, message) for message in self.messages.get(channel, [])]
            )


def generate(template: dict[str, Any], *, stage: str) -> dict[str, Any]:
    """The AsyncAPI document of a stage's stacks, synthesized and merged as `template`; names that
    carry the stage carry `{stage}` instead, so the document is the same for every stage."""
    builder = _Builder(template, stage)
    builder.topics()
    builder.buses()
    builder.commands()
    builder.consumers()
    builder.queue_channels()
    builder.finish()
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "orderflow events",
            "version": "1.0.0",
            "description": (
                "Every event orderflow publishes and every channel it travels: the order-events SNS FIFO topic "
                "and the queues subscribed to it, the EventBridge bus and its rules, the saga's command queue, "
                "each queue's dead-letter queue. Generated from the synthesized stack and the event models "
                "(`make asyncapi`)."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "sns": {"host": "sns.{region}.amazonaws.com", "protocol": "sns", "variables": {"region": {}}},
            "sqs": {"host": "sqs.{region}.amazonaws.com", "protocol": "sqs", "variables": {"region": {}}},
            "eventbridge": {"host": "events.{region}.amazonaws.com", "protocol": "https", "variables": {"region": {}}},
        },
        "channels": dict(sorted(builder.channels.items())),
        "operations": dict(sorted(builder.operations.items())),
        "components": {"messages": _messages(), "schemas": _schemas()},
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true")
    from infra.synthesis import templates
    from localcloud.assembly import merge

    text = render(generate(merge(templates(STAGE)), stage=STAGE))
    if parser.parse_args().write:
        DOCUMENT.parent.mkdir(exist_ok=True)
        DOCUMENT.write_text(text)
        print(f"wrote {DOCUMENT}")
    elif not DOCUMENT.exists() or DOCUMENT.read_text() != text:
        print(f"{DOCUMENT} is out of date: run `make asyncapi`", file=sys.stderr)
        sys.exit(1)
