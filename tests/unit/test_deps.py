"""The layer ships exactly the runtime dependencies pyproject.toml declares."""

from __future__ import annotations

from infra import deps


def test_layer_requirements_match_pyproject():
    assert deps.REQUIREMENTS.read_text() == deps.expected(), "run `python -m infra.deps`"
