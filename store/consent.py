"""Consent as stored on a contact: the subscription state per channel and the email
suppressions, set by the API and importers (`consent` in a contact row) and by events.

`consent: {"email": "subscribed" | "unsubscribed", "sms": ..., "push": ...}` (a channel not
listed is unknown: it may receive), `suppression: {"email": "hard_bounce" |
"spam_complaint"}`. Who may then receive a channel is dsl/consent.py's one rule.
"""

from __future__ import annotations

from collections.abc import Mapping

from dsl.consent import (CHANNELS, CONSENT_EVENT_TYPES, CONSENT_STATES, HARD_BOUNCE,
                         UNSUBSCRIBE)
from store.results import RowRejected



def consent_from_event(event: Mapping) -> dict[str, str]:
    """The contact paths an event sets (empty for most events): `Unsubscribe` with attribute
    `channel` (email, sms or push; any letter case) unsubscribes that channel; `HardBounce`
    and `SpamComplaint` suppress email. An `Unsubscribe` without a known channel sets
    nothing (its event is stored all the same)."""
    event_type = event.get("type")
    if event_type not in CONSENT_EVENT_TYPES:
        return {}
    if event_type == UNSUBSCRIBE:
        channel = (event.get("attributes") or {}).get("channel")
        channel = channel.strip().lower() if isinstance(channel, str) else None
        return {f"consent.{channel}": "unsubscribed"} if channel in CHANNELS else {}
    return {"suppression.email": "hard_bounce" if event_type == HARD_BOUNCE
            else "spam_complaint"}


def parse_consent(value: object, who: str) -> dict[str, str | None]:
    """A contact row's `consent` as paths to set (None: back to unknown); RowRejected if bad."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RowRejected(f'{who}: consent must be an object such as {{"email": "subscribed"}}')
    paths: dict[str, str | None] = {}
    for channel, state in value.items():
        if channel not in CHANNELS:
            raise RowRejected(f"{who}: consent for {channel!r}: the channels are "
                              + ", ".join(CHANNELS))
        if state is not None and state not in CONSENT_STATES:
            raise RowRejected(f"{who}: consent {channel} is {state!r}; it is subscribed, "
                              "unsubscribed or null (unknown)")
        paths[f"consent.{channel}"] = state
    return paths


def public_consent(contact: Mapping) -> dict:
    """What Contact.consent shows: every channel's state (`unknown` when none was given)
    and, per channel, a suppression if there is one:
    `{"email": "unsubscribed", "sms": "unknown", "push": "unknown",
      "suppressed": {"email": "hard_bounce"}}`."""
    states = contact.get("consent") or {}
    shown: dict = {channel: states.get(channel) or "unknown" for channel in CHANNELS}
    shown["suppressed"] = dict(contact.get("suppression") or {})
    return shown
