"""What infra/template.yaml needs of moto's CloudFormation that it lacks: AWS::Lambda::Alias and
AWS::CloudWatch::Alarm (moto has both services' calls; its CloudFormation warns and skips the types), and
a Version that answers `!GetAtt V.Version` and `!Ref` (moto's answers neither). Each is made with moto's
own backend for the service; moto_server() in
tests/support/moto.py imports this module into the server it starts. Registered by being defined: moto
maps each CloudFormationModel subclass by its type, the later one winning."""

from __future__ import annotations

from typing import Any

from moto.awslambda.models import LambdaAlias, lambda_backends
from moto.cloudwatch.models import Alarm, cloudwatch_backends
from moto.core.common_models import CloudFormationModel


class _Made:
    """What each of these answers CloudFormation: its Ref (the physical id) and its GetAtt values. A mixin,
    not a base: moto finds models among CloudFormationModel's direct subclasses only."""

    ref: str
    attributes: dict[str, str]

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES  # type: ignore[attr-defined]

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.attributes[attribute_name]

    @property
    def physical_resource_id(self) -> str:
        return self.ref


class CloudFormationVersion(_Made, CloudFormationModel):
    ATTRIBUTES = ("Version",)

    def __init__(self, arn: str, version: str) -> None:
        self.ref, self.attributes = arn, {"Version": version}

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::Version"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CloudFormationVersion:
        published = lambda_backends[account_id][region_name].publish_version(
            cloudformation_json["Properties"]["FunctionName"]
        )
        assert published is not None
        return cls(published.function_arn, str(published.version))  # the ARN qualified by the version


class CloudFormationAlias(_Made, CloudFormationModel):
    ATTRIBUTES = ("AliasArn",)

    def __init__(self, alias: LambdaAlias) -> None:
        self.ref, self.attributes = str(alias.arn), {"AliasArn": str(alias.arn)}

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::Alias"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CloudFormationAlias:
        properties = cloudformation_json["Properties"]
        alias = lambda_backends[account_id][region_name].create_alias(
            properties["Name"],
            properties["FunctionName"],
            str(properties["FunctionVersion"]),
            properties.get("Description", ""),
            properties.get("RoutingConfig"),
        )
        return cls(alias)


class CloudFormationAlarm(_Made, CloudFormationModel):
    ATTRIBUTES = ("Arn",)

    def __init__(self, alarm: Alarm) -> None:
        self.ref, self.attributes = str(alarm.name), {"Arn": str(alarm.alarm_arn)}

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CloudFormationAlarm:
        p = cloudformation_json["Properties"]
        alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=p.get("AlarmName") or resource_name,
            namespace=p["Namespace"],
            metric_name=p["MetricName"],
            comparison_operator=p["ComparisonOperator"],
            evaluation_periods=int(p["EvaluationPeriods"]),
            period=int(p["Period"]),
            threshold=float(p["Threshold"]),
            statistic=p["Statistic"],
            description=p.get("AlarmDescription", ""),
            dimensions=p.get("Dimensions", []),
            alarm_actions=p.get("AlarmActions", []),
            treat_missing_data=p.get("TreatMissingData"),
        )
        return cls(alarm)
