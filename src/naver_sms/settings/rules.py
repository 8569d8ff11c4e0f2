"""config/rules.yaml into the domain's RuleSet, read like the settings files beside it; errors name the
file, the rule and the field."""

from __future__ import annotations

from pathlib import Path

from naver_sms.domain.errors import InvalidRules
from naver_sms.domain.rules import RuleSet, rules_from_mapping
from naver_sms.settings.loader import read_yaml


def load_rules(path: Path) -> RuleSet:
    try:
        return rules_from_mapping(read_yaml(path))
    except InvalidRules as err:
        raise InvalidRules(f"{path}: {err}") from err
