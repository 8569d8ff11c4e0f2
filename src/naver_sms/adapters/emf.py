"""CloudWatch Embedded Metric Format: one JSON line on stdout that CloudWatch Logs turns into metrics.

A dozen lines of the documented format do what a library would (aws-embedded-metrics brings its own
event loop plumbing and environment probing for one line a run); the format is
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping

from naver_sms.application.run_metrics import Metric

NAMESPACE = "NaverSms"


def emf_record(
    metrics: Mapping[Metric, float], dimensions: Mapping[str, str], *, timestamp_ms: int
) -> dict[str, object]:
    return {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [sorted(dimensions)],
                    "Metrics": [{"Name": metric.name, "Unit": metric.unit.value} for metric in metrics],
                }
            ],
        },
        **dimensions,
        **{metric.name: value for metric, value in metrics.items()},
    }


def write_emf(metrics: Mapping[Metric, float], dimensions: Mapping[str, str]) -> None:
    """On stdout, a line of its own and whatever the log level: metrics are not log lines to filter."""
    record = emf_record(metrics, dimensions, timestamp_ms=int(time.time() * 1000))
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()
