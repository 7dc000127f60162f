"""Offset pagination of list endpoints."""

from typing import Annotated, Generic, Self, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# Far beyond any real store, and small enough for every database's OFFSET.
MAX_OFFSET = 2**31 - 1

T = TypeVar("T")


class PageParams(BaseModel):
    limit: int
    offset: int


def page_params(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="Most items to return.")
    ] = DEFAULT_LIMIT,
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description="Items to skip, in list order.")
    ] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description="Items in the whole list.")
    limit: int
    offset: int
    next_offset: int | None = Field(
        description="`offset` of the next page, or null on the last page."
    )

    @classmethod
    def of(cls, items: list[T], total: int, params: PageParams) -> Self:
        end = params.offset + len(items)
        return cls(
            items=items,
            total=total,
            limit=params.limit,
            offset=params.offset,
            next_offset=end if end < total else None,
        )
