"""The health monitor's OperatorAlerts port, delivered as notifications to the operator's
staff (`Notifications.notify_operator_staff`, which records in every inbox and pushes)."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from backend.services.charger_health import (
    ALERT_FAULTED,
    ALERT_RESTART_FAILED,
    ALERT_RESTARTED,
    ChargerInfo,
)
from backend.services.notification_events import (
    ChargerFaulted,
    ChargerRestarted,
    ChargerRestartFailed,
    NotificationEvent,
)
from backend.services.notifications import Notifications

log = logging.getLogger(__name__)


class StaffAlerts:
    def __init__(self, notifications: Notifications) -> None:
        self._notifications = notifications

    def send(self, s: Session, charger: ChargerInfo, alert: str, error_code: str) -> None:
        event: NotificationEvent
        cp, name, site = charger.charge_point_id, charger.identity, charger.site_name
        if alert == ALERT_FAULTED:
            event = ChargerFaulted(cp, name, site, error_code or None)
        elif alert == ALERT_RESTARTED:
            event = ChargerRestarted(cp, name, site)
        elif alert == ALERT_RESTART_FAILED:
            event = ChargerRestartFailed(cp, name, site)
        else:
            log.error("unknown charger alert %r", alert)
            return
        try:
            self._notifications.notify_operator_staff(s, charger.operator_id, event)
        except Exception:  # an alert never breaks the monitor
            log.exception("could not alert operator %s about %s", charger.operator_id, name)
