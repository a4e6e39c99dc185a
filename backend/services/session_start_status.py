"""The states of an app start (`SessionStart`) and the times a start and a stop wait for.

Split out of session_commands (which re-exports all of it) so that it and the modules
split out of it (session_start_checks, session_start_links) share them without importing
one another.
"""

from __future__ import annotations

from datetime import timedelta

PENDING, ACCEPTED_BY_CHARGER, STARTED, FAILED = "pending", "accepted", "started", "failed"
WAITING = (PENDING, ACCEPTED_BY_CHARGER)
# Connector states a remote start makes sense in: free, or a cable already plugged in.
STARTABLE = ("Available", "Preparing")
REMOTE_START_TIMEOUT_S = 30.0
# A charger that accepted the remote start waits this long for the car (its own
# ConnectionTimeOut is usually 1–3 minutes); after it the start has failed, hold released.
PLUG_IN_WINDOW = timedelta(minutes=5)
# Clocks of the API and a bridge node may differ a little.
CLOCK_SLACK = timedelta(minutes=1)
