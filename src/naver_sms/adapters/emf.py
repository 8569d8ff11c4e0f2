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

NAMESPACE = "NaverSms"


def emf_record(
    metrics: Mapping[str, tuple[float, str]], dimensions: Mapping[str, str], *, timestamp_ms: int
) -> dict[str, object]:
    """`metrics`: name → (value, unit), unit one of CloudWatch's ("Count", "Milliseconds" …)."""
    return {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [sorted(dimensions)],
                    "Metrics": [{"Name": name, "Unit": unit} for name, (_, unit) in metrics.items()],
                }
            ],
        },
        **dimensions,
        **{name: value for name, (value, _) in metrics.items()},
    }


def write_emf(metrics: Mapping[str, tuple[float, str]], dimensions: Mapping[str, str]) -> None:
    """On stdout, a line of its own and whatever the log level: metrics are not log lines to filter."""
    record = emf_record(metrics, dimensions, timestamp_ms=int(time.time() * 1000))
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()
