"""One page of a query plus the total, the shape every list answers with."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlmodel import Session, func, select
from sqlmodel.sql.expression import SelectOfScalar

T = TypeVar("T")


def paginate(session: Session, query: SelectOfScalar[T], *order_by: Any, limit: int, offset: int) -> tuple[list[T], int]:
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(*order_by).limit(limit).offset(offset)).all()
    return list(rows), total
