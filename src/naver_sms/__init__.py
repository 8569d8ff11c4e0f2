"""naver-sms-automation: Naver booking → SMS rules → notifications."""

__version__ = "0.1.0"
