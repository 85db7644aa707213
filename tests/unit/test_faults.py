"""The local cloud's fault injection: what a plan accepts, when it strikes, and what a
reordered batch may look like."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from localcloud.faults import Fault, FaultPlan, WorkerFaults
from localcloud.pollers import reordered


def test_a_fault_must_fit_its_target() -> None:
    with pytest.raises(ValueError, match="no 'timeout' fault"):
        Fault(kind="timeout", target="dynamodb")
    with pytest.raises(ValueError, match="rate must be between 0 and 1"):
        Fault(kind="error", target="*", rate=1.5)
    with pytest.raises(ValueError, match="seconds < every"):
        Fault(kind="outage", target="gateway", seconds=30, every=10)


def test_a_service_fault_raises_that_services_throttling_error() -> None:
    assert Fault(kind="error", target="dynamodb").error_type == "ProvisionedThroughputExceededException"
    assert Fault(kind="error", target="*").error_type == "Lambda.ServiceException"


def test_faults_strike_their_functions_at_their_rate() -> None:
    plan = FaultPlan()
    plan.set([Fault(kind="error", target="Fulfilment", rate=0.25)], seed=1)

    strikes = sum(plan.roll("error", "FulfilmentPaymentsConsumer") is not None for _ in range(2000))

    assert 400 < strikes < 600
    assert plan.roll("error", "OrdersApiFunction") is None
    assert plan.injected["error"] == strikes


def test_a_counted_fault_strikes_that_many_times_then_stops() -> None:
    plan = FaultPlan()
    plan.set([Fault(kind="timeout", target="FulfilmentOrderSteps", times=3)])

    strikes = [plan.roll("timeout", "FulfilmentOrderStepsFunction") is not None for _ in range(5)]

    assert strikes == [True, True, True, False, False]
    with pytest.raises(ValueError, match="times is a count of function faults"):
        Fault(kind="error", target="dynamodb", times=2)


def test_no_faults_by_default() -> None:
    plan = FaultPlan()

    assert not plan.active
    assert plan.roll("error", "OrdersApiFunction") is None
    assert plan.dependency_faults() == {}


def test_the_gateway_is_down_for_the_end_of_each_period() -> None:
    plan = FaultPlan()
    plan.set([Fault(kind="outage", target="gateway", seconds=0.2, every=0.4)])
    plan._started -= 0.1  # 0.1 s into the first period: up
    assert not plan.dependency_faults().get("gateway")
    plan._started -= 0.2  # 0.3 s: down
    assert plan.dependency_faults()["gateway"] == {"down": True}


def test_a_struck_aws_call_raises_the_modelled_error_before_reaching_the_service() -> None:
    faults = WorkerFaults()
    faults.begin(FaultPlan([Fault(kind="error", target="dynamodb")]).dependency_faults())
    client = boto3.client("dynamodb", region_name="eu-west-1", endpoint_url="http://127.0.0.1:9")

    with pytest.raises(client.exceptions.ProvisionedThroughputExceededException):
        client.describe_table(TableName="orders")
    assert faults.injected == {"dynamodb_error": 1}
    faults.begin({})


def test_a_conflict_cancels_a_transactions_first_attempt_and_lets_the_same_one_through() -> None:
    faults = WorkerFaults()
    faults.begin(FaultPlan([Fault(kind="conflict", target="dynamodb")]).dependency_faults())
    client = boto3.client("dynamodb", region_name="eu-west-1")
    items = [
        {"ConditionCheck": {"TableName": "t", "Key": {"k": {"S": str(n)}}, "ConditionExpression": "a = b"}}
        for n in (1, 2)
    ]

    with Stubber(client) as stubber:
        with pytest.raises(client.exceptions.TransactionCanceledException) as cancelled:
            client.transact_write_items(TransactItems=items)
        stubber.add_response("transact_write_items", {})
        client.transact_write_items(TransactItems=items)

    reasons = [reason["Code"] for reason in cancelled.value.response["CancellationReasons"]]
    assert reasons == ["TransactionConflict", "None"]
    assert faults.injected == {"dynamodb_conflict": 1}
    faults.begin({})


def test_only_dynamodb_takes_conflicts() -> None:
    with pytest.raises(ValueError, match="no 'conflict' fault"):
        Fault(kind="conflict", target="sqs")


def _message(message_id: str, group: str | None) -> dict[str, Any]:
    return {"MessageId": message_id, "Attributes": {"MessageGroupId": group} if group else {}}


def test_reordering_keeps_each_fifo_groups_order() -> None:
    batch = [_message(f"{group}{n}", group) for n in range(4) for group in "abc"]
    orders = set()
    for _ in range(50):
        shuffled = [m["MessageId"] for m in reordered(batch)]
        for group in "abc":
            assert [m for m in shuffled if m.startswith(group)] == [f"{group}{n}" for n in range(4)]
        orders.add(tuple(shuffled))

    assert len(orders) > 1


def test_a_standard_queues_batch_may_come_in_any_order() -> None:
    batch = [_message(str(n), None) for n in range(6)]

    assert len({tuple(m["MessageId"] for m in reordered(batch)) for _ in range(50)}) > 1


def test_the_soaks_fault_file_loads() -> None:
    from localcloud.soak.run import CHAOS

    faults = FaultPlan.load(CHAOS).faults

    assert {fault.kind for fault in faults} == {
        "error",
        "latency",
        "timeout",
        "duplicate",
        "reorder",
        "kill_after_write",
        "late_duplicate",
        "visibility_timeout",
        "delivery",
        "lost_answer",
        "outage",
        "slow",
        "conflict",
    }
    assert any(fault.target == "dynamodb" for fault in faults)


def test_nothing_deployed_can_inject_faults() -> None:
    """The hooks live in the local runtime: no function or layer refers to them."""
    root = Path(__file__).resolve().parents[2]
    deployed = [*root.glob("functions/**/*.py"), *root.glob("layers/**/*.py")]

    assert deployed
    assert [str(p) for p in deployed if "localcloud" in p.read_text()] == []


def test_a_seeded_plan_reorders_alike() -> None:
    batch = [_message(f"{group}{n}", group) for n in range(4) for group in "abcd"]

    def run(seed: int) -> list[list[str]]:
        plan = FaultPlan()
        plan.set([Fault(kind="reorder", target="*")], seed=seed)
        return [[m["MessageId"] for m in reordered(batch, plan.choice)] for _ in range(5)]

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_a_seeded_plan_repeats_for_each_function_however_the_functions_interleave() -> None:
    faults = [Fault(kind="error", target="*", rate=0.3), Fault(kind="timeout", target="*", rate=0.2)]

    def run(order: list[str]) -> dict[str, list[tuple[bool, bool, int]]]:
        plan = FaultPlan()
        plan.set(faults, seed=7)
        seen: dict[str, list[tuple[bool, bool, int]]] = {"A": [], "B": []}
        for function in order:
            error = plan.roll("error", function) is not None
            timeout = plan.roll("timeout", function) is not None
            seen[function].append((error, timeout, plan.dependency_faults(function).get("seed", 0)))
        return seen

    assert run(["A", "B"] * 30) == run(["B"] * 30 + ["A"] * 30)
    other = FaultPlan()
    other.set(faults, seed=8)
    assert [other.roll("error", "A") is not None for _ in range(30)] != [e for e, _, _ in run(["A"] * 30)["A"]]


def test_a_worker_seeded_alike_strikes_alike() -> None:
    def strikes(seed: int) -> list[bool]:
        faults = WorkerFaults()
        faults.begin({"services": [{"service": "dynamodb", "kind": "error", "rate": 0.5, "code": "X"}], "seed": seed})
        drawn = [faults.random.random() < 0.5 for _ in range(20)]
        faults.begin({})
        return drawn

    assert strikes(11) == strikes(11)
    assert strikes(11) != strikes(12)


def test_a_lost_answer_fails_a_write_that_was_applied() -> None:
    faults = WorkerFaults()
    faults.begin(FaultPlan([Fault(kind="lost_answer", target="dynamodb")]).dependency_faults("F"))
    client = boto3.client("dynamodb", region_name="eu-west-1")

    with Stubber(client) as stubber:
        stubber.add_response("put_item", {})
        with pytest.raises(client.exceptions.InternalServerError, match="applied"):
            client.put_item(TableName="t", Item={"k": {"S": "1"}})
        stubber.assert_no_pending_responses()  # the write went through
        stubber.add_response("get_item", {})
        client.get_item(TableName="t", Key={"k": {"S": "1"}})  # a read is not struck

    assert faults.injected == {"dynamodb_lost_answer": 1}
    faults.begin({})


def test_new_kinds_fit_only_their_targets() -> None:
    assert Fault(kind="late_duplicate", target="*").seconds == 5
    assert Fault(kind="visibility_timeout", target="*").seconds == 2
    Fault(kind="kill_after_write", target="Fulfilment")
    with pytest.raises(ValueError, match="no 'lost_answer' fault"):
        Fault(kind="lost_answer", target="sns")
    with pytest.raises(ValueError, match="no 'kill_after_write' fault"):
        Fault(kind="kill_after_write", target="dynamodb")
