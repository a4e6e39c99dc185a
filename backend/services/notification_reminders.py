"""Reminders: a guest's access from a temporary company code is about to end.

Run periodically (a worker, every few minutes). Each membership gets one reminder: the
inbox entry carries the membership's dedupe key, so a later run — or two runs at once —
finds it and sends nothing more.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import String, and_, cast, exists, literal, select
from sqlalchemy.orm import Session

from backend.db.models import CompanyCode, Membership, Notification, Operator
from backend.db.models.enums import CodeKind
from backend.services.notification_events import CodeExpiring, NotificationEvent
from backend.services.notification_texts import hours_until


class Notify(Protocol):
    def __call__(
        self, s: Session, user_id: int, event: NotificationEvent, *, now: datetime
    ) -> object: ...


def remind_expiring_codes(
    notify: Notify, s: Session, now: datetime, within: timedelta = timedelta(hours=24)
) -> int:
    """Tell each driver whose temporary-code membership ends within `within` (and has
    started, and was not ended early); return how many reminders were recorded."""
    key = literal("code_expiring:") + cast(Membership.id, String)
    reminded = exists().where(
        and_(Notification.user_id == Membership.driver_id, Notification.dedupe_key == key)
    )
    due = s.execute(
        select(Membership.id, Membership.driver_id, Membership.ends_at, Operator.name)
        .join(CompanyCode, CompanyCode.id == Membership.company_code_id)
        .join(Operator, Operator.id == Membership.operator_id)
        .where(
            CompanyCode.kind == CodeKind.TEMPORARY.value,
            Membership.revoked_at.is_(None),
            Membership.starts_at <= now,
            Membership.ends_at > now,
            Membership.ends_at <= now + within,
            ~reminded,
        )
        .order_by(Membership.ends_at, Membership.id)
    ).all()
    s.commit()  # end the read before notify commits its own work
    count = 0
    for membership_id, driver_id, ends_at, operator_name in due:
        assert ends_at is not None  # the query asked for an end within the window
        event = CodeExpiring(
            membership_id=membership_id,
            operator_name=operator_name,
            ends_at=ends_at,
            hours_left=hours_until((ends_at - now).total_seconds()),
        )
        if notify(s, driver_id, event, now=now) is not None:
            count += 1
    return count
