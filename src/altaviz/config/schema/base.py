"""Building blocks of every configuration model: strict models, ranges, shares."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    """Unknown keys are errors: a typo in a YAML file must not pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _ordered(value: tuple[float, float]) -> tuple[float, float]:
    low, high = value
    if low > high:
        raise ValueError(f"range must be [low, high], got [{low}, {high}]")
    return value


Range = Annotated[tuple[float, float], AfterValidator(_ordered)]
IntRange = Annotated[tuple[int, int], AfterValidator(_ordered)]
Share = Annotated[float, Field(ge=0.0, le=1.0)]
