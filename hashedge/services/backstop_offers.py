"""Standing backstop offers (BACKSTOP.md §4): post, list, cancel. Offers are not reserved: the
liquidation that fills one checks its owner's initial margin at that moment."""

from __future__ import annotations

from hashedge.adapters.repositories.backstop import StoredOffer
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock
from hashedge.domain.backstop.offers import MAX_DISCOUNT_BPS
from hashedge.errors import InvalidInput, NotFound
from hashedge.services.accounts import require_account

MAX_QUANTITY = 10**9
SIDES = ("buy", "sell")


def _whole(value: object, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{field} must be a whole number from {low} to {high}",
                           fields={field: [f"a whole number from {low} to {high}"]})
    return value


def post_offer(uow: UnitOfWork, clock: Clock, account_id: int, *, instrument: str, side: str, max_quantity: int,
               max_discount_bps: int) -> StoredOffer:
    """A standing offer to take over up to ``max_quantity`` contracts of ``instrument`` on ``side``
    (``buy`` takes over longs being liquidated) at no worse than the mark less ``max_discount_bps``."""
    if side not in SIDES:
        raise InvalidInput("side must be buy or sell", fields={"side": ["buy or sell"]})
    quantity = _whole(max_quantity, "max_quantity", 1, MAX_QUANTITY)
    discount = _whole(max_discount_bps, "max_discount_bps", 0, MAX_DISCOUNT_BPS)
    now = clock.now()
    with uow:
        require_account(uow, account_id)
        record = uow.instruments.get(instrument) if isinstance(instrument, str) else None
        if record is None or record.status != "listed":
            raise NotFound(f"no listed instrument {instrument!r}", fields={"instrument": ["not a listed instrument"]})
        offer = uow.backstop_offers.add(account_id=account_id, instrument=instrument, side=side,
                                        max_quantity=quantity, max_discount_bps=discount, created_at=now)
        uow.commit()
    return offer


def list_offers(uow: UnitOfWork, account_id: int | None = None, *, active_only: bool = False) -> list[StoredOffer]:
    with uow.read_only():
        if account_id is None:
            return uow.backstop_offers.all_active()
        return uow.backstop_offers.of_account(account_id, active_only=active_only)


def cancel_offer(uow: UnitOfWork, clock: Clock, offer_id: int, *, account_id: int | None = None) -> StoredOffer:
    """Cancel an active offer (``account_id``: only that account's; another's is NotFound)."""
    with uow:
        offer = uow.backstop_offers.get(offer_id)
        if offer is None or (account_id is not None and offer.account_id != account_id):
            raise NotFound(f"no backstop offer {offer_id}", fields={"offer": ["unknown offer"]})
        if offer.status == "active":
            uow.backstop_offers.cancel(offer_id, clock.now())
        cancelled = uow.backstop_offers.get(offer_id)
        uow.commit()
    return cancelled
