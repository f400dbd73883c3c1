"""The pure domain core of the platform: standard library only, deterministic.

One concept per module:

- ``units``: integer satoshis, Decimal prices, rounding once in a stated direction;
- ``errors``: broken invariants (bugs in the caller), raised with their fields;
- ``denials``: expected business denials, returned as data with a reason;
- ``ledger``: double-entry journal in satoshis, entry builders, the in-memory ``Ledger``;
- ``orders``: order types, trading rules and order validation;
- ``fills``: one execution between a buyer and a seller;
- ``book``: the central limit order book (price-time priority matching);
- ``positions``: net position per account and instrument, average price and PnL.

Nothing here reads a clock, draws a random number, or touches a database: times,
ids and sequence numbers are passed in, and every value is a plain frozen dataclass of
``int``, ``Decimal``, ``str``, ``datetime`` and string-valued enums, easy to persist.

Conventions at a glance (details in each module's docstring):

- money: ``int`` satoshis; rounded once, margin and fees up, PnL and payouts down;
- ledger signs: a posting adds to its account's balance, entries sum to zero, so all
  balances sum to zero; ``external_custody`` is minus what the platform holds;
- idempotency: same key and same content returns the original entry, different content
  raises ``IdempotencyConflict``;
- self-trade prevention default: cancel the resting order (``cancel_resting``);
- cancel/replace keeps queue priority only when the price is unchanged and the total
  quantity does not grow;
- order sequence numbers come from the caller, strictly increasing per instrument, and
  also name the fills (``<instrument>-<taker sequence>-<n>``).
"""
