"""Property-based: random sequences of deposits and withdrawals (with retried and reused
idempotency keys and random margin requirements) through the services against a real database,
checked step by step against the domain's in-memory ``Ledger`` as the reference model."""

from __future__ import annotations

import contextlib
import shutil
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from hashedge.adapters.database import make_engine, upgrade_database
from hashedge.bootstrap import bootstrap
from hashedge.clock import FixedClock
from hashedge.config import load_settings
from hashedge.domain import ledger as journal
from hashedge.domain.ledger import AccountKind, Ledger
from hashedge.errors import IdempotencyKeyReused, InsufficientCollateral
from hashedge.services import accounts, ledger
from tests.hypothesis_profiles import examples, time_budget

ACCOUNTS = 3
EXAMPLES = {"sqlite": 60, "postgresql": 10}
START = datetime(2026, 11, 1, tzinfo=timezone.utc)

operations = st.lists(
    st.tuples(
        st.sampled_from(["deposit", "withdraw"]),
        st.integers(0, ACCOUNTS - 1),  # which account
        st.one_of(st.integers(1, 40_000), st.integers(1, 150_000)),  # amount in sats
        st.one_of(st.none(), st.integers(0, 4)),  # a fresh key, or one of the first five again
        st.sampled_from([0, 0, 0, 20_000, 90_000]),  # initial margin the withdrawal must leave
    ),
    min_size=1,
    max_size=25,
)


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("ledger-properties") / "template.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_database(engine)
    engine.dispose()
    return path


@contextlib.contextmanager
def fresh_runtime(backend: str, sqlite_template, postgres_templates, folder):
    if backend == "sqlite":
        copy = folder / "example.sqlite"
        for suffix in ("", "-wal", "-shm"):
            (folder / f"example.sqlite{suffix}").unlink(missing_ok=True)
        shutil.copyfile(sqlite_template, copy)
        url = f"sqlite:///{copy}"
    else:
        url = postgres_templates.clone()
    settings_ = load_settings({"HASHEDGE_DATABASE_URL": url, "HASHEDGE_INSTANCE_DIR": str(folder)},
                              secret_key="property-tests")
    runtime = bootstrap(settings_, clock=FixedClock(START))
    try:
        yield runtime
    finally:
        runtime.close()
        if backend != "sqlite":
            postgres_templates.drop(url)


def apply_step(runtime, model: Ledger, entry_ids: dict[str, int], account_id: int, step) -> None:
    """Run one operation through the service and assert it did what the domain model says."""
    kind, _, amount, reused, margin = step
    client_key = f"key-{reused}" if reused is not None else f"fresh-{len(entry_ids)}-{kind}-{amount}"
    key = ledger.request_key(account_id, client_key)
    owner = str(account_id)
    build = journal.deposit if kind == "deposit" else journal.withdrawal
    proposed = build(owner, amount, idempotency_key=key, occurred_at=runtime.clock.now())
    original = model.get(key)
    denial = None
    if kind == "withdraw" and original is None:
        denial = journal.withdrawal_denial(amount, model.balance(journal.collateral(owner)) - margin)

    def call():
        if kind == "deposit":
            return ledger.deposit(runtime.uow(), runtime.clock, account_id, amount, client_key)
        return ledger.withdraw(runtime.uow(), runtime.clock, account_id, amount, client_key, lambda *_: margin)

    if original is not None and original.content != proposed.content:
        with pytest.raises(IdempotencyKeyReused):
            call()
        event("key reused for another request")
    elif denial is not None:
        with pytest.raises(InsufficientCollateral) as raised:
            call()
        assert raised.value.shortfall_sats == denial.shortfall_sats
        event("withdrawal refused")
    else:
        movement = call()
        assert movement.replayed == (original is not None)
        assert entry_ids.setdefault(key, movement.entry_id) == movement.entry_id
        model.apply(proposed)
        event("replayed" if original is not None else f"{kind} posted")
    runtime.clock.advance(timedelta(seconds=1))


def nonzero(balances: dict) -> dict:
    return {account: amount for account, amount in balances.items() if amount}


def assert_ledger_invariants(runtime, model: Ledger) -> None:
    check = ledger.check_balances(runtime.uow())
    assert check.ok, check  # every entry sums to zero, balances match the journal, total is zero
    with runtime.uow() as uow:
        stored = uow.ledger.balances()
        rebuilt = Ledger(recorded.entry for recorded in uow.ledger.entries())
    rebuilt.verify()
    assert nonzero(stored) == nonzero(rebuilt.balances()) == nonzero(model.balances())
    assert all(amount >= 0 for account, amount in stored.items() if account.kind is AccountKind.COLLATERAL)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
@pytest.mark.hypothesis
@pytest.mark.timeout(time_budget(180))
def test_money_is_conserved_and_no_collateral_goes_negative(backend, sqlite_template, postgres_templates,
                                                            tmp_path_factory):
    if backend == "postgresql" and postgres_templates is None:
        pytest.skip("no PostgreSQL server: set HASHEDGE_TEST_POSTGRES_URL")
    folder = tmp_path_factory.mktemp(f"ledger-{backend}")

    @given(steps=operations)
    @settings(max_examples=examples(EXAMPLES[backend]), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    def check(steps):
        with fresh_runtime(backend, sqlite_template, postgres_templates, folder) as runtime:
            ids = [accounts.create_account(runtime.uow(), runtime.clock, f"trader-{n}")[0].id
                   for n in range(ACCOUNTS)]
            model, entry_ids = Ledger(), {}
            for account_id in ids:  # everyone starts with 100,000 sats
                apply_step(runtime, model, entry_ids, account_id, ("deposit", None, 100_000, "funding", 0))
            for step in steps:
                apply_step(runtime, model, entry_ids, ids[step[1]], step)
                with runtime.uow() as uow:
                    collateral = uow.ledger.balances([journal.collateral(str(ids[step[1]]))])
                assert all(amount >= 0 for amount in collateral.values())
            assert_ledger_invariants(runtime, model)

    check()
