"""localstripe's state file (`wattpass run`): what a run saved to "Stripe" is there on the
next run, the file is private and written atomically, and without a state file (tests,
`wattpass serve`) nothing reaches the disk — least of all localstripe's own pickle in
the shared /tmp."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from backend.adapters import localstripe_server
from backend.adapters.localstripe_server import LocalStripe
from backend.adapters.stripe_gateway import StripeGateway
from backend.config import LOCAL_PUBLISHABLE_KEY, LOCAL_SECRET_KEY

LOCALSTRIPE_OWN_PICKLE = Path("/tmp/localstripe.pickle")  # noqa: S108 - checked, never written


def _gateway(server: LocalStripe) -> StripeGateway:
    return StripeGateway(
        LOCAL_SECRET_KEY,
        LOCAL_PUBLISHABLE_KEY,
        "whsec_state_test",
        api_base=server.url,
        max_network_retries=0,
        timeout_seconds=10,
    )


def _started(state_file: Path | None = None) -> LocalStripe:
    server = LocalStripe(state_file=state_file)
    server.start()
    return server


def _fingerprint(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_mtime_ns, st.st_size


def test_customer_and_card_survive_a_clean_restart(tmp_path: Path) -> None:
    state = tmp_path / "var" / "localstripe-state.pickle"
    first = _started(state)
    try:
        gw = _gateway(first)
        cid = gw.create_customer("returning@example.com", 7, "wp-customer-7")
        card = gw.attach_card("pm_card_visa", cid)
        gw.set_default_card(cid, card.payment_method_id)
    finally:
        first.stop()  # SIGTERM: a clean stop writes whatever is still pending

    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert [p.name for p in state.parent.iterdir()] == [state.name]  # no temp file left

    second = _started(state)
    try:
        gw = _gateway(second)
        assert gw.find_customer("returning@example.com", 7) == cid
        [again] = gw.list_cards(cid)
        assert again.payment_method_id == card.payment_method_id
        assert (again.brand, again.last4) == ("visa", "4242")
        assert gw.default_card_id(cid) == card.payment_method_id
    finally:
        second.stop()


def test_changes_are_written_while_running_not_only_at_the_stop(tmp_path: Path) -> None:
    state = tmp_path / "localstripe-state.pickle"
    server = _started(state)
    try:
        gw = _gateway(server)
        for n in range(20):  # a burst: debounced into a few writes, none per request
            gw.create_customer(f"burst{n}@example.com", n, f"wp-customer-{n}")
        deadline = time.monotonic() + 5
        while not state.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert state.exists(), "nothing written within the debounce interval"
    finally:
        server.stop()
    again = _started(state)
    try:
        assert _gateway(again).find_customer("burst19@example.com", 19)
    finally:
        again.stop()


def test_without_a_state_file_nothing_is_written(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)  # the child inherits it: a stray relative write lands here
    before = _fingerprint(LOCALSTRIPE_OWN_PICKLE)
    server = _started()
    try:
        gw = _gateway(server)
        cid = gw.create_customer("memory@example.com", 1, "wp-customer-1")
        gw.attach_card("pm_card_visa", cid)
        time.sleep(2 * localstripe_server.StateFile.DEBOUNCE_S)
    finally:
        server.stop()
    assert _fingerprint(LOCALSTRIPE_OWN_PICKLE) == before
    assert list(tmp_path.iterdir()) == []

    fresh = _started()  # and nothing is loaded: a new process starts empty
    try:
        assert _gateway(fresh).find_customer("memory@example.com", 1) is None
    finally:
        fresh.stop()


def test_a_state_file_in_a_world_writable_folder_is_refused(capsys) -> None:  # type: ignore[no-untyped-def]
    # Another user could plant the pickle there, and loading a pickle runs its code.
    with pytest.raises(SystemExit) as exited:
        localstripe_server.main(["--state-file", "/tmp/wattpass-localstripe.pickle"])  # noqa: S108
    assert exited.value.code == 2
    assert "private folder" in capsys.readouterr().err


def test_a_state_file_others_may_write_is_not_loaded(tmp_path: Path) -> None:
    state = tmp_path / "localstripe-state.pickle"
    state.write_bytes(b"not ours")
    os.chmod(state, 0o666)  # noqa: S103 - the point of the test
    with pytest.raises(ValueError, match="not a private file"):
        localstripe_server.StateFile(state).load({})


def test_run_keeps_the_state_beside_its_database(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from backend import cli, config

    monkeypatch.setattr(config, "VAR_DIR", tmp_path)
    db = tmp_path / "wattpass.db"
    settings = config.Settings(database_url=f"sqlite:///{db}", secret_key="k" * 40)
    stale = tmp_path / "localstripe-state.pickle"
    stale.write_bytes(b"from an earlier database")
    # A new SQLite file starts a new state: the stale one is dropped before migrating.
    assert cli._localstripe_state(settings) == stale
    assert not stale.exists()
    # An existing database keeps its state.
    db.touch()
    stale.write_bytes(b"this database's state")
    assert cli._localstripe_state(settings) == stale
    assert stale.exists()
