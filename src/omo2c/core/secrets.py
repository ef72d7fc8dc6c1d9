"""Secrets: environment variables in the local run, SSM SecureStrings in AWS.

In AWS no secret is ever an environment variable; the template grants each function
read access to its own parameters under ``OMO_SECRETS_PATH`` only.
"""

from __future__ import annotations

import os

_ENV_NAMES = {
    "admin-token": "OMO_ADMIN_TOKEN",
    "line-channel-secret": "LINE_CHANNEL_SECRET",
    "line-channel-access-token": "LINE_CHANNEL_ACCESS_TOKEN",
    "otp-key": "OMO_OTP_KEY",
    "member-code-key": "OMO_MEMBER_CODE_KEY",
    "unsubscribe-key": "OMO_UNSUBSCRIBE_KEY",
}


class SecretMissing(RuntimeError):
    """A secret the function needs is not configured."""


def env_name(name: str) -> str:
    if name.startswith("source-secret/"):
        return "OMO_SOURCE_SECRET_" + name.split("/", 1)[1].upper().replace("-", "_")
    return _ENV_NAMES[name]


class Secrets:
    """Secrets by their name under the stage's path, e.g. ``source-secret/pos`` (cached five minutes)."""

    def __init__(self, path: str) -> None:
        self.path = path.rstrip("/")

    def get(self, name: str) -> str:
        value = os.environ.get(env_name(name))
        if value:
            return value
        from aws_lambda_powertools.utilities import parameters

        try:
            return parameters.get_parameter(f"{self.path}/{name}", decrypt=True, max_age=300)
        except parameters.exceptions.GetParameterError as exc:
            raise SecretMissing(name) from exc
