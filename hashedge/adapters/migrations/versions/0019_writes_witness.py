"""PostgreSQL: a witness of writes, so the engine can keep what its last batch committed there too.

SQLite tells the engine cheaply that nothing was written since its last batch (``PRAGMA
data_version`` and ``total_changes()``: ``UnitOfWork.write_marker``). PostgreSQL has no such
counter, so every batch there read everything again. This adds one (ORDER_PATH.md, "What a batch
keeps for the next"):

- every write statement to any table but the order inbox and the scheduler's lease runs
  ``note_write()`` (a statement trigger): it takes advisory lock ``WRITES_LOCK`` in shared mode
  for the rest of its transaction, THEN advances the sequence ``write_generation``, and counts
  the transaction's own writes in the setting ``hashedge.own_writes``;
- ``writes_witness()`` reads the generation, THEN looks in ``pg_locks`` for that lock held by
  any other backend in this database (advisory locks are per database; ``pg_locks`` shows the
  whole cluster's): ``generation`` is NULL while another transaction that wrote is still open,
  and ``own_writes`` says how many of the generation's steps the caller's own transaction took.

The two orders make the witness sound: a writer that commits after a witness was read either
held the lock when the witness looked (NULL) or advanced the generation after it was read. A
statement trigger costs a writer a few microseconds a statement, and nobody ever waits on the
lock: nothing takes it in exclusive mode. (Trying it in exclusive mode for an instant would be
cheaper than reading ``pg_locks``, but a session-level lock that a cancel caught between the try
and the unlock would stay held, and every writer would wait on it.)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

WRITES_LOCK = 0x48455752  # "HEWR": the advisory lock key (adapters.unit_of_work reads the witness)
UNWATCHED = ("order_requests", "scheduler_lease", "alembic_version")  # written by the engine's loop itself
# Every table at this revision but UNWATCHED; a later migration that adds a table adds its trigger
# (tests/integration/test_exchange_kept_state.py fails for a table without one).
WATCHED = (
    "accounts", "account_events", "account_risk_status", "adl_ranks", "api_keys", "backstop_offers",
    "backstop_pool", "block_trade_reversals", "blocks", "desk_audit", "desk_login_attempts",
    "desk_requests", "desk_users", "epoch_history", "fixings", "governance_proposals",
    "governance_ragequits", "governance_votes", "governance_weights", "instrument_sequences",
    "instruments", "job_runs", "journal_chain", "journal_entries", "journal_postings",
    "ledger_balances", "liquidations", "marks", "order_amendments", "orders", "parameter_versions",
    "pool_nav", "pool_share_events", "pool_withdrawals", "positions", "protection_contracts",
    "protection_events", "protection_rfq_answers", "protection_rfqs", "settlement_runs", "trades",
)

_OWN_WRITES = "coalesce(nullif(current_setting('hashedge.own_writes', true), ''), '0')::bigint"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE SEQUENCE write_generation")
    op.execute(f"""
        CREATE FUNCTION note_write() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock_shared({WRITES_LOCK});  -- first the lock,
            PERFORM nextval('write_generation');                  -- then the step
            PERFORM set_config('hashedge.own_writes', ({_OWN_WRITES} + 1)::text, true);
            RETURN NULL;
        END $$""")
    op.execute(f"""
        CREATE FUNCTION writes_witness(OUT generation bigint, OUT own_writes bigint) LANGUAGE plpgsql AS $$
        BEGIN
            SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END
              INTO generation FROM write_generation;              -- first the step,
            own_writes := {_OWN_WRITES};
            IF EXISTS (SELECT 1 FROM pg_locks                      -- then the lock
                       WHERE locktype = 'advisory' AND classid = 0 AND objid = {WRITES_LOCK} AND objsubid = 1
                         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                         AND pid <> pg_backend_pid()) THEN
                generation := NULL;  -- another transaction that wrote is still open
            END IF;
        END $$""")
    for table in WATCHED:
        op.execute(f"CREATE TRIGGER note_write AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION note_write()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in WATCHED:
        op.execute(f"DROP TRIGGER note_write ON {table}")
    op.execute("DROP FUNCTION writes_witness()")
    op.execute("DROP FUNCTION note_write()")
    op.execute("DROP SEQUENCE write_generation")
