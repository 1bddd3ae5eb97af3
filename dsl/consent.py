"""Who can receive a channel: the one rule behind `can receive C` and a campaign's send.

A contact stores its subscription state per channel in `consent` (`{"email":
"subscribed" | "unsubscribed", ...}`; a channel not listed is unknown, which may receive)
and the email suppressions in `suppression` (`{"email": "hard_bounce" | "spam_complaint"}`).
A contact can receive channel C when it has an address for C (Email for email,
MobilePhone for sms; push needs none) and is neither unsubscribed nor suppressed for C.
When it cannot, the first reason in SKIP_REASONS' order says why.
"""

from __future__ import annotations

from collections.abc import Mapping

# The events that set a contact's consent or suppression (store/consent.py applies them).
UNSUBSCRIBE, HARD_BOUNCE, SPAM_COMPLAINT = "Unsubscribe", "HardBounce", "SpamComplaint"
CONSENT_EVENT_TYPES = frozenset({UNSUBSCRIBE, HARD_BOUNCE, SPAM_COMPLAINT})

CHANNELS = ("email", "sms", "push")
ADDRESS_FIELDS = {"email": "Email", "sms": "MobilePhone", "push": None}
CONSENT_STATES = ("subscribed", "unsubscribed")
SUPPRESSIONS = ("hard_bounce", "spam_complaint")
SKIP_REASONS = ("no_address", "unsubscribed", *SUPPRESSIONS)


def skip_reason(contact: Mapping, channel: str) -> str | None:
    """Why the contact (stored shape: `fields`, `consent`, `suppression`) cannot receive
    `channel`, or None when it can."""
    address = ADDRESS_FIELDS[channel]
    if address is not None:
        value = (contact.get("fields") or {}).get(address)
        if value is None or value == "":
            return "no_address"
    if (contact.get("consent") or {}).get(channel) == "unsubscribed":
        return "unsubscribed"
    suppressed = (contact.get("suppression") or {}).get(channel)
    if suppressed is not None:
        return suppressed
    return None


def can_receive_query(channel: str) -> dict:
    """`skip_reason(contact, channel) is None` as a MongoDB query on contacts."""
    query: dict = {}
    address = ADDRESS_FIELDS[channel]
    if address is not None:
        query[f"fields.{address}"] = {"$nin": [None, ""]}
    query[f"consent.{channel}"] = {"$ne": "unsubscribed"}
    query[f"suppression.{channel}"] = None  # missing (null is never stored)
    return query


def skip_reason_expression(channel: str) -> dict:
    """`skip_reason` as an aggregation expression on a contact document (null: can receive)."""
    branches = []
    address = ADDRESS_FIELDS[channel]
    if address is not None:
        branches.append({"case": {"$in": [{"$ifNull": [f"$fields.{address}", None]},
                                          [None, ""]]}, "then": "no_address"})
    branches.append({"case": {"$eq": [f"$consent.{channel}", "unsubscribed"]},
                     "then": "unsubscribed"})
    return {"$switch": {"branches": branches,
                        "default": {"$ifNull": [f"$suppression.{channel}", None]}}}
