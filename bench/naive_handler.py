"""Baseline for the cold-start benchmark: the same handler, but selenium and boto3 imported at module
level the way most examples do. Lives here, never in src/."""

import boto3  # noqa: F401  (the point: paid at init)
from selenium import webdriver  # noqa: F401

from main import lambda_handler

__all__ = ["lambda_handler"]
