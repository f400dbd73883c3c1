"""Governance of the risk parameters: the registry of versions, proposals, votes, ragequit and
the risk committee's emergency tightening. Pure rules; GOVERNANCE.md beside them says them in
words."""
