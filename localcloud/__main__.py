"""`make local`: the whole system on this machine until Ctrl-C.

Starts moto on 127.0.0.1:4566 (the AWS CLI and boto3 work against it), provisions the
synthesized template, seeds the catalogue, serves the API on 127.0.0.1:3000 and runs every
event source, printing a line per processed batch, per denied call, denied delivery or
throttled invocation, and per alarm state change; when it stops, it lists every denial it saw,
the throttles per function and the alarms in ALARM.
"""

from __future__ import annotations

import argparse
import signal
import threading
import time
from pathlib import Path

from localcloud.cloud import LocalCloud, LocalCloudConfig
from localcloud.faults import FaultPlan
from localcloud.provision import REGION
from localcloud.state import dead_letter_queues


def main() -> None:
    stopped = threading.Event()  # Ctrl-C (or a stop) from here on stops it cleanly
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--moto-port", type=int, default=4566)
    parser.add_argument("--api-port", type=int, default=3000)
    parser.add_argument(
        "--faults", type=Path, help="a JSON list of faults to inject (see localcloud/faults.py); none by default"
    )
    arguments = parser.parse_args()
    faults = FaultPlan.load(arguments.faults).faults if arguments.faults else []
    started = time.monotonic()
    print("starting the local cloud (synth, moto, provisioning, function workers)...", flush=True)
    cloud = LocalCloud(LocalCloudConfig(moto_port=arguments.moto_port, api_port=arguments.api_port, echo=True))
    try:
        cloud.start()
        cloud.runtime.faults.set(faults)
        count = cloud.seed()
        api, endpoint, key = cloud.api.url, cloud.endpoint, cloud.api.api_key
        print(
            f"""
orderflow is running locally ({time.monotonic() - started:.1f}s to ready; {count} products seeded)

  API            {api}   (also under /{cloud.api.stage}/...)
  dashboard      {api}/_local/   (orders, queues, DLQs, metrics, logs by correlation id)
  AWS endpoint   {endpoint}   (region {REGION}, any credentials)
  API key        {key}   (every API call sends it as x-api-key, as on AWS)

  curl -s -H 'x-api-key: {key}' {api}/products
  curl -si -H 'x-api-key: {key}' -H 'Content-Type: application/json' -H 'Idempotency-Key: my-key-1' \\
       -d '{{"customer_id":"c1","items":[{{"sku":"KB-001","quantity":1}}],"currency":"EUR","payment_token":"tok_ok"}}' \\
       {api}/orders
  curl -s -H 'x-api-key: {key}' {api}/orders/<order_id>

  aws --endpoint-url {endpoint} --region {REGION} sqs list-queues
  aws --endpoint-url {endpoint} --region {REGION} dynamodb list-tables
  dead-letter queues: {", ".join(dead_letter_queues(cloud))}

  faults injected: {", ".join(f"{f.kind} on {f.target}" for f in faults) or "none"}

Ctrl-C stops it. One line per processed batch follows.
""",
            flush=True,
        )
        # Waking now and then: a signal may reach another thread, and the handler only runs
        # once the main thread is awake, so an endless wait could miss Ctrl-C.
        while not stopped.wait(0.5):
            pass
    finally:
        print("stopping...", flush=True)
        if hasattr(cloud, "access"):
            print("\n".join(cloud.access.summary()), flush=True)
        if hasattr(cloud, "runtime"):
            throttled = ", ".join(f"{name} {count}" for name, count in sorted(cloud.runtime.throttles.items()))
            print(f"throttled invocations: {throttled or 'none'}", flush=True)
        if hasattr(cloud, "cloudwatch"):
            alarming = sorted(name for name, state in cloud.cloudwatch.states.items() if state.value == "ALARM")
            print(f"alarms in ALARM: {', '.join(alarming) or 'none'}", flush=True)
        cloud.stop()


if __name__ == "__main__":
    main()
