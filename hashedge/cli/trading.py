"""``hashedge instruments ...``, ``trade block`` and ``settle``: the desk's trading commands.
ACCOUNT is an account id or name."""

from __future__ import annotations

from datetime import date

import click

from hashedge.cli import CliContext, _echo_json, cli, pass_cli
from hashedge.services import accounts as account_services
from hashedge.services import block_trades
from hashedge.services import instruments as instrument_services
from hashedge.services import risk as risk_services
from hashedge.services import settlement as settlement_services


def _plain(value) -> str | None:
    return None if value is None else format(value, "f")


@cli.group()
def instruments() -> None:
    """Listed contracts and their marks."""


@instruments.command("list")
@click.option("--json", "as_json", is_flag=True, help="print a list of objects (symbol, tick_size, mark_price, ...)")
@click.option("--all", "include_settled", is_flag=True, help="include settled contracts")
@pass_cli
def list_command(ctx: CliContext, as_json: bool, include_settled: bool) -> None:
    """Listed (and expired, not yet settled) contracts with their latest marks."""
    runtime = ctx.runtime
    views = instrument_services.list_instruments(runtime.uow(), runtime.clock, include_settled=include_settled)
    if as_json:
        _echo_json([{
            "symbol": v.record.spec.symbol, "product": v.record.spec.product.value,
            "quote_unit": v.record.spec.quote_unit, "multiplier": _plain(v.record.spec.multiplier),
            "tick_size": _plain(v.record.spec.tick_size), "lot_size": v.record.spec.lot_size,
            "last_trading_time": v.record.spec.last_trading_time.isoformat(), "status": v.record.status,
            "trading_open": v.trading_open, "mark_price": _plain(v.mark_price), "mark_source": v.mark_source,
            "floor": _plain(v.record.spec.floor), "cap": _plain(v.record.spec.cap),
        } for v in views])
        return
    if not views:
        click.echo("no instruments listed (run `hashedge instruments refresh`)")
    for v in views:
        spec = v.record.spec
        mark = "no mark" if v.mark_price is None else f"mark {_plain(v.mark_price)} ({v.mark_source})"
        click.echo(f"{spec.symbol:<13} {v.record.status:<8} tick {_plain(spec.tick_size):<5} {spec.quote_unit:<20}"
                   f" last trading {spec.last_trading_time:%Y-%m-%d %H:%M}Z  {mark}")


@instruments.command("refresh")
@pass_cli
def refresh(ctx: CliContext) -> None:
    """Run the listing cycle, then mark every listed contract."""
    runtime = ctx.runtime
    listing = instrument_services.run_listing(runtime.uow(), runtime.clock)
    marks = instrument_services.update_marks(runtime.uow(), runtime.clock)
    click.echo(f"listed {len(listing.listed)} new, expired {len(listing.expired)}; marked {len(marks.marked)}"
               + (f", no mark for {', '.join(marks.unmarked)}" if marks.unmarked else ""))


@cli.group()
def trade() -> None:
    """Trades booked by the desk."""


@trade.command("block")
@click.option("--buyer", required=True, metavar="ACCOUNT")
@click.option("--seller", required=True, metavar="ACCOUNT")
@click.option("--instrument", required=True, metavar="SYMBOL")
@click.option("--qty", "quantity", required=True, type=int, help="contracts")
@click.option("--price", required=True, help="in the contract's quote unit, on the tick")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def block(ctx: CliContext, buyer: str, seller: str, instrument: str, quantity: int, price: str,
          as_json: bool) -> None:
    """Book a negotiated block trade between two accounts (within the OTC band around the mark)."""
    runtime = ctx.runtime
    buyer_id = account_services.resolve_account(runtime.uow(), buyer).id
    seller_id = account_services.resolve_account(runtime.uow(), seller).id
    record = block_trades.book_block_trade(runtime.uow(), runtime.clock, buyer_id=buyer_id, seller_id=seller_id,
                                           instrument=instrument, quantity=quantity, price=price)
    fill = record.fill
    if as_json:
        _echo_json({"id": fill.fill_id, "instrument": fill.instrument_id, "price": _plain(fill.price),
                    "quantity": fill.quantity, "buyer": buyer_id, "seller": seller_id,
                    "buyer_fee_sats": record.buyer_fee_sats, "seller_fee_sats": record.seller_fee_sats})
        return
    click.echo(f"block trade {fill.fill_id}: account {buyer_id} buys {fill.quantity} {fill.instrument_id} from "
               f"account {seller_id} at {_plain(fill.price)}; fees {record.buyer_fee_sats} and "
               f"{record.seller_fee_sats} sats")


@cli.command()
@click.option("--date", "business_date", required=True, metavar="YYYY-MM-DD",
              type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def settle(ctx: CliContext, business_date, as_json: bool) -> None:
    """Daily settlement of a business date: variation margin, then expiries (runs once per date).

    Today settles provisionally (intraday variation margin at the current marks, no expiries);
    its close settles after 00:00 UTC. Dates before the first listing are refused."""
    runtime = ctx.runtime
    day: date = business_date.date()
    summary = settlement_services.run_daily_settlement(runtime.uow(), runtime.clock, day)
    if as_json:
        _echo_json({"business_date": day.isoformat(), "already_done": summary.already_done, **summary.as_dict()})
        return
    what = "provisional settlement" if summary.provisional else "settlement"
    if summary.already_done:
        click.echo(f"{what} for {day} was already done; nothing changed")
        return
    pending = f", pending {', '.join(sorted(summary.pending))}" if summary.pending else ""
    if summary.provisional:
        click.echo(f"provisionally settled {day} at the marks as of {summary.marks_as_of:%H:%M:%S} UTC: variation "
                   f"margin on {len(summary.variation_margin_sats)} instruments{pending}; the close settles after "
                   "00:00 UTC")
        return
    click.echo(f"settled {day}: variation margin on {len(summary.variation_margin_sats)} instruments, "
               f"{len(summary.final_settlements)} expiries{pending}")


@cli.command()
@click.option("--all", "show_all", is_flag=True, help="every account, not only those at risk")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def risk(ctx: CliContext, show_all: bool, as_json: bool) -> None:
    """Equity, margin and status of every account at the latest marks (margin calls first)."""
    runtime = ctx.runtime
    result = risk_services.sweep(runtime.uow(), runtime.clock)
    frame = result.accounts if show_all else result.at_risk()
    rows = [{"id": int(account_id), **{k: (v if isinstance(v, str) else int(v)) for k, v in row.items()}}
            for account_id, row in frame.iterrows()]
    if as_json:
        _echo_json({"as_of": result.as_of.isoformat(), "counts": result.counts(), "accounts": rows})
        return
    counts = result.counts()
    click.echo(f"{len(result.accounts)} accounts: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    for row in rows:
        click.echo(f"{row['id']:>6} {row['name']:<20} {row['status']:<13} equity {row['equity_sats']:>16,} "
                   f"IM {row['initial_margin_sats']:>14,} MM {row['maintenance_margin_sats']:>14,} sats")
