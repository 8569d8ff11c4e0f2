"""Lambda handler module: `main.lambda_handler` in the task root."""

from naver_sms.entrypoints.lambda_app import lambda_handler

__all__ = ["lambda_handler"]
