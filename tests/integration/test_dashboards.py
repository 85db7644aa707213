"""The template's CloudWatch dashboards on the stack: created as defined (`get-dashboard` returns
each body) and every widget of each drawn from the local CloudWatch, one for one, with every
metric, statistic and expression evaluated (none refused)."""

from __future__ import annotations

import json

import boto3

from localcloud.cloudwatch import CloudWatch
from tests.support.aws import REGION, Resources


def _cloudwatch(aws: Resources) -> CloudWatch:
    return CloudWatch(
        aws.deployment.alarms,
        client=boto3.client("cloudwatch", region_name=REGION),
        publish=lambda *_: None,
        gauges=dict,
        executions=list,
        report=lambda kind, details: None,
        prune=lambda before: None,
        region=REGION,
        account="123456789012",
        dashboards=aws.deployment.dashboards,
    )


def test_every_dashboard_is_created_as_the_template_defines_it(aws: Resources) -> None:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    listed = {entry["DashboardName"] for entry in cloudwatch.list_dashboards()["DashboardEntries"]}

    assert listed == set(aws.deployment.dashboards) == {"orderflow-local", "orderflow-local-Summary"}
    for name, body in aws.deployment.dashboards.items():
        assert json.loads(cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"]) == body


def test_every_widget_is_drawn_with_every_metric_and_expression(aws: Resources) -> None:
    local = _cloudwatch(aws)
    for name, body in aws.deployment.dashboards.items():
        widgets = local.dashboard(name, start=1_000.0, end=1_300.0)

        assert len(widgets) == len(body["widgets"])
        for drawn, defined in zip(widgets, body["widgets"], strict=True):
            assert (drawn["type"], drawn["x"], drawn["y"], drawn["width"], drawn["height"]) == (
                defined["type"], defined["x"], defined["y"], defined["width"], defined["height"],
            )  # fmt: skip
            if defined["type"] == "metric":
                assert drawn["errors"] == [], (name, drawn["title"])
                visible = [row for row in defined["properties"]["metrics"] if row[-1].get("visible", True)]
                assert len(drawn["series"]) == len(visible), (name, drawn["title"])
