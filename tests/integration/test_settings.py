from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import boto3
import pytest

from naver_sms.adapters.sens import SensCredentials
from naver_sms.bootstrap.shared import nats_credentials
from naver_sms.settings import SecretUnavailable, Settings, SettingsError
from naver_sms.settings.env import ENV_TO_KEY
from naver_sms.settings.redact import without_credentials
from naver_sms.settings.secrets import DEFAULT_TTL_SECONDS, configure_secret_cache, refresh_secrets
from tests.support.procs import REPO


def write_config(tmp_path: Path, base: str, **overlays: str) -> Path:
    (tmp_path / "settings.yaml").write_text((REPO / "config" / "settings.yaml").read_text() + base)
    for env, text in overlays.items():
        (tmp_path / f"settings.{env}.yaml").write_text(text)
    return tmp_path


def test_repo_defaults_are_safe() -> None:
    settings = Settings.load(environ={})
    assert settings.app.env == "local"
    assert settings.sms_dry_run is True
    assert settings.secrets() == []
    assert settings.rules_path == REPO / "config" / "rules.yaml"


def test_production_overlay_turns_real_sending_on_and_env_can_turn_it_off() -> None:
    assert Settings.load(environ={"APP_ENV": "production"}).sms_dry_run is False
    assert Settings.load(environ={"APP_ENV": "production", "SMS_DRY_RUN": "true"}).sms_dry_run is True
    assert Settings.load(environ={"APP_ENV": "staging"}).sms_dry_run is True
    assert Settings.load(environ={"SMS_DRY_RUN": ""}).sms_dry_run is True


@pytest.mark.parametrize(
    "app_env",
    ["Production", "PRODUCTION", "prod", "prd", "production ", " production", "production\r", "prod-1"],
)
def test_a_near_miss_of_production_is_refused_not_dry_run(app_env: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.load(environ={"APP_ENV": app_env})
    message = str(caught.value)
    assert message.startswith(f"APP_ENV={app_env!r} is not an environment name") and "'production'" in message


def test_a_near_miss_in_the_settings_file_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    base = (REPO / "config" / "settings.yaml").read_text().replace("env: local", "env: Production")
    (config / "settings.yaml").write_text(base)
    with pytest.raises(SettingsError, match=rf"^app.env \({config}/settings.yaml\)='Production' is not"):
        Settings.load(config, {})


@pytest.mark.parametrize("app_env", ["staging", "dev", "local", "qa_2", "production"])
def test_ordinary_environment_names_load(app_env: str) -> None:
    assert Settings.load(environ={"APP_ENV": app_env}).app.env == app_env


def test_layering_order_file_overlay_env(tmp_path: Path) -> None:
    config = write_config(tmp_path, "", staging="worker:\n  concurrency: 4\n  health_port: 9100\n")
    settings = Settings.load(config, {"APP_ENV": "staging", "WORKER_CONCURRENCY": "8"})
    assert settings.worker.concurrency == 8  # env beats the overlay
    assert settings.worker.health_port == 9100  # overlay beats the base file


def test_settings_are_immutable() -> None:
    settings = Settings.load(environ={})
    with pytest.raises(Exception, match="frozen"):
        settings.worker.concurrency = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"WORKER_CONCURRENCY": "many"}, "worker.concurrency (environment variable WORKER_CONCURRENCY)"),
        (
            {"DRAIN_SECONDS": "12"},
            "worker.drain_seconds (environment variable DRAIN_SECONDS): Input should be less than 10",
        ),
        ({"LOG_LEVEL": "LOUD"}, "app.log_level (environment variable LOG_LEVEL)"),
        ({"SENS_ENDPOINT": "not a url"}, "sms.endpoint (environment variable SENS_ENDPOINT)"),
        ({"NATS_URL": "http://x"}, "worker.nats_url"),
        ({"SMS_DRY_RUN": "perhaps"}, "sms.dry_run (environment variable SMS_DRY_RUN)"),
    ],
)
def test_bad_env_values_name_key_and_source(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.load(environ=environ)
    assert message in str(caught.value)


def test_bad_file_values_name_the_file(tmp_path: Path) -> None:
    config = write_config(tmp_path, "", staging="worker:\n  health_port: seventy\n")
    with pytest.raises(SettingsError, match=rf"worker.health_port \({config}/settings.staging.yaml\)"):
        Settings.load(config, {"APP_ENV": "staging"})


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path, "", staging="sms:\n  dryrun: true\n")
    with pytest.raises(SettingsError, match=r"sms.dryrun \(.*settings.staging.yaml\): Extra inputs"):
        Settings.load(config, {"APP_ENV": "staging"})


def test_missing_required_key(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text("app:\n  env: local\n")
    with pytest.raises(SettingsError, match=r"naver.login_url \(not set anywhere\): Field required"):
        Settings.load(tmp_path, {})


@pytest.mark.parametrize(
    ("text", "message"),
    [("app: [unclosed", "not valid YAML"), ("- a list\n", "expected a mapping at the top")],
)
def test_broken_files(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "settings.yaml").write_text(text)
    with pytest.raises(SettingsError, match=message):
        Settings.load(tmp_path, {})


def test_missing_config_dir(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        Settings.load(tmp_path / "nowhere", {})


def test_reference_outside_secret_fields_is_refused() -> None:
    with pytest.raises(SettingsError, match=r"sms.service_id .*secret references are allowed only in"):
        Settings.load(environ={"SENS_SERVICE_ID": "ssm:/x"})


def test_unset_secret_says_which_variable() -> None:
    secret = Settings.load(environ={}).sms.secret_key
    with pytest.raises(SettingsError, match=r"sms.secret_key is required but empty .*: set SENS_SECRET_KEY"):
        secret.reveal()


def test_literal_secret_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings.load(environ={"SENS_SECRET_KEY": "hunter2-literal"})
    logging.getLogger("t").info("settings %s %r", settings, settings)
    assert "hunter2-literal" not in repr(settings) + str(settings) + caplog.text
    assert settings.sms.secret_key.reveal() == "hunter2-literal"


def test_bad_secret_value_is_not_echoed() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.load(environ={"SENS_SECRET_KEY": "hunter2-literal", "WORKER_CONCURRENCY": "x"})
    assert "hunter2-literal" not in str(caught.value)


@pytest.mark.parametrize(
    ("nats_url", "password"),
    [
        ("nats://user:p@ss@nats:4222,nats2", "p@ss"),  # an '@' in the password itself
        ("user:pa55word@nats:4222", "pa55word"),  # no scheme: refused, and still not echoed
        ("nats://a:pw1@h1:4222,b:pw2@h2:4222", "pw2"),  # the second URL of a list without its scheme
    ],
)
def test_a_nats_url_in_an_error_never_shows_its_password(nats_url: str, password: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.load(environ={"NATS_URL": nats_url, "WORKER_CONCURRENCY": "x"})
    assert password not in str(caught.value) and "***@" in str(caught.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("nats://user:p@ss@nats:4222", "nats://***@nats:4222"),
        ("user:pass@nats:4222", "***@nats:4222"),
        ("nats://a:b@h1:4222,nats://c:d@h2:4222", "nats://***@h1:4222,nats://***@h2:4222"),
        ("nats://nats:4222", "nats://nats:4222"),
    ],
)
def test_without_credentials_masks_every_userinfo(url: str, shown: str) -> None:
    assert without_credentials(url) == shown


def test_a_misspelled_secret_key_is_named_but_its_value_never_shown(tmp_path: Path) -> None:
    config = write_config(tmp_path, "", staging="sms:\n  secret_kye: hunter2-typo\n")
    with pytest.raises(SettingsError) as caught:
        Settings.load(config, {"APP_ENV": "staging"})
    assert f"sms.secret_kye ({config}/settings.staging.yaml): Extra inputs are not permitted" in str(
        caught.value
    )
    assert "hunter2-typo" not in str(caught.value)


def test_sens_credentials_never_show_their_keys() -> None:
    creds = SensCredentials("AKIA-access-planted", "secret-planted", "ncp:sms:kr:1:x", "0212345678")
    assert "planted" not in repr(creds) + str(creds)


def test_an_empty_section_with_an_environment_override_loads(tmp_path: Path) -> None:
    # `alerts:` with nothing under it once raised TypeError when SLACK_WEBHOOK_URL was set.
    config = write_config(tmp_path, "", staging="alerts:\n")
    settings = Settings.load(config, {"APP_ENV": "staging", "SLACK_WEBHOOK_URL": "https://hooks.example/x"})
    assert settings.alerts.slack_webhook_url.reveal() == "https://hooks.example/x"
    assert Settings.load(config, {"APP_ENV": "staging"}).alerts.slack_webhook_url.is_set is False


def test_a_scalar_where_a_section_belongs_names_the_section_and_its_file(tmp_path: Path) -> None:
    env = {"SLACK_WEBHOOK_URL": "https://hooks.example/x"}
    (tmp_path / "base").mkdir()
    (tmp_path / "overlay").mkdir()
    in_base = write_config(tmp_path / "base", "alerts: 5\n")  # the env override lands under a scalar
    with pytest.raises(SettingsError) as caught:
        Settings.load(in_base, env)
    expected = (
        f"alerts ({in_base}/settings.yaml): expected a section holding alerts.slack_webhook_url, got a int"
    )
    assert str(caught.value) == expected
    overlay = write_config(
        tmp_path / "overlay", "", staging="alerts: 5\n"
    )  # the scalar lands over the section
    with pytest.raises(SettingsError) as caught:
        Settings.load(overlay, {"APP_ENV": "staging", **env})
    assert f"alerts ({overlay}/settings.staging.yaml): Input should be a valid dictionary" in str(
        caught.value
    )


@pytest.mark.parametrize("value", ["no", "off", "yes", "true", "12345"])
def test_an_unquoted_yaml_scalar_for_a_secret_is_an_error_naming_the_key_and_file(
    tmp_path: Path, value: str
) -> None:
    config = write_config(tmp_path, "", staging=f"naver:\n  password: {value}\n")
    with pytest.raises(SettingsError) as caught:
        Settings.load(config, {"APP_ENV": "staging"})
    message = str(caught.value)
    assert message.startswith(
        f"naver.password ({config}/settings.staging.yaml): expected a string, got a YAML"
    )
    assert "quote the value" in message


def test_secret_references_resolve_from_moto(aws: str) -> None:
    boto3.client("secretsmanager").create_secret(
        Name="naver/login",
        SecretString=json.dumps({"username": "owner", "password": "pw-from-secrets-manager"}),
    )
    boto3.client("ssm").put_parameter(Name="/sens/secret", Value="sens-from-ssm", Type="SecureString")
    settings = Settings.load(
        environ={
            "NAVER_USERNAME": "secretsmanager:naver/login#username",
            "NAVER_PASSWORD": "secretsmanager:naver/login#password",
            "SENS_SECRET_KEY": "ssm:/sens/secret",
        }
    )
    assert settings.naver.password.reveal() == "pw-from-secrets-manager"
    assert settings.naver.username.reveal() == "owner"
    assert settings.sms.secret_key.reveal() == "sens-from-ssm"
    assert "pw-from-secrets-manager" not in repr(settings)
    assert len(settings.secrets()) == 3


class Clock:
    """A monotonic clock a test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    clock = Clock()
    configure_secret_cache(clock=clock)
    return clock


def test_the_secret_ttl_default_is_the_caches(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.load(environ={}).app.secret_ttl_seconds == DEFAULT_TTL_SECONDS == 900
    with pytest.raises(
        SettingsError, match=r"app.secret_ttl_seconds \(environment variable SECRET_TTL_SECONDS\)"
    ):
        Settings.load(environ={"SECRET_TTL_SECONDS": "-1"})


def test_a_rotated_secret_is_read_again_after_the_ttl(aws: str, clock: Clock) -> None:
    client = boto3.client("secretsmanager")
    client.create_secret(Name="rotating", SecretString=json.dumps({"password": "first"}))
    settings = Settings.load(
        environ={"SECRET_TTL_SECONDS": "60", "NAVER_PASSWORD": "secretsmanager:rotating#password"}
    )
    secret = settings.naver.password
    assert secret.reveal() == "first"
    client.put_secret_value(SecretId="rotating", SecretString=json.dumps({"password": "second"}))
    clock.now += 59.9
    assert secret.reveal() == "first", "inside the TTL the value read is reused"
    clock.now += 0.1
    assert secret.reveal() == "second", "at the TTL it is read again"
    client.put_secret_value(SecretId="rotating", SecretString=json.dumps({"password": "third"}))
    clock.now += 59.9
    assert secret.reveal() == "second", "the TTL counts from the last read"


def test_refresh_reads_every_reference_again_at_once(aws: str, clock: Clock) -> None:
    client = boto3.client("secretsmanager")
    client.create_secret(Name="rotating", SecretString="first")
    boto3.client("ssm").put_parameter(Name="/sens/secret", Value="sens-1", Type="SecureString")
    settings = Settings.load(
        environ={
            "NAVER_PASSWORD": "secretsmanager:rotating",
            "SENS_SECRET_KEY": "ssm:/sens/secret",
            "SENS_ACCESS_KEY": "literal-access-key",
        }
    )
    assert (settings.naver.password.reveal(), settings.sms.secret_key.reveal()) == ("first", "sens-1")
    client.put_secret_value(SecretId="rotating", SecretString="second")
    boto3.client("ssm").put_parameter(
        Name="/sens/secret", Value="sens-2", Type="SecureString", Overwrite=True
    )
    assert settings.naver.password.reveal() == "first"  # the default TTL (15 min) has not passed
    refresh_secrets()
    assert (settings.naver.password.reveal(), settings.sms.secret_key.reveal()) == ("second", "sens-2")
    assert settings.sms.access_key.reveal() == "literal-access-key"
    client.put_secret_value(SecretId="rotating", SecretString="third")
    assert settings.naver.password.reveal() == "second", "after a refresh the value is cached again"


def test_a_ttl_of_zero_reads_on_every_reveal(aws: str) -> None:
    client = boto3.client("secretsmanager")
    client.create_secret(Name="rotating", SecretString="first")
    secret = Settings.load(
        environ={"SECRET_TTL_SECONDS": "0", "NAVER_PASSWORD": "secretsmanager:rotating"}
    ).naver.password
    assert secret.reveal() == "first"
    client.put_secret_value(SecretId="rotating", SecretString="second")
    assert secret.reveal() == "second"


def test_a_failed_re_read_fails_the_reveal_and_never_gives_the_old_value(aws: str, clock: Clock) -> None:
    client = boto3.client("secretsmanager")
    client.create_secret(Name="rotating", SecretString="first")
    secret = Settings.load(environ={"NAVER_PASSWORD": "secretsmanager:rotating"}).naver.password
    assert secret.reveal() == "first"
    client.delete_secret(SecretId="rotating", ForceDeleteWithoutRecovery=True)
    assert secret.reveal() == "first"  # inside the TTL AWS is not asked
    clock.now += DEFAULT_TTL_SECONDS
    with pytest.raises(SecretUnavailable) as caught:
        secret.reveal()
    assert str(caught.value) == (
        "naver.password (environment variable NAVER_PASSWORD): cannot read 'secretsmanager:rotating': "
        "ResourceNotFoundException (re-reading it after 900 s; the value read before is not used: it may "
        "be the one a rotation replaced)"
    )
    with pytest.raises(SecretUnavailable, match="ResourceNotFoundException"):
        secret.reveal()  # and again: the old value is gone, not kept for later
    client.create_secret(Name="rotating", SecretString="second")
    assert secret.reveal() == "second"


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        (
            "secretsmanager:absent",
            "naver.password (environment variable NAVER_PASSWORD): "
            "cannot read 'secretsmanager:absent': ResourceNotFoundException",
        ),
        ("ssm:/absent", "cannot read 'ssm:/absent': ParameterNotFound"),
        ("secretsmanager:plain#key", "is not a JSON object with key 'key'"),
    ],
)
def test_unreadable_secret_names_key_and_reference(aws: str, reference: str, message: str) -> None:
    boto3.client("secretsmanager").create_secret(Name="plain", SecretString="not json")
    secret = Settings.load(environ={"NAVER_PASSWORD": reference}).naver.password
    with pytest.raises(SecretUnavailable) as caught:
        secret.reveal()
    assert message in str(caught.value)
    assert "not json" not in str(caught.value)


def test_unreachable_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # discard port: nothing listens
    secret = Settings.load(environ={"NAVER_PASSWORD": "ssm:/x"}).naver.password
    with pytest.raises(SecretUnavailable, match=r"naver.password .*cannot reach AWS for 'ssm:/x'"):
        secret.reveal()


def test_no_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    secret = Settings.load(environ={"NAVER_PASSWORD": "ssm:/x"}).naver.password
    with pytest.raises(SecretUnavailable, match="no AWS region"):
        secret.reveal()


def test_one_send_must_fit_inside_the_ack_wait() -> None:
    # 8 s x 3 attempts plus two waits of at least SENS_MAX_RETRY_AFTER_SECONDS (2 s) each.
    with pytest.raises(SettingsError, match=r"is 28 s, not under worker.ack_wait_seconds \(20 s\)"):
        Settings.load(environ={"ACK_WAIT_SECONDS": "20"})


def test_one_send_must_fit_inside_the_claim_lease() -> None:
    with pytest.raises(
        SettingsError, match=r"not under sent_log.claim_lease_seconds \(20 s\).*CLAIM_LEASE_SECONDS"
    ):
        Settings.load(environ={"CLAIM_LEASE_SECONDS": "20"})


def test_env_example_names_every_variable_the_settings_read() -> None:
    example = (REPO / ".env.example").read_text()
    named = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, flags=re.MULTILINE))
    assert set(ENV_TO_KEY) - named == set()


def test_a_bad_nats_url_is_shown_without_its_password() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.load(environ={"NATS_URL": "http://me:pw-Planted-7@nats:4222"})
    assert "worker.nats_url (environment variable NATS_URL)" in str(caught.value)
    assert "http://***@nats:4222" in str(caught.value) and "Planted-7" not in str(caught.value)


@pytest.mark.parametrize(("section", "prefix"), [("worker", ""), ("events", "EVENTS_")])
def test_nats_credentials_are_one_kind_or_the_other(section: str, prefix: str) -> None:
    def credentials(**env: str) -> dict[str, str]:
        settings = Settings.load(environ={prefix + name: value for name, value in env.items()})
        return nats_credentials(getattr(settings, section), section)

    with pytest.raises(
        SettingsError, match=rf"set one kind, not several: user/password .*, token \({prefix}NATS"
    ):
        credentials(NATS_TOKEN="t", NATS_USER="u", NATS_PASSWORD="p")
    with pytest.raises(
        SettingsError, match=rf"{section}.nats_creds_file: '/nope\.creds' is not a readable file"
    ):
        credentials(NATS_CREDS_FILE="/nope.creds")
    with pytest.raises(SettingsError, match=f"set {prefix}NATS_USER"):
        credentials(NATS_PASSWORD="p")
    assert credentials(NATS_USER="u", NATS_PASSWORD="p") == {"user": "u", "password": "p"}
    assert credentials() == {}


def test_a_bad_events_nats_url_or_subject_is_named() -> None:
    with pytest.raises(SettingsError, match=r"events.nats_url \(environment variable EVENTS_NATS_URL\)"):
        Settings.load(environ={"EVENTS_NATS_URL": "http://nats:4222"})
    with pytest.raises(SettingsError, match=r"events.subject \(environment variable EVENTS_SUBJECT\)"):
        Settings.load(environ={"EVENTS_SUBJECT": "bookings.>"})
    assert Settings.load(environ={"EVENTS_NATS_URL": "nats://a:4222,tls://b:4222"}).events.nats_url
    assert Settings.load(environ={}).events.nats_url == ""


@pytest.mark.parametrize(
    ("env", "mode"),
    [({}, "send"), ({"EVENTS_NATS_URL": "nats://n:4222"}, "publish"), ({"EVENTS_MODE": "off"}, "off")],
)
def test_the_change_feeds_mode_is_said_or_follows_from_the_nats_url(env: dict[str, str], mode: str) -> None:
    assert Settings.load(environ=env).events.effective_mode == mode


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"EVENTS_MODE": "publish"}, "events.mode is publish but events.nats_url is empty"),
        (
            {"EVENTS_MODE": "off", "EVENTS_NATS_URL": "nats://n:4222"},
            "events.mode is off but events.nats_url",
        ),
        ({"EVENTS_MODE": "on"}, "events.mode"),
        ({"EVENTS_PUBLISH_TIMEOUT_SECONDS": "60"}, "events.publish_timeout_seconds"),
    ],
)
def test_a_change_feed_setting_that_cannot_work_is_refused_by_name(env: dict[str, str], says: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(says)):
        Settings.load(environ=env)
