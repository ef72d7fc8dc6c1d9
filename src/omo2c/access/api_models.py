"""The API keys admin API's shapes."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from omo2c.sources.canonical import Id


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApiKeyIn(_Shape):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)] = Field(
        description="Who uses the key, e.g. 'POS 信義店' or 'BI report'.")
    role: Literal["admin", "manager"] = Field(description="`manager` keys see one store and its staff.")
    store_id: Id | None = Field(default=None, description="The store of a `manager` key (required for it).")

    @model_validator(mode="after")
    def _store_for_managers(self) -> ApiKeyIn:
        if self.role == "manager" and not self.store_id:
            raise ValueError("a manager key needs a store_id")
        return self


class ApiKeyView(_Shape):
    key_id: str
    name: str
    role: str
    store_id: str | None
    created_at: str
    active: bool
    revoked_at: str | None


class NewApiKey(ApiKeyView):
    key: str = Field(description="The key itself: shown in this answer only, stored as a hash.")


class ApiKeys(_Shape):
    keys: list[ApiKeyView]
