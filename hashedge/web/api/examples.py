"""Examples for the OpenAPI document, one per request body and per successful answer.

They are documentation, but not free text: ``tests/integration/test_openapi_document.py`` loads
each through the schema it illustrates, so an example that drifts from the API fails the suite.
"""

from __future__ import annotations

FIXING = {
    "index": "DIFF", "kind": "retarget", "as_of": "2026-11-21T04:12:09+00:00", "version": 1,
    "value": "149301205959699.35281127", "unit": "difficulty", "methodology_version": "1",
    "start_height": 973728, "end_height": 973728, "confirmations": 6,
    "input_digest": "5f2c0b9d3a7e41f08c6d2b1e9a4f7c3d5e8b0a2c4d6f8e1a3b5c7d9e0f1a2b3c", "reason": None,
    "published_at": "2026-11-21T05:13:44+00:00",
}
DEFINITION = {
    "name": "DIFF", "title": "Bitcoin difficulty", "unit": "difficulty", "methodology_version": "1",
    "formula": "D(h) = target(0x1d00ffff) / target(bits[h]), the exact rational, rounded half-even to 1e-8.",
}
INDEX_OVERVIEW = {"definition": DEFINITION, "latest": FIXING}
INDEX_PAGE = {"items": [INDEX_OVERVIEW], "total": 12, "page": 1, "page_size": 100}
FIXINGS_PAGE = {"index": "DIFF", "items": [FIXING], "total": 1, "page": 1, "page_size": 100}
INDEX_VALUE = {"index": "DIFF", "height": 840000, "value": "86388558925171.10352084", "unit": "difficulty"}
FORECAST = {
    "as_of_height": 974100, "current_difficulty": 1.493e14, "epoch": 483, "blocks_mined_in_epoch": 372,
    "blocks_remaining": 1644, "next_difficulty": 1.512e14, "change_pct": 1.27,
    "next_difficulty_trailing_2016": 1.507e14, "change_pct_trailing_2016": 0.94, "low_68": 1.489e14,
    "high_68": 1.535e14, "low_95": 1.467e14, "high_95": 1.558e14,
    "expected_retarget_time": "2026-12-12T18:40:00+00:00",
}

ACCOUNT = {
    "id": 1, "name": "miner", "balances": {"collateral_sats": 29930250}, "equity_sats": 29930250,
    "unrealized_pnl_sats": 0, "initial_margin_sats": 20925000, "maintenance_margin_sats": 13950000,
    "free_collateral_sats": 9005250, "status": "healthy",
}
STATEMENT_PAGE = {
    "account_id": 1, "start": None, "end": None, "opening_balance_sats": 0, "closing_balance_sats": 29930250,
    "items": [
        {"entry_id": 1, "kind": "deposit", "memo": "", "occurred_at": "2026-12-14T09:00:00+00:00",
         "recorded_at": "2026-12-14T09:00:00+00:00", "amount_sats": 30000000, "balance_after_sats": 30000000},
        {"entry_id": 3, "kind": "fee", "memo": "book trade 7c1e in HP-2027-01",
         "occurred_at": "2026-12-14T09:05:00+00:00", "recorded_at": "2026-12-14T09:05:00+00:00",
         "amount_sats": -69750, "balance_after_sats": 29930250},
    ],
    "total": 2, "page": 1, "page_size": 100,
}
WITHDRAWAL_REQUEST = {"amount_sats": 5000000}
WITHDRAWAL = {
    "entry_id": 9, "kind": "withdrawal", "amount_sats": 5000000, "idempotency_key": "payout-2026-12-15",
    "occurred_at": "2026-12-15T10:00:00+00:00", "recorded_at": "2026-12-15T10:00:00+00:00",
}

INSTRUMENT = {
    "symbol": "HP-2027-01", "product": "hashprice_monthly", "underlying": "HASHPRICE",
    "quote_unit": "sats/PH/day", "multiplier": "31", "multiplier_unit": "PH/s x days", "tick_size": "1",
    "lot_size": 1, "last_trading_time": "2027-02-01T00:00:00+00:00",
    "settlement_rule": "average_of_daily_fixings", "floor": None, "cap": None, "status": "listed",
    "trading_open": True, "mark_price": "45120", "mark_source": "model",
    "marked_at": "2026-12-14T09:00:00+00:00",
}
INSTRUMENT_PAGE = {"items": [INSTRUMENT], "total": 1, "page": 1, "page_size": 100}
DEPTH = {"instrument": "HP-2027-01", "bids": [{"price": "44990", "quantity": 12}, {"price": "44950", "quantity": 40}],
         "asks": [{"price": "45010", "quantity": 8}]}

ORDER_REQUEST = {"instrument": "HP-2027-01", "side": "sell", "type": "limit", "quantity": 100, "price": "45000"}
AMENDMENT_REQUEST = {"quantity": 80, "price": "45100"}
FILL = {
    "id": "7c1e9a0b5d2f4e6a8b3c1d0e9f8a7b6c", "instrument": "HP-2027-01", "kind": "book", "side": "sell",
    "liquidity": "taker", "price": "45000", "quantity": 100, "fee_sats": 69750,
    "occurred_at": "2026-12-14T09:05:00+00:00",
}
ORDER = {
    "id": "3f6d0c2a9b8e4d71a5c3e2f1b0a9d8c7", "instrument": "HP-2027-01", "side": "sell", "type": "limit",
    "price": "45000", "quantity": 100, "filled_quantity": 100, "remaining_quantity": 0, "status": "filled",
    "cancel_reason": None, "created_at": "2026-12-14T09:05:00+00:00", "fills": [FILL],
}
RESTING_ORDER = {**ORDER, "price": "45100", "quantity": 80, "filled_quantity": 0, "remaining_quantity": 80,
                 "status": "open", "fills": []}
CANCELLED_ORDER = {**RESTING_ORDER, "status": "cancelled", "cancel_reason": "user"}
ORDER_PAGE = {"items": [ORDER], "total": 1, "page": 1, "page_size": 100}
CANCELLED_ORDERS = {"items": [CANCELLED_ORDER], "total": 1}
TRADE_PAGE = {"items": [FILL], "total": 1, "page": 1, "page_size": 100}
POSITION = {
    "instrument": "HP-2027-01", "quantity": -100, "side": "short", "average_price": "45000",
    "mark_price": "43500", "unrealized_pnl_sats": 4650000, "realized_pnl_sats": 0,
    "estimated_liquidation_price": "52841", "adl_quintile": 4, "adl_ranked_at": "2027-01-09T14:05:00+00:00",
}
POSITION_PAGE = {"items": [POSITION], "total": 1, "page": 1, "page_size": 100}

ACCOUNT_EVENT = {
    "id": 7, "kind": "margin_call", "occurred_at": "2027-01-09T14:05:00+00:00", "equity_sats": 18600000,
    "initial_margin_sats": 20235000, "maintenance_margin_sats": 13490000, "liquidation_id": None, "detail": {},
}
ACCOUNT_EVENT_PAGE = {"items": [ACCOUNT_EVENT], "total": 1, "page": 1, "page_size": 100}
LIQUIDATION = {
    "id": "L12-1", "occurred_at": "2027-01-11T08:01:00+00:00", "business_date": "2027-01-11",
    "notional_closed_sats": 2945920, "penalty_sats": 29460, "shortfall_sats": 0, "insurance_fund_sats": 0,
    "adl_contracts": 1, "uncovered_sats": 0, "parameters_version": 1,
    "trigger": {"equity_sats": 1200000, "initial_margin_sats": 2208000, "maintenance_margin_sats": 1472000,
                "status": "liquidatable"},
    "after": {"equity_sats": 1170540, "initial_margin_sats": 1104000, "maintenance_margin_sats": 736000,
              "status": "healthy"},
    "covers": [{"stage": "protection", "amount_sats": 0}, {"stage": "insurance_fund", "amount_sats": 0},
               {"stage": "backstop_pool", "amount_sats": 0}, {"stage": "adl", "amount_sats": 0}],
    "steps": [{"number": 1, "instrument_id": "HP-2027-01", "side": "sell", "quantity": 1, "closed": 1,
               "equity_sats": 1200000, "maintenance_margin_sats": 1472000, "target_sats": 2060800}],
    "fills": [{"stage": "book", "step": 1, "price": "47500", "quantity": 1, "counterparty": "9",
               "fees_sats": {"9": 295}, "fill_id": "HP-2027-01-412-1"}],
}
LIQUIDATION_PAGE = {"items": [LIQUIDATION], "total": 1, "page": 1, "page_size": 100}
INSURANCE_FUND = {
    "balance_sats": 92541250, "contributions_sats": 100000000, "penalty_shares_sats": 0,
    "shortfalls_covered_sats": 7458750,
    "items": [{"entry_id": 3, "kind": "contribution", "memo": "platform contribution to the insurance fund",
               "occurred_at": "2027-01-02T09:00:00+00:00", "recorded_at": "2027-01-02T09:00:00+00:00",
               "amount_sats": 100000000, "balance_after_sats": 100000000},
              {"entry_id": 812, "kind": "shortfall_cover", "memo": "insurance_fund covers liquidation L5-1",
               "occurred_at": "2027-01-11T08:01:00+00:00", "recorded_at": "2027-01-11T08:01:00+00:00",
               "amount_sats": -7458750, "balance_after_sats": 92541250}],
    "total": 2, "page": 1, "page_size": 100,
}

POOL_DEPOSIT_REQUEST = {"amount_sats": 10000000}
POOL_DEPOSIT = {"kind": "deposit", "shares": 9852216, "amount_sats": 10000000, "nav_sats": 203000000,
                "shares_outstanding": 200000000, "occurred_at": "2027-01-04T09:00:00+00:00",
                "idempotency_key": "lp-2027-01-04"}
POOL_WITHDRAWAL_REQUEST = {"shares": 5000000}
POOL_WITHDRAWAL = {"id": 4, "shares": 5000000, "status": "queued", "requested_at": "2027-01-04T09:00:00+00:00",
                   "executes_at": "2027-01-11T09:00:00+00:00", "executed_at": None, "amount_sats": None,
                   "idempotency_key": "exit-1"}
POOL_SHARES = {"account_id": 7, "shares": 9852216, "queued_shares": 5000000, "value_sats": 10000000,
               "withdrawals": [POOL_WITHDRAWAL]}
POOL = {
    "nav_sats": 213000000, "nav_per_share": "1.015000000000", "shares_outstanding": 209852216,
    "collateral_sats": 212400000, "exposure_sats": 15500000,
    "positions": [{"instrument": "HP-2027-01", "quantity": 10, "mark": "50000", "notional_sats": 15500000,
                   "unrealized_pnl_sats": 600000}],
    "penalties_earned_sats": 2400000, "shortfalls_covered_sats": 0, "queued_shares": 5000000,
    "nav_history": [{"business_date": "2027-01-02", "nav_sats": 200000000, "shares_outstanding": 200000000,
                     "nav_per_share": "1.000000000000"},
                    {"business_date": "2027-01-03", "nav_sats": 203000000, "shares_outstanding": 200000000,
                     "nav_per_share": "1.015000000000"}],
    "pnl_by_day": [{"business_date": "2027-01-03", "pnl_sats": 3000000}],
}
OFFER_REQUEST = {"instrument": "HP-2027-01", "side": "buy", "max_quantity": 20, "max_discount_bps": 150}
OFFER = {"id": 3, "instrument": "HP-2027-01", "side": "buy", "max_quantity": 20, "filled_quantity": 0,
         "max_discount_bps": 150, "status": "active", "created_at": "2027-01-04T09:00:00+00:00",
         "cancelled_at": None}
OFFER_LIST = {"items": [OFFER]}
OFFER_CANCELLED = {**OFFER, "status": "cancelled", "cancelled_at": "2027-01-05T09:00:00+00:00"}
GOVERNANCE_VERSION = {
    "id": 2, "effective_at": "2027-01-20T09:01:00+00:00", "source": "proposal", "actor": "account 12",
    "proposal_id": 1, "reason": "proposal 1: penalties too low for the risk the pool takes",
    "changes": {"liquidation.penalty_ratio": {"from": "0.01", "to": "0.02"}},
}
GOVERNANCE_REGISTRY = {
    "version": GOVERNANCE_VERSION,
    "parameters": [{"name": "liquidation.penalty_ratio", "value": "0.02", "default": "0.01", "low": "0",
                    "high": "0.05", "unit": "ratio", "description": "liquidation penalty, a fraction of the notional closed"}],
    "history": [GOVERNANCE_VERSION, {"id": 1, "effective_at": "1970-01-01T00:00:00+00:00", "source": "defaults",
                                     "actor": "defaults", "proposal_id": None, "changes": {},
                                     "reason": "the documented defaults (hashedge/domain/parameters.py)"}],
}
PROPOSAL_REQUEST = {"changes": {"liquidation.penalty_ratio": "0.02"},
                    "rationale": "penalties too low for the risk the pool takes"}
VOTE_REQUEST = {"choice": "yes"}
PROPOSAL = {
    "id": 1, "proposer_account_id": 12, "rationale": "penalties too low for the risk the pool takes",
    "changes": {"liquidation.penalty_ratio": {"from": "0.01", "to": "0.02"}}, "status": "timelock",
    "yes_weight": 60000000, "no_weight": 30000000, "snapshot_shares": 100000000,
    "snapshot_at": "2027-01-11T09:00:00+00:00", "quorum": "0.5", "support": "0.5", "quorum_reached": True,
    "support_reached": True, "voting_ends_at": "2027-01-18T09:00:00+00:00",
    "executes_at": "2027-01-20T09:00:00+00:00", "expires_at": "2027-02-03T09:00:00+00:00",
    "executed_version": None, "refused_reason": None,
    "votes": [{"account_id": 12, "choice": "yes", "weight": 60000000, "cast_at": "2027-01-11T09:05:00+00:00"},
              {"account_id": 13, "choice": "no", "weight": 30000000, "cast_at": "2027-01-12T10:00:00+00:00"}],
    "ragequits": [{"account_id": 13, "shares": 30000000, "amount_sats": 30150000, "at": "2027-01-19T08:00:00+00:00"}],
}
PROPOSAL_PAGE = {"items": [PROPOSAL], "total": 1, "page": 1, "page_size": 100}
RAGEQUIT = {"account_id": 13, "shares": 30000000, "amount_sats": 30150000, "at": "2027-01-19T08:00:00+00:00"}
PROTECTION_QUOTE = {
    "reference_account_id": 7, "tenor": "3M", "trade_date": "2026-12-01", "effective_date": "2026-12-02",
    "maturity": "2027-03-20", "notional_sats": 50000000, "premium_bps": "307.2148", "standard_coupon_bps": 100,
    "upfront_sats": 230455, "protection_leg_sats": 341670.49, "risky_pv01_sats": 1112.16,
    "inputs": {"equity_sats": 10000000, "maintenance_margin_sats": 10000000, "exposure_sats": 100000000,
               "leverage": 10.0, "daily_vol": 0.02437, "window_days": 3, "default_probability": 0.01797,
               "hazard_rate_per_year": 2.2065, "recovery": 0.98584},
}
PROTECTION_CONTRACT_BOOKED = {
    "id": "P-3f9c0a1b2d4e", "buyer_account_id": "4", "seller_account_id": "9", "reference_account_id": "7",
    "reference_instrument_id": None, "notional_sats": 50000000, "premium_bps": "310", "upfront_sats": 0,
    "trade_date": "2026-12-01", "effective_date": "2026-12-02", "maturity_date": "2027-03-20",
    "settlement": "novation", "status": "active", "collateral_sats": 25000000, "premium_paid_sats": 0,
    "premium_paid_through": None, "mark_sats": 0, "marked_on": "2026-12-01", "credit_event_liquidation_id": None,
    "booked_via": "rfq", "booked_at": "2026-12-01T10:15:00+00:00",
}
PROTECTION_CONTRACT = {
    **PROTECTION_CONTRACT_BOOKED, "premium_paid_sats": 43055, "premium_paid_through": "2026-12-02",
    "accrued_sats": 43055, "unpaid_sats": 0,
    "events": [{"kind": "booked", "business_date": "2026-12-01", "occurred_at": "2026-12-01T10:15:00+00:00",
                "amount_sats": 25000000, "entry_key": "protection:P-3f9c0a1b2d4e:booked",
                "detail": {"fair_premium_bps": "307.2148", "collateral_sats": 25000000}},
               {"kind": "premium", "business_date": "2026-12-02", "occurred_at": "2026-12-03T00:05:00+00:00",
                "amount_sats": 43055, "entry_key": "protection:premium:2026-12-02", "detail": {}}],
}
PROTECTION_LIST = {"items": [PROTECTION_CONTRACT_BOOKED], "total": 1}
PROTECTION_BUY = {"answer_id": "Q-8d1e2f3a4b5c-A1a2b3c"}
PROTECTION_RFQ_REQUEST = {"reference_account_id": 7, "notional_sats": 50000000, "tenor": "3M",
                          "settlement": "novation"}
PROTECTION_ANSWER_REQUEST = {"premium_bps": "310", "upfront_sats": 0, "valid_seconds": 300}
PROTECTION_ANSWER = {"id": "Q-8d1e2f3a4b5c-A1a2b3c", "rfq_id": "Q-8d1e2f3a4b5c", "seller_account_id": 9,
                     "premium_bps": "310", "upfront_sats": 0, "created_at": "2026-12-01T10:10:00+00:00",
                     "valid_until": "2026-12-01T10:15:00+00:00", "withdrawn_at": None}
PROTECTION_RFQ = {"id": "Q-8d1e2f3a4b5c", "buyer_account_id": 4, "reference_account_id": 7,
                  "reference_instrument_id": None, "notional_sats": 50000000, "tenor": "3M",
                  "settlement": "novation", "status": "open", "created_at": "2026-12-01T10:00:00+00:00",
                  "contract_id": None, "answers": []}
PROTECTION_RFQ_LIST = {"items": [{**PROTECTION_RFQ, "answers": [PROTECTION_ANSWER]}]}
PROTECTION_ANSWER_WITHDRAWN = {**PROTECTION_ANSWER, "withdrawn_at": "2026-12-01T10:12:00+00:00"}
PROTECTION_RFQ_CANCELLED = {**PROTECTION_RFQ, "status": "cancelled", "answers": [PROTECTION_ANSWER]}
