"""One page of a query plus the total, the shape every list answers with."""

from __future__ import annotations

from typing import Any, TypeVar, TypeVarTuple, overload

from sqlmodel import Session, func, select
from sqlmodel.sql.expression import Select, SelectOfScalar

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


@overload
def paginate(
    session: Session, query: SelectOfScalar[T], *order_by: Any, limit: int, offset: int
) -> tuple[list[T], int]: ...
@overload
def paginate(
    session: Session, query: Select[*Ts], *order_by: Any, limit: int, offset: int
) -> tuple[list[tuple[*Ts]], int]: ...
def paginate(
    session: Session, query: SelectOfScalar[Any] | Select[*tuple[Any, ...]], *order_by: Any, limit: int, offset: int
) -> tuple[list[Any], int]:
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(*order_by).limit(limit).offset(offset)).all()
    return list(rows), total
