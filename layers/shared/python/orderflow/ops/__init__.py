"""Operator tooling (`python -m orderflow.ops`): dead-letter queues, redrive, one order's story.
Works against AWS and against the local cloud's endpoint. Not part of the Lambda layer."""
