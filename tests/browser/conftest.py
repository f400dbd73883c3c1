"""Browser fixtures: the real app on a loopback port, driven by Debian's headless Chromium."""

from __future__ import annotations

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium_path() -> str | None:
    return os.environ.get("HASHEDGE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser():
    executable = chromium_path()
    if executable is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is required on CI (apt-get install chromium)")
        pytest.skip("no Chromium found (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class LiveServer:
    def __init__(self, app):
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)


# --- the desk with real data, shared by the browser tests ---------------------------------------

from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)
PASSWORD = "browser test password"
ROLES = {"viewer": "vera", "trader": "tina", "risk": "rick", "admin": "ada"}
ARTIFACTS = Path(__file__).with_name("artifacts")  # gitignored: screenshots for reviewers
VIEWPORT = {"width": 1400, "height": 900}


class LiveDesk:
    def __init__(self, server, runtime, instrument: str):
        self.server, self.runtime, self.instrument = server, runtime, instrument
        self.url = server.url


@pytest.fixture(scope="session")
def live_desk(tmp_path_factory, shared_data):
    """The app on a loopback port over a real database: epoch history, 200 days of simulated blocks,
    every due fixing, the listing and its marks, one desk user per role, two funded counterparties."""
    from hashedge.bootstrap import bootstrap
    from hashedge.clock import FixedClock
    from hashedge.config import load_settings
    from hashedge.services import accounts, desk_users, instruments, ledger
    from hashedge.services.chain_data import import_epoch_history, store_block_frame
    from hashedge.services.fixings import publish_fixings
    from hashedge.web import create_app
    from indices.sources.csv_import import read_epoch_history
    from indices.sources.simulator import simulate_demo_chain

    folder = tmp_path_factory.mktemp("desk")
    settings = load_settings({"HASHEDGE_DATABASE_URL": f"sqlite:///{folder / 'desk.sqlite'}",
                              "HASHEDGE_INSTANCE_DIR": str(folder)}, secret_key="browser-test")
    runtime = bootstrap(settings, clock=FixedClock(NOW))
    runtime.migrate()
    epochs_file = shared_data / "btc_difficulty_epochs.csv"
    import_epoch_history(runtime.uow(), epochs_file)
    chain = simulate_demo_chain(read_epoch_history(epochs_file), seed=5, end_time=int(NOW.timestamp()))
    store_block_frame(runtime.uow(), chain[chain["time"] >= int(NOW.timestamp()) - 200 * 86_400])
    publish_fixings(runtime.uow(), runtime.clock, confirmations=6)
    instruments.run_listing(runtime.uow(), runtime.clock)
    instruments.update_marks(runtime.uow(), runtime.clock)
    for role, name in ROLES.items():
        desk_users.create_user(runtime.uow(), runtime.clock, "test", name, role, PASSWORD)
    for name in ("Alpha Mining", "Beta Trading"):
        account, _ = accounts.create_account(runtime.uow(), runtime.clock, name)
        ledger.deposit(runtime.uow(), runtime.clock, account.id, 100_000_000, f"seed-{account.id}")
    views = instruments.list_instruments(runtime.uow(), runtime.clock)
    monthly = next(v.record.symbol for v in views if v.trading_open and v.record.symbol.startswith("HP-")
                   and v.mark_price is not None)
    server = LiveServer(create_app(runtime))
    yield LiveDesk(server, runtime, monthly)
    server.stop()
    runtime.close()


@pytest.fixture
def desk_page(browser, live_desk):
    """A function that opens a fresh browser context logged in as a role; closes them all after."""
    contexts = []

    def open_as(role: str):
        context = browser.new_context(viewport=VIEWPORT)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.problems = []
        page.on("pageerror", lambda exc: page.problems.append(f"pageerror: {exc}"))
        page.on("console", lambda msg: page.problems.append(f"console: {msg.text}") if msg.type == "error" else None)
        page.goto(f"{live_desk.url}/desk/login")
        page.fill("#username", ROLES[role])
        page.fill("#password", PASSWORD)
        page.click("#login-form button[type=submit]")
        page.wait_for_url(f"{live_desk.url}/desk/")
        return page

    yield open_as
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
