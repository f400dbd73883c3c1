"""PostgreSQL: the journal's two insert guards run once a statement, not once a row.

Migration 0002 made the database refuse a journal entry whose postings do not balance
(``journal_entries_balanced``) and a posting for an entry already written
(``journal_postings_unsealed``), each a plpgsql function run for every row inserted. The
exchange's batch inserts its postings and entries in one statement each (``adapters/bulk_rows``),
80 postings and 30 entries for a batch of a dozen orders at 200 orders/s, so the guards were
a function call and a query per row: under that load PostgreSQL spent 17 ms on the postings'
statement and 13 ms on the entries' (``pg_stat_statements``; BENCHMARKS.md, part J).

Here each guard runs once per statement over the rows it inserted (a transition table), with the
same question and the same message: an entry needs at least two postings, already stored, that
sum to zero; a posting's entry must not be stored yet. Both fire after the statement, which is
when the row triggers had seen the same rows (postings are written before their entry, and
entries and postings never share a statement); a refusal still fails the statement. SQLite keeps
its row triggers (no transition tables; in process, a row costs it microseconds).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03
"""

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_UNBALANCED = "journal entry rejected: it needs at least two postings that sum to zero"
_SEALED = "journal entry already written: its postings cannot change"


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER journal_entries_balanced ON journal_entries")
    op.execute("DROP TRIGGER journal_postings_unsealed ON journal_postings")
    op.execute("DROP FUNCTION hashedge_journal_entry_balanced()")
    op.execute("DROP FUNCTION hashedge_journal_posting_unsealed()")
    op.execute(f"""
        CREATE FUNCTION hashedge_journal_entries_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE entry bigint; posting_count bigint; total numeric;
        BEGIN
            SELECT e.id, count(p.entry_id), coalesce(sum(p.amount_sats), 0)
              INTO entry, posting_count, total
              FROM new_entries e LEFT JOIN journal_postings p ON p.entry_id = e.id
             GROUP BY e.id
            HAVING count(p.entry_id) < 2 OR coalesce(sum(p.amount_sats), 0) <> 0
             LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION '{_UNBALANCED} (entry %, % postings, sum %)', entry, posting_count, total
                    USING ERRCODE = 'check_violation';
            END IF;
            RETURN NULL;
        END $$""")
    op.execute("CREATE TRIGGER journal_entries_balanced AFTER INSERT ON journal_entries "
               "REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT "
               "EXECUTE FUNCTION hashedge_journal_entries_balanced()")
    op.execute(f"""
        CREATE FUNCTION hashedge_journal_postings_unsealed() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE entry bigint;
        BEGIN
            SELECT p.entry_id INTO entry FROM new_postings p JOIN journal_entries e ON e.id = p.entry_id LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION '{_SEALED} (entry %)', entry USING ERRCODE = 'check_violation';
            END IF;
            RETURN NULL;
        END $$""")
    op.execute("CREATE TRIGGER journal_postings_unsealed AFTER INSERT ON journal_postings "
               "REFERENCING NEW TABLE AS new_postings FOR EACH STATEMENT "
               "EXECUTE FUNCTION hashedge_journal_postings_unsealed()")


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER journal_entries_balanced ON journal_entries")
    op.execute("DROP TRIGGER journal_postings_unsealed ON journal_postings")
    op.execute("DROP FUNCTION hashedge_journal_entries_balanced()")
    op.execute("DROP FUNCTION hashedge_journal_postings_unsealed()")
    op.execute(
        "CREATE FUNCTION hashedge_journal_entry_balanced() RETURNS trigger AS $$ "
        "DECLARE posting_count bigint; total numeric; BEGIN "
        "SELECT COUNT(*), COALESCE(SUM(amount_sats), 0) INTO posting_count, total "
        "FROM journal_postings WHERE entry_id = NEW.id; "
        "IF posting_count < 2 OR total <> 0 THEN "
        f"RAISE EXCEPTION '{_UNBALANCED} (entry %, % postings, sum %)', NEW.id, posting_count, total "
        "USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END; $$ LANGUAGE plpgsql")
    op.execute("CREATE TRIGGER journal_entries_balanced BEFORE INSERT ON journal_entries "
               "FOR EACH ROW EXECUTE FUNCTION hashedge_journal_entry_balanced()")
    op.execute(
        "CREATE FUNCTION hashedge_journal_posting_unsealed() RETURNS trigger AS $$ BEGIN "
        "IF EXISTS (SELECT 1 FROM journal_entries WHERE id = NEW.entry_id) THEN "
        f"RAISE EXCEPTION '{_SEALED} (entry %)', NEW.entry_id USING ERRCODE = 'check_violation'; "
        "END IF; RETURN NEW; END; $$ LANGUAGE plpgsql")
    op.execute("CREATE TRIGGER journal_postings_unsealed BEFORE INSERT ON journal_postings "
               "FOR EACH ROW EXECUTE FUNCTION hashedge_journal_posting_unsealed()")
