"""The base of every config model: frozen, strict, no unknown keys, no NaN or infinities."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A frozen pydantic model that rejects unknown keys, NaN, infinities and silent type coercion."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True, frozen=True)
