"""The one place that wires the backend: settings → engine → sessions → adapters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from backend.config import Settings
from backend.db import make_engine, make_session_factory
from backend.db.base import utcnow
from backend.services.throttle import Throttle, make_throttle


@dataclass
class Container:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    throttle: Throttle
    clock: Callable[[], datetime] = utcnow

    def close(self) -> None:
        self.throttle.close()
        self.engine.dispose()


def bootstrap(settings: Settings, *, clock: Callable[[], datetime] | None = None) -> Container:
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    return Container(
        settings=settings,
        engine=engine,
        session_factory=factory,
        throttle=make_throttle(settings, factory),
        clock=clock or utcnow,
    )
