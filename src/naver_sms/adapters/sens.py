"""SMS through Naver Cloud SENS API v2, signed with HMAC-SHA256 as its documentation describes.

Signature: base64(HMAC-SHA256(secret_key, "POST {path}\\n{timestamp}\\n{access_key}")).

Every failure is classified by what it says about the SMS. Only failures known to precede delivery
(no connection, or 429) are retried here; a read timeout, a 5xx or a connection lost after the request
was written may mean the message was accepted, so it is reported as OutcomeUnknown and never resent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError

from naver_sms.application.errors import NotDelivered, OutcomeUnknown, Refused
from naver_sms.domain.messages import PlannedMessage

TOO_MANY_REQUESTS = 429
BODY_SHOWN = 200  # characters of a refusal body kept in the reason


def sign(secret_key: str, method: str, path: str, timestamp: str, access_key: str) -> str:
    message = f"{method} {path}\n{timestamp}\n{access_key}".encode()
    digest = hmac.new(secret_key.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _request_id(response: requests.Response) -> str:
    """The provider's id for the accepted message; an odd body must not turn a sent SMS into an error."""
    try:
        return str(response.json().get("requestId", ""))
    except (ValueError, AttributeError):
        return ""


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _never_connected(err: requests.ConnectionError) -> bool:
    """True when the request cannot have left: the TCP connection was never made (refused, DNS, connect
    timeout). Anything else (reset, remote closed) may have happened after the request was written."""
    if isinstance(err, requests.ConnectTimeout):
        return True
    cause = err.args[0] if err.args else None
    return isinstance(cause, MaxRetryError) and isinstance(cause.reason, NewConnectionError)


@dataclass(frozen=True)
class SensCredentials:
    access_key: str
    secret_key: str
    service_id: str
    sender: str


@dataclass(frozen=True)
class SendPolicy:
    timeout: float  # seconds, for connecting and for the answer
    max_attempts: int  # for failures known to precede delivery
    backoff: float  # first wait between those attempts; doubles per attempt
    max_retry_after: float  # a longer Retry-After is handed to the caller instead of slept here


class SensTransport:
    def __init__(
        self, endpoint: str, credentials: SensCredentials, policy: SendPolicy, *, pool_size: int = 10
    ) -> None:
        self._endpoint = endpoint.rstrip("/")
        self._credentials = credentials
        self._policy = policy
        self._session = requests.Session()
        # A POST is never retried by the HTTP layer: this class decides, knowing what a retry risks.
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    @property
    def path(self) -> str:
        return f"/sms/v2/services/{self._credentials.service_id}/messages"

    def send(self, message: PlannedMessage) -> str:
        policy = self._policy
        for attempt in range(1, policy.max_attempts + 1):
            try:
                return self._attempt(message)
            except NotDelivered as err:
                wait = policy.backoff * 2 ** (attempt - 1)
                if err.retry_after is not None:
                    if err.retry_after > policy.max_retry_after:
                        raise
                    wait = max(wait, err.retry_after)
                if attempt == policy.max_attempts:
                    raise NotDelivered(
                        f"SENS not reached after {attempt} attempts: {err}", retry_after=err.retry_after
                    ) from err
                time.sleep(wait)
        raise AssertionError("unreachable: max_attempts is at least 1")

    def _attempt(self, message: PlannedMessage) -> str:
        try:
            response = self._post(message)
        except requests.ConnectionError as err:
            if _never_connected(err):
                raise NotDelivered(f"cannot connect to SENS: {type(err).__name__}") from err
            raise OutcomeUnknown(f"connection to SENS lost after sending: {type(err).__name__}") from err
        except requests.Timeout as err:
            raise OutcomeUnknown(f"no answer from SENS within {self._policy.timeout:g} s") from err
        except requests.RequestException as err:
            raise OutcomeUnknown(f"SENS request failed: {type(err).__name__}") from err
        status = response.status_code
        if 200 <= status < 300:
            return _request_id(response)
        problem = f"HTTP {status}: {response.text[:BODY_SHOWN]}"
        if status == TOO_MANY_REQUESTS:
            raise NotDelivered(f"SENS is rate limiting: {problem}", retry_after=_retry_after(response))
        if status >= 500:
            raise OutcomeUnknown(f"SENS answered {problem}; the message may have been accepted")
        raise Refused(f"SENS refused the message: {problem}")

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
            "type": message.kind.value,
            "from": creds.sender,
            "content": message.text,
            "messages": [{"to": message.phone}],
        }
        return self._session.post(
            self._endpoint + self.path,
            json=body,
            headers=headers,
            timeout=self._policy.timeout,
            allow_redirects=False,  # a followed redirect would be a second request for one SMS
        )
