"""Backstop liquidity (BACKSTOP.md): the pool's share arithmetic (``shares``) and the standing
offers a liquidation fills after the book (``offers``)."""
