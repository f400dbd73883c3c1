"""The desk's forms (Flask-WTF: each POST form carries the session's CSRF token).

Forms only parse and check shapes (required, lengths, number formats); every business rule (the
band, margin, four-eyes thresholds, roles) is a service's, and a service's refusal comes back onto
the form's fields with ``apply_errors`` so the page shows it next to what was typed.
"""

from __future__ import annotations

import uuid

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, IntegerField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from hashedge.errors import HashEdgeError

DECIMAL = Regexp(r"^\s*\d+(\.\d+)?\s*$", message="a positive number, digits and an optional decimal point")


class LoginForm(FlaskForm):
    username = StringField("User name", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])


class OnboardForm(FlaskForm):
    name = StringField("Account name", validators=[DataRequired(), Length(max=64)])


class ActionForm(FlaskForm):
    """A form with nothing but its CSRF token (issue a key, run a job)."""


class RevokeKeyForm(FlaskForm):
    prefix = HiddenField(validators=[DataRequired(), Length(max=32)])


class DepositForm(FlaskForm):
    account = StringField("Account (id or name)", validators=[DataRequired(), Length(max=64)])
    amount_sats = IntegerField("Amount (sats)", validators=[DataRequired(), NumberRange(min=1)])
    memo = StringField("Memo (e.g. the transaction id)", validators=[Optional(), Length(max=200)])
    idempotency_key = HiddenField(validators=[DataRequired(), Length(max=100)])

    def fresh_key(self) -> "DepositForm":
        if not self.idempotency_key.data:
            self.idempotency_key.data = f"desk-{uuid.uuid4().hex}"
        return self


class WithdrawalForm(DepositForm):
    pass


class PoolDepositForm(FlaskForm):
    account = StringField("LP account (id or name)", validators=[DataRequired(), Length(max=64)])
    amount_sats = IntegerField("Amount (sats)", validators=[DataRequired(), NumberRange(min=1)])
    idempotency_key = HiddenField(validators=[DataRequired(), Length(max=100)])

    def fresh_key(self) -> "PoolDepositForm":
        if not self.idempotency_key.data:
            self.idempotency_key.data = f"desk-{uuid.uuid4().hex}"
        return self


class PoolWithdrawalForm(FlaskForm):
    account = StringField("LP account (id or name)", validators=[DataRequired(), Length(max=64)])
    shares = IntegerField("Shares", validators=[DataRequired(), NumberRange(min=1)])
    idempotency_key = HiddenField(validators=[DataRequired(), Length(max=100)])

    fresh_key = PoolDepositForm.fresh_key


class BlockTradeForm(FlaskForm):
    buyer = StringField("Buyer (id or name)", validators=[DataRequired(), Length(max=64)])
    seller = StringField("Seller (id or name)", validators=[DataRequired(), Length(max=64)])
    instrument = SelectField("Instrument", validators=[DataRequired()], choices=[])
    quantity = IntegerField("Quantity (contracts)", validators=[DataRequired(), NumberRange(min=1, max=1_000_000)])
    price = StringField("Price", validators=[DataRequired(), Length(max=32), DECIMAL])
    action = HiddenField(default="preview")


class ReverseForm(FlaskForm):
    reason = StringField("Reason", validators=[DataRequired(), Length(max=500)])


class DecisionForm(FlaskForm):
    reason = TextAreaField("Reason", validators=[Optional(), Length(max=500)])


class SettlementForm(FlaskForm):
    business_date = DateField("Business date (UTC)", validators=[DataRequired()])


class HedgeForm(FlaskForm):
    """A GET form (a calculation changes nothing): no CSRF token."""

    class Meta:
        csrf = False

    hashrate_phs = StringField("Hashrate (PH/s)", validators=[DataRequired(), Length(max=20), DECIMAL])
    instrument = SelectField("Contract (window)", validators=[DataRequired()], choices=[])


class InsuranceContributionForm(FlaskForm):
    amount_sats = IntegerField("Amount (sats)", validators=[DataRequired(), NumberRange(min=1)])
    memo = StringField("Memo (e.g. the transaction id)", validators=[Optional(), Length(max=200)])
    idempotency_key = HiddenField(validators=[DataRequired(), Length(max=100)])

    def fresh_key(self) -> "InsuranceContributionForm":
        if not self.idempotency_key.data:
            self.idempotency_key.data = f"desk-{uuid.uuid4().hex}"
        return self


class LiquidationFilterForm(FlaskForm):
    """A GET form (filters change nothing): no CSRF token."""

    class Meta:
        csrf = False

    account = StringField("Account (id or name)", validators=[Optional(), Length(max=64)])
    start = DateField("From (UTC)", validators=[Optional()])
    end = DateField("To (UTC, inclusive)", validators=[Optional()])


class VoteForm(FlaskForm):
    account = StringField("Member (account id or name)", validators=[DataRequired(), Length(max=64)])
    choice = SelectField("Vote", choices=["yes", "no"], validators=[DataRequired()])


class EmergencyForm(FlaskForm):
    name = SelectField("Margin ratio", validators=[DataRequired()], choices=[])
    value = StringField("New value (higher: tighter)", validators=[DataRequired(), Length(max=32), DECIMAL])
    reason = StringField("Reason", validators=[DataRequired(), Length(max=500)])


FIELD_ALIASES = {"amount": "amount_sats", "date": "business_date", "order": "quantity", "buyer_id": "buyer",
                 "seller_id": "seller", "account_id": "account"}


def apply_errors(form: FlaskForm, exc: HashEdgeError, *, default: str | None = None) -> None:
    """Put a service's refusal onto the form: each field message next to its field, the rest (and a
    refusal without fields) on ``default`` or above the form."""
    placed = False
    for name, messages in (exc.fields or {}).items():
        name = FIELD_ALIASES.get(name, name)
        field = getattr(form, name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + [m for m in messages if m not in field.errors]
            placed = True
    if placed:
        return
    target = getattr(form, default, None) if default else None
    if target is not None:
        target.errors = list(target.errors) + [exc.message]
    else:
        form.form_errors.append(exc.message)


class ProtectionQuoteForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form: it only reads

    reference = StringField("Reference account (id or name)", validators=[DataRequired(), Length(max=64)])
    notional_sats = IntegerField("Notional (sats)", validators=[DataRequired(), NumberRange(min=1)])
    tenor = SelectField("Tenor", choices=["3M", "6M", "9M", "1Y", "2Y", "3Y", "5Y"], default="3M")


class ProtectionForm(FlaskForm):
    buyer = StringField("Buyer (id or name)", validators=[DataRequired(), Length(max=64)])
    seller = StringField("Seller (id, name or insurance_fund)", validators=[DataRequired(), Length(max=64)])
    reference = StringField("Reference account (id or name)", validators=[DataRequired(), Length(max=64)])
    reference_instrument = StringField("Protected position's instrument (optional: the buyer's own)",
                                       validators=[Optional(), Length(max=32)])
    notional_sats = IntegerField("Notional (sats)", validators=[DataRequired(), NumberRange(min=1)])
    premium_bps = StringField("Premium (bps a year)", validators=[DataRequired(), Length(max=32), DECIMAL])
    maturity = DateField("Maturity (a CDS date: 20 Mar/Jun/Sep/Dec)", validators=[DataRequired()])
    settlement = SelectField("Settlement", choices=["novation", "cash"], default="novation")
    upfront_sats = IntegerField("Upfront (sats, paid by the buyer)", default=0, validators=[Optional()])
