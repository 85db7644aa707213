"""cdk-nag AwsSolutions on every synth. Each acknowledged finding says why it is acceptable, at
the narrowest scope that covers it; anything new fails the synth."""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks

from infra.stack import AppStack, DataStack

PACK = "AwsSolutions::AwsSolutions"


def _ack(rule: str, reason: str) -> Acknowledgment:
    return Acknowledgment(id=f"{PACK}-{rule}", reason=reason)


def add_nag_checks(app: App, data: DataStack, stack: AppStack) -> None:
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    Validations.of(stack).acknowledge(
        _ack(
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "Lets each function write its own CloudWatch logs (logs:CreateLogStream/PutLogEvents); "
            "AWS maintains it and it grants nothing else.",
        ),
        _ack(
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited]",
            "Production rollouts: lets CodeDeploy move a function's alias, read its alarms and publish to its "
            "own triggers; AWS maintains it for exactly that (CodeDeploy: service role for AWS Lambda).",
        ),
        _ack(
            "IAM5[Action::kms:GenerateDataKey*]",
            "CDK's KMS grants on the stack's single data key: the wildcard covers the GenerateDataKey "
            "variants SQS, SNS and DynamoDB call, on that one key ARN only.",
        ),
        _ack(
            "IAM5[Action::kms:ReEncrypt*]",
            "CDK's encrypt/decrypt grant on the stack's single data key (ReEncryptFrom/To), on that one key ARN only.",
        ),
        _ack(
            "IAM5[Resource::*]",
            "Active X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no "
            "resource-level permissions (AWS X-Ray IAM reference).",
        ),
        _ack(
            "L1",
            "Python 3.13 is the runtime the dependency layer's wheels are built for; moving runtime is a "
            "deliberate change of the layer and the functions together.",
        ),
    )
    Validations.of(stack.api.api).acknowledge(
        _ack(
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
            "The account-level role API Gateway needs to write execution and access logs; AWS-managed "
            "and limited to CloudWatch Logs.",
        ),
        _ack(
            "APIG4",
            "Clients are identified by API key with a usage plan (throttle and quota); the identity "
            "provider (Cognito, IAM, a Lambda authorizer) is the deploying team's choice.",
        ),
        _ack("COG4", "See APIG4: API keys and usage plans identify clients; no Cognito user pool is assumed."),
        _ack(
            "APIG2",
            "The gateway validates request parameters; bodies are validated by the function against "
            "the order model, which names each invalid field. A gateway body validator could only answer "
            "'Invalid request body': gateway responses substitute variables and cannot escape the "
            "validator's message into JSON.",
        ),
        _ack(
            "APIG3",
            "A WAF web ACL is account-specific and billed separately; associate the organisation's ACL "
            "with the stage in production.",
        ),
    )
    Validations.of(stack.fulfilment.saga.state_machine).acknowledge(
        *(
            _ack(
                f"IAM5[Resource::<{stack.get_logical_id(function.node.default_child)}.Arn>:*]",  # type: ignore[arg-type]
                "CDK's LambdaInvoke grant: invoking the task function and its versions/aliases (`:*`), "
                "that one function only.",
            )
            for function in stack.fulfilment.task_functions
        )
    )
    Validations.of(data.fulfilment.rule_failures).acknowledge(
        _ack("SQS3", "The dead-letter queue of the EventBridge rule targets; cdk-nag only recognises redrive DLQs.")
    )
    Validations.of(data.backbone.relay_failures).acknowledge(
        _ack(
            "SQS3",
            "This queue is the outbox stream's on-failure destination (the relay's DLQ); cdk-nag only "
            "recognises DLQs attached through a redrive policy.",
        )
    )
