"""Limits of the services orderflow runs on, and the limits of orderflow derived from them.

The API's limit on lines per order is not a guess: it is the most lines whose largest
transaction still fits DynamoDB's. Per order, the largest transaction is the confirmation
(`FulfilmentService.confirm`): the order, the reservation and `OrderConfirmed`, plus for each
line its stock level and the `InventoryUpdated` announcing it. Reserving and releasing write the
same per line with one item less. `tests/unit/test_limits.py` counts the items each use case
actually stages, and the sizes of the largest order's items and events against the other limits.
"""

from __future__ import annotations

# DynamoDB (Service quotas, "Transactions"; "Item size"): items per TransactWriteItems, bytes per
# transaction and per item.
TRANSACTION_MAX_ITEMS = 100
TRANSACTION_MAX_BYTES = 4 * 1024 * 1024
ITEM_MAX_BYTES = 400 * 1024
# SNS and SQS message, EventBridge PutEvents entry (and whole request): 256 KiB.
MESSAGE_MAX_BYTES = 256 * 1024
# Step Functions: the state passed between states (input, output, each result).
STATE_MAX_BYTES = 256 * 1024

# The confirmation's items: fixed ones, and per line.
CONFIRM_FIXED_ITEMS = 3  # the order, the reservation, OrderConfirmed
ITEMS_PER_LINE = 2  # the sku's stock level, its InventoryUpdated
MAX_LINES = (TRANSACTION_MAX_ITEMS - CONFIRM_FIXED_ITEMS) // ITEMS_PER_LINE  # 48
