"""Secrets: environment variables in the local run, SSM SecureStrings in AWS.

In AWS no secret is ever an environment variable; the template grants each function
read access to its own parameters under ``OMO_SECRETS_PATH`` only.
"""

from __future__ import annotations

import os

from omo2c.core.settings import get_settings

_ENV_NAMES = {
    "admin-token": "OMO_ADMIN_TOKEN",
    "line-channel-secret": "LINE_CHANNEL_SECRET",
    "line-channel-access-token": "LINE_CHANNEL_ACCESS_TOKEN",
}


class SecretMissing(RuntimeError):
    """A secret the function needs is not configured."""


def _env_name(name: str) -> str:
    if name.startswith("source-secret/"):
        return "OMO_SOURCE_SECRET_" + name.split("/", 1)[1].upper().replace("-", "_")
    return _ENV_NAMES[name]


def get_secret(name: str) -> str:
    """Return a secret by its name under the secrets path, e.g. ``source-secret/pos``."""
    value = os.environ.get(_env_name(name))
    if value:
        return value
    from aws_lambda_powertools.utilities import parameters

    path = f"{get_settings().secrets_path.rstrip('/')}/{name}"
    try:
        return parameters.get_parameter(path, decrypt=True, max_age=300)
    except parameters.exceptions.GetParameterError as exc:
        raise SecretMissing(name) from exc
