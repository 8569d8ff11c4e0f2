"""SMS through Naver Cloud SENS API v2, signed with HMAC-SHA256 as its documentation describes.

Signature: base64(HMAC-SHA256(secret_key, "POST {path}\\n{timestamp}\\n{access_key}")).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

import requests

from naver_sms.adapters.http import RETRY_STATUSES
from naver_sms.application.errors import DeliveryError
from naver_sms.domain.messages import PlannedMessage
from naver_sms.settings.model import SENS_BACKOFF_SECONDS

SMS_MAX_BYTES = 80  # SENS: longer content must go as LMS; lengths count in EUC-KR bytes.


def sign(secret_key: str, method: str, path: str, timestamp: str, access_key: str) -> str:
    message = f"{method} {path}\n{timestamp}\n{access_key}".encode()
    digest = hmac.new(secret_key.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def message_type(text: str) -> str:
    return "SMS" if len(text.encode("euc-kr", errors="replace")) <= SMS_MAX_BYTES else "LMS"


def _request_id(response: requests.Response) -> str:
    """The provider's id for the accepted message; an odd body must not turn a sent SMS into an error."""
    try:
        return str(response.json().get("requestId", ""))
    except (ValueError, AttributeError):
        return ""


@dataclass(frozen=True)
class SensCredentials:
    access_key: str
    secret_key: str
    service_id: str
    sender: str


class SensTransport:
    def __init__(
        self,
        endpoint: str,
        credentials: SensCredentials,
        *,
        timeout: float,
        max_attempts: int,
        backoff: float = SENS_BACKOFF_SECONDS,
    ) -> None:
        self._endpoint = endpoint.rstrip("/")
        self._credentials = credentials
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._session = requests.Session()

    @property
    def path(self) -> str:
        return f"/sms/v2/services/{self._credentials.service_id}/messages"

    def send(self, message: PlannedMessage) -> str:
        """Retries 5xx, 429 and connection errors with backoff; other 4xx fail at once."""
        last_problem = ""
        for attempt in range(1, self._max_attempts + 1):
            try:
                response = self._post(message)
            except requests.RequestException as err:
                last_problem = f"{type(err).__name__}"
            else:
                if response.status_code in (200, 202):
                    return _request_id(response)
                last_problem = f"HTTP {response.status_code}: {response.text[:200]}"
                if response.status_code not in RETRY_STATUSES:
                    raise DeliveryError(f"SENS refused the message: {last_problem}", retryable=False)
            if attempt < self._max_attempts:
                time.sleep(self._backoff * 2 ** (attempt - 1))
        raise DeliveryError(
            f"SENS failed after {self._max_attempts} attempts: {last_problem}", retryable=True
        )

    def _post(self, message: PlannedMessage) -> requests.Response:
        creds = self._credentials
        timestamp = str(int(time.time() * 1000))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "x-ncp-apigw-timestamp": timestamp,
            "x-ncp-iam-access-key": creds.access_key,
            "x-ncp-apigw-signature-v2": sign(
                creds.secret_key, "POST", self.path, timestamp, creds.access_key
            ),
        }
        body = {
            "type": message_type(message.text),
            "from": creds.sender,
            "content": message.text,
            "messages": [{"to": message.phone}],
        }
        return self._session.post(
            self._endpoint + self.path, json=body, headers=headers, timeout=self._timeout
        )
