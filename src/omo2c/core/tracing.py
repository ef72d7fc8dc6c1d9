"""Powertools tracer, for the campaign sender, whose time goes to outside APIs (LINE, SMS, SES)."""

from __future__ import annotations

from aws_lambda_powertools import Tracer

tracer = Tracer()
