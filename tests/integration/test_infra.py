"""infra/template.yaml: cfn-lint clean (and able to fail), and deployed into moto's server, where the
resources it makes are the ones the Lambda's settings, scripts and alarms expect."""

from __future__ import annotations

import ast
import json
import subprocess
from dataclasses import fields
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfnlint.decode import decode  # cfn-lint's own reader of CloudFormation YAML

from naver_sms.application.run_metrics import RunMetrics
from tests.conftest import BIN
from tests.support.moto import create_sent_log_table
from tests.support.procs import REPO, offline_lib

TEMPLATE = REPO / "infra" / "template.yaml"
IMAGE = "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/naver-sms-automation@sha256:" + "a" * 64
OIDC = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"


def resources() -> dict[str, Any]:
    """The template's resources as CloudFormation reads them (short tags such as !Ref included)."""
    template, errors = decode(str(TEMPLATE))
    assert not errors and template is not None
    return dict(template["Resources"])


def cfn_lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "cfn-lint"), str(path)], capture_output=True, text=True, check=False)


def test_the_template_is_cfn_lint_clean() -> None:
    result = cfn_lint(TEMPLATE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_fails_a_template_with_a_wrong_property(tmp_path: Path) -> None:
    broken = tmp_path / "template.yaml"
    broken.write_text(TEMPLATE.read_text().replace("BillingMode: PAY_PER_REQUEST", "BillingMode: FREE"))
    result = cfn_lint(broken)
    assert result.returncode != 0 and "FREE" in result.stdout


def deploy(**parameters: str) -> dict[str, Any]:
    cfn = boto3.client("cloudformation")
    cfn.create_stack(
        StackName="naver-sms",
        TemplateBody=TEMPLATE.read_text(),
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
    )
    (stack,) = cfn.describe_stacks(StackName="naver-sms")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    resources = cfn.list_stack_resources(StackName="naver-sms")["StackResourceSummaries"]
    return {
        "outputs": {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        "resources": {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources},
    }


def run_rie_defaults() -> tuple[int, int]:
    out = offline_lib('echo "$LAMBDA_MEMORY_MB $LAMBDA_TIMEOUT"')
    memory, timeout = out.stdout.split()
    return int(memory), int(timeout)


def test_a_first_deploy_without_an_image_makes_what_the_image_needs_first(aws: str) -> None:
    stack = deploy()
    assert set(stack["outputs"]) == {"RepositoryUri", "SentLogTable", "AlarmTopicArn"}
    assert boto3.client("lambda").list_functions()["Functions"] == []
    ecr = boto3.client("ecr").describe_repositories(repositoryNames=["naver-sms-automation"])
    (repository,) = ecr["repositories"]
    assert repository["repositoryUri"] == stack["outputs"]["RepositoryUri"]
    # moto's CloudFormation drops scanning and lifecycle: the template itself says them.
    properties = resources()["Repository"]["Properties"]
    assert properties["ImageScanningConfiguration"] == {"ScanOnPush": True}
    rules = json.loads(properties["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]
    assert [(rule["selection"]["tagStatus"], rule["action"]["type"]) for rule in rules] == [
        ("untagged", "expire"),
        ("any", "expire"),
    ]


def test_the_deployed_stack_runs_the_image_on_a_schedule_behind_live(aws: str) -> None:
    stack = deploy(
        ImageUri=IMAGE,
        Schedule="rate(15 minutes)",
        SlackWebhookParameter="/naver-sms/slack",
        GitHubRepository="owner/naver-sms-automation",
        GitHubOidcProviderArn=OIDC,
    )
    lam = boto3.client("lambda")
    function = lam.get_function(FunctionName="naver-sms-automation")
    config = function["Configuration"]
    assert function["Code"]["ImageUri"] == IMAGE
    # moto's CloudFormation drops PackageType: the template itself says it.
    assert resources()["Function"]["Properties"]["PackageType"] == "Image"
    assert (config["MemorySize"], config["Timeout"]) == run_rie_defaults()
    assert function["Concurrency"]["ReservedConcurrentExecutions"] == 1
    env = config["Environment"]["Variables"]
    assert env["APP_ENV"] == "production" and env["SMS_DRY_RUN"] == "true"
    assert env["NAVER_PASSWORD"] == "secretsmanager:naver-sms/naver#password"
    assert env["SENS_SECRET_KEY"] == "secretsmanager:naver-sms/sens#secret_key"
    assert env["SLACK_WEBHOOK_URL"] == "ssm:/naver-sms/slack"
    assert env["SENT_LOG_TABLE"] == stack["outputs"]["SentLogTable"]

    alias = lam.get_alias(FunctionName="naver-sms-automation", Name="live")
    assert alias["AliasArn"] == stack["outputs"]["LiveAliasArn"] and alias["FunctionVersion"] == "1"
    events = boto3.client("events")
    rule = events.describe_rule(Name=stack["resources"]["ScheduleRule"])
    assert rule["ScheduleExpression"] == "rate(15 minutes)"
    (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == alias["AliasArn"]
    policy = json.loads(lam.get_policy(FunctionName="naver-sms-automation", Qualifier="live")["Policy"])
    assert [s["Principal"] for s in policy["Statement"]] == [{"Service": "events.amazonaws.com"}]

    table = boto3.client("dynamodb").describe_table(TableName="naver-sms-sent")["Table"]
    assert table["KeySchema"] == [{"AttributeName": "idempotency_key", "KeyType": "HASH"}]
    (index,) = table["GlobalSecondaryIndexes"]
    assert (index["IndexName"], index["KeySchema"]) == (
        "open",
        [{"AttributeName": "open", "KeyType": "HASH"}],
    )
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    # moto's CloudFormation drops point-in-time recovery: the template itself says it.
    recovery = resources()["SentLogTable"]["Properties"]["PointInTimeRecoverySpecification"]
    assert recovery == {"PointInTimeRecoveryEnabled": True}


def role_statements(role_arn: str) -> list[dict[str, Any]]:
    iam = boto3.client("iam")
    name = role_arn.rsplit("/", 1)[-1]
    statements: list[dict[str, Any]] = []
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
        if isinstance(document, str):  # moto keeps a CloudFormation-made policy as its Python repr
            document = ast.literal_eval(document)
        # moto keeps an !If's AWS::NoValue in a list as None, where CloudFormation drops the element.
        statements += [statement for statement in document["Statement"] if statement is not None]
    return statements


def test_the_execution_role_allows_the_runs_calls_and_nothing_more(aws: str) -> None:
    deploy(ImageUri=IMAGE, SlackWebhookParameter="/naver-sms/slack")
    config = boto3.client("lambda").get_function(FunctionName="naver-sms-automation")["Configuration"]
    statements = {s["Sid"]: s for s in role_statements(config["Role"])}
    assert set(statements) == {"Logs", "SentLog", "SentLogSweep", "Secrets", "SlackWebhook"}
    sweep = statements["SentLogSweep"]
    assert sweep["Action"] == "dynamodb:Query" and sweep["Resource"].endswith(
        ":table/naver-sms-sent/index/open"
    )
    assert sorted(statements["SentLog"]["Action"]) == [
        "dynamodb:BatchGetItem",
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
    ]
    assert statements["SentLog"]["Resource"].endswith(":table/naver-sms-sent")
    assert statements["Secrets"]["Action"] == "secretsmanager:GetSecretValue"
    assert all(":secret:naver-sms/" in arn for arn in statements["Secrets"]["Resource"])
    assert statements["SlackWebhook"]["Resource"].endswith(":parameter/naver-sms/slack")
    assert all("*" not in str(s["Action"]) for s in statements.values())


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ("token", {"EVENTS_NATS_TOKEN": "secretsmanager:naver-sms/nats#token"}),
        (
            "user",
            {"EVENTS_NATS_USER": "feed", "EVENTS_NATS_PASSWORD": "secretsmanager:naver-sms/nats#password"},
        ),
        ("nkey", {"EVENTS_NATS_NKEY_SEED": "secretsmanager:naver-sms/nats#nkey_seed"}),
        ("none", {}),
    ],
)
def test_a_stack_with_nats_hands_the_lambda_its_url_and_one_credential_by_reference(
    aws: str, auth: str, expected: dict[str, str]
) -> None:
    deploy(
        ImageUri=IMAGE, EventsNatsUrl="tls://nats.example:4222", EventsNatsAuth=auth, EventsNatsUser="feed"
    )
    config = boto3.client("lambda").get_function(FunctionName="naver-sms-automation")["Configuration"]
    env = config["Environment"]["Variables"]
    assert env["EVENTS_NATS_URL"] == "tls://nats.example:4222" and env["EVENTS_MODE"] == ""  # so: publish
    assert {
        k: v for k, v in env.items() if k.startswith("EVENTS_NATS_") and k != "EVENTS_NATS_URL"
    } == expected
    statements = {s["Sid"]: s for s in role_statements(config["Role"])}
    if expected:
        assert statements["EventsNatsSecret"]["Resource"].endswith(":secret:naver-sms/nats-??????")
    else:
        assert "EventsNatsSecret" not in statements


def test_the_alarms_watch_crashes_and_every_run_metric_marked_for_an_alarm(aws: str) -> None:
    """Lambda's own Errors, and each RunMetrics field whose metric says `alarm` (failed runs, unknown
    outcomes, failed logins, held runs, handset failures, expiries, a reconcile pass that failed)."""
    deploy(ImageUri=IMAGE, AlarmEmail="ops@example.com")
    alarms = {a["MetricName"]: a for a in boto3.client("cloudwatch").describe_alarms()["MetricAlarms"]}
    marked = {f.metadata["metric"].name for f in fields(RunMetrics) if f.metadata["metric"].alarm}
    assert {"RunFailed", "Unknown", "HandsetFailed"} <= marked
    assert set(alarms) == {"Errors", *marked}
    for metric in marked:
        alarm = alarms[metric]
        assert (alarm["Namespace"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
            "NaverSms",
            0.0,
            "GreaterThanThreshold",
        )
        assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": "naver-sms-automation"}]
    topics = [t["TopicArn"] for t in boto3.client("sns").list_topics()["Topics"]]
    assert all(alarm["AlarmActions"] == topics for alarm in alarms.values())


def test_the_deploy_role_trusts_only_the_production_environment_of_the_repository(aws: str) -> None:
    stack = deploy(ImageUri=IMAGE, GitHubRepository="owner/naver-sms-automation", GitHubOidcProviderArn=OIDC)
    role = boto3.client("iam").get_role(RoleName=stack["outputs"]["DeployRoleArn"].rsplit("/", 1)[-1])["Role"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"]["StringEquals"] == {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": "repo:owner/naver-sms-automation:environment:production",
    }


def test_the_deploy_role_is_absent_without_a_repository(aws: str) -> None:
    assert "DeployRoleArn" not in deploy(ImageUri=IMAGE)["outputs"]


def test_the_tests_sent_log_table_has_the_templates_index(aws: str) -> None:
    create_sent_log_table()
    table = boto3.client("dynamodb").describe_table(TableName="naver-sms-sent")["Table"]
    made = [(i["IndexName"], i["KeySchema"], i["Projection"]) for i in table["GlobalSecondaryIndexes"]]
    declared = resources()["SentLogTable"]["Properties"]["GlobalSecondaryIndexes"]
    assert made == [(i["IndexName"], i["KeySchema"], i["Projection"]) for i in declared]
