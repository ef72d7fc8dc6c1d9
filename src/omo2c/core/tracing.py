"""Powertools tracer, for the functions whose time goes to outside APIs (LINE, SMS)."""

from __future__ import annotations

from aws_lambda_powertools import Tracer

tracer = Tracer()
