"""orderflow operator CLI.

  python -m orderflow.ops dlq list
  python -m orderflow.ops dlq show QUEUE
  python -m orderflow.ops dlq redrive QUEUE [--dry-run] [--max N] [--rate PER_SECOND]
      (a failure destination: each failed stream batch is read from the stream again and handed
       to its function; each event a rule could not deliver goes to its target queue again;
       exits 1 when a record could not be redriven and was kept, with the reason printed)
  python -m orderflow.ops replay --from 2026-11-28T09:00:00Z --to 2026-11-28T10:00:00Z [--type OrderCreated]
  python -m orderflow.ops order ORDER_ID

Against AWS it uses the current credentials; `--endpoint-url http://127.0.0.1:4566` points it
at the local cloud. QUEUE is a DLQ's name or a unique part of it (e.g. OrderHistory).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import boto3
from botocore.config import Config

from orderflow.ops import dlq, failures
from orderflow.ops.order import story
from orderflow.ops.replay import replay

T = TypeVar("T", int, float)


def clients_for(endpoint_url: str | None, region: str | None) -> Any:
    # As the local cloud picks its region: the user's AWS configuration, else eu-west-1.
    configured = os.environ.get("AWS_REGION") or boto3.session.Session().region_name
    region = region or configured or ("eu-west-1" if endpoint_url else None)
    options: dict[str, Any] = {"region_name": region, "config": Config(account_id_endpoint_mode="disabled")}
    if endpoint_url:
        options["endpoint_url"] = endpoint_url
        options.setdefault("aws_access_key_id", os.environ.get("AWS_ACCESS_KEY_ID", "local"))
        options.setdefault("aws_secret_access_key", os.environ.get("AWS_SECRET_ACCESS_KEY", "local"))
    return lambda service: boto3.client(service, **options)


def _list(clients: Any) -> None:
    sqs = clients("sqs")
    print(f"{'dead-letter queue':<60} {'depth':>6} {'oldest':>9}  source")
    for queue in dlq.dead_letter_queues(sqs):
        age = dlq.oldest_age_seconds(dlq.show(sqs, queue)) if queue.depth else None
        oldest = f"{age:.0f}s" if age is not None else "-"
        source = queue.source_url.rsplit("/", 1)[-1] if queue.source_url else "(failure destination)"
        print(f"{queue.name:<60} {queue.depth:>6} {oldest:>9}  {source}")


def _show(clients: Any, name: str) -> None:
    sqs = clients("sqs")
    queue = dlq.find(sqs, name)
    letters = dlq.show(sqs, queue, dlq.attached_reason if queue.source_url else failures.describe)
    print(f"{queue.name}: {len(letters)} message(s)")
    for letter in letters:
        print(
            f"- {letter.message_id}  group={letter.group}  receives={letter.receive_count}\n"
            f"  event: {letter.event_type} order={letter.order_id} correlation_id={letter.correlation_id}\n"
            f"  reason: {letter.reason}"
        )


def _redrive(clients: Any, name: str, *, dry_run: bool, max_messages: int | None, rate: float) -> int:
    """Redrive one queue; non-zero when something was left in it."""
    sqs = clients("sqs")
    queue = dlq.find(sqs, name)
    if queue.source_url is None:
        outcome = failures.redrive(clients, queue, dry_run=dry_run, max_records=max_messages, per_second=rate)
        verb = "would redrive" if dry_run else "redrove"
        print(f"{verb} {outcome.redriven} failure record(s) from {queue.name} ({outcome.records} stream record(s))")
        for reason in outcome.kept:
            print(f"  kept {reason}")
        return 1 if outcome.kept else 0

    def progress(moved: int) -> None:
        if moved % 10 == 0:
            print(f"  moved {moved}", flush=True)

    result = dlq.redrive(sqs, queue, dry_run=dry_run, max_messages=max_messages, per_second=rate, progress=progress)
    if dry_run:
        print(f"dry run: would move {result.planned} message(s) from {queue.name} back to its source; nothing changed")
    else:
        print(f"moved {result.moved or result.planned} message(s) from {queue.name} ({result.method})")
    return 0


def _positive(kind: Callable[[str], T]) -> Callable[[str], T]:
    def parse(text: str) -> T:
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{text}: must be more than 0")
        return value

    return parse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m orderflow.ops", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--endpoint-url", help="e.g. http://127.0.0.1:4566 for the local cloud")
    parser.add_argument("--region")
    commands = parser.add_subparsers(dest="command", required=True)
    dlq_parser = commands.add_parser("dlq", help="dead-letter queues")
    dlq_commands = dlq_parser.add_subparsers(dest="dlq_command", required=True)
    dlq_commands.add_parser("list", help="every DLQ with its depth and oldest message")
    show_parser = dlq_commands.add_parser("show", help="the messages in a DLQ, decoded, with the reason")
    show_parser.add_argument("queue")
    redrive_parser = dlq_commands.add_parser("redrive", help="move a DLQ's messages back to their source")
    redrive_parser.add_argument("queue")
    redrive_parser.add_argument("--dry-run", action="store_true")
    redrive_parser.add_argument("--max", type=_positive(int), dest="max_messages")
    redrive_parser.add_argument("--rate", type=_positive(float), default=50.0, help="messages per second")
    replay_parser = commands.add_parser("replay", help="replay archived events to the bus")
    replay_parser.add_argument("--from", dest="start", required=True, type=datetime.fromisoformat)
    replay_parser.add_argument("--to", dest="end", required=True, type=datetime.fromisoformat)
    replay_parser.add_argument("--type", dest="event_type", help="only to the rules matching this event type")
    order_parser = commands.add_parser("order", help="an order's status, timeline, saga and dead letters")
    order_parser.add_argument("order_id")
    arguments = parser.parse_args(argv)
    clients = clients_for(arguments.endpoint_url, arguments.region)
    if arguments.command == "replay":
        outcome = replay(clients("events"), start=arguments.start, end=arguments.end, event_type=arguments.event_type)
        print(json.dumps(outcome))
        return 0 if outcome["state"] == "COMPLETED" else 1
    if arguments.command == "order":
        print(json.dumps(story(clients, arguments.order_id), indent=2, default=str))
    elif arguments.dlq_command == "list":
        _list(clients)
    elif arguments.dlq_command == "show":
        _show(clients, arguments.queue)
    else:
        return _redrive(
            clients,
            arguments.queue,
            dry_run=arguments.dry_run,
            max_messages=arguments.max_messages,
            rate=arguments.rate,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
