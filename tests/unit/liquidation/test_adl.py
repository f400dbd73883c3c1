from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from hashedge.domain.liquidation.adl import AdlCandidate, adl_price, quintiles, rank, score
from hashedge.domain.orders import Side

D = Decimal


def candidate(account: str, quantity: int, entry, equity: int, multiplier=31) -> AdlCandidate:
    return AdlCandidate(account_id=account, quantity=quantity, open_value=D(entry) * quantity,
                        multiplier=D(multiplier), equity_sats=equity)


@given(quantity=st.integers(-500, 500).filter(bool), entry=st.decimals("0.01", "99999", places=2),
       mark=st.decimals("0.01", "99999", places=2), multiplier=st.sampled_from([14, 28, 31, 10_000]),
       equity=st.integers(-10**7, 10**10))
def test_the_score_is_pnl_percent_times_or_over_leverage_exactly(quantity, entry, mark, multiplier, equity):
    c = candidate("1", quantity, entry, equity, multiplier)
    pnl = (Fraction(mark) * quantity - Fraction(c.open_value)) * multiplier
    ratio = pnl / (abs(Fraction(c.open_value)) * multiplier)
    if equity <= 0:
        expected = ratio
    else:
        leverage = abs(quantity) * Fraction(mark) * multiplier / equity
        expected = ratio * leverage if pnl >= 0 else ratio / leverage
    assert score(c, mark) == expected


def test_profitable_and_leveraged_first_then_losers_then_accounts_without_equity():
    mark = D(40_000)  # shorts: a lower mark is their profit
    queue = rank([
        candidate("9", -5, 41_000, 1_000_000),  # +2.4% at 6.2x
        candidate("3", -5, 49_000, 1_000_000),  # +18.4% at 6.2x: first
        candidate("4", -5, 49_000, 50_000_000),  # +18.4% at 0.12x
        candidate("5", -5, 39_000, 1_000_000),  # -2.6%: after every profitable one
        candidate("2", -5, 49_000, -10),  # no equity: last whatever its profit
        candidate("7", -5, 49_000, 1_000_000),  # tied with 3: by account id
    ], mark)
    assert [c.account_id for c in queue] == ["3", "7", "9", "4", "5", "2"]
    assert quintiles(queue) == {"3": 5, "7": 5, "9": 4, "4": 3, "5": 2, "2": 1}


def test_the_adl_price_is_the_mark_while_covered_and_never_past_the_counterpartys_entry():
    short = candidate("2", -10, "41000.5", 10**9)
    assert adl_price(Side.SELL, mark=D(40_000), bankruptcy=None, counterparty=short, tick_size=D(1)) == D(40_000)
    # the liquidated long sells: the bankruptcy price is above the mark, rounded up, capped at the entry
    assert adl_price(Side.SELL, mark=D(40_000), bankruptcy=Fraction(81_001, 2), counterparty=short,
                     tick_size=D(1)) == D(40_501)
    assert adl_price(Side.SELL, mark=D(40_000), bankruptcy=Fraction(50_000), counterparty=short,
                     tick_size=D(1)) == D(41_000)  # the entry 41,000.5 rounded down
    losing = candidate("3", -10, 39_000, 10**9)  # short at a loss: never beyond the mark
    assert adl_price(Side.SELL, mark=D(40_000), bankruptcy=Fraction(50_000), counterparty=losing,
                     tick_size=D(1)) == D(40_000)
    long = candidate("4", 10, 38_000, 10**9)  # a liquidated short buys from a profitable long
    assert adl_price(Side.BUY, mark=D(40_000), bankruptcy=Fraction(30_000), counterparty=long,
                     tick_size=D(1)) == D(38_000)
