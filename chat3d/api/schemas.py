"""Shared REST shapes: camelCase JSON both ways, and the `{"items": [...], "total": n}` page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

T = TypeVar("T")


class CamelModel(BaseModel):
    """Fields are snake_case in Python and camelCase on the wire; either spelling is accepted on input."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


class Page(CamelModel, Generic[T]):
    items: list[T]
    total: int


@dataclass
class PageQuery:
    """`?limit=&offset=` of every list route."""

    limit: int = Query(50, ge=1, le=200)
    offset: int = Query(0, ge=0, le=1_000_000)


Paging = Annotated[PageQuery, Depends()]
