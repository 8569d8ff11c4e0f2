"""moto's server standing in for AWS (DynamoDB, Secrets Manager, SSM) on 127.0.0.1."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator

from tests.support.procs import REPO, free_port, serving
from tests.support.sent_log_table import SENT_LOG_TABLE, create_sent_log_table

__all__ = ["AWS_TEST_ENV", "SENT_LOG_TABLE", "create_sent_log_table", "moto_server"]

# Credentials moto accepts; never real ones.
AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "ap-northeast-2",
    "AWS_DEFAULT_REGION": "ap-northeast-2",
}


@contextlib.contextmanager
def moto_server() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Its URL and its process."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = (
        f"import sys; sys.path.insert(0, {str(REPO)!r}); import tests.support.moto_cfn;"
        " from moto.server import main; main()"
    )
    with serving(
        [sys.executable, "-c", server, "-H", "127.0.0.1", "-p", str(port)], f"{url}/moto-api/", "moto server"
    ) as process:
        yield url, process
