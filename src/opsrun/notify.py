"""Notifications to the contacts of an escalation tier, through apprise, kept in the run store.

A notification URL holds its token, so it is never shown, logged or stored: only its scheme
(the channel) is, with the contact's name and whether apprise delivered it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from opsrun.store import Store, time_text

if TYPE_CHECKING:
    from opsrun.design.schema import OpsDesign, Tier
    from opsrun.incidents import Incident

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """One notification URL of a contact: its channel (the URL's scheme) and whether it went out."""

    contact: str
    channel: str
    delivered: bool

    def __str__(self) -> str:
        return f"{self.contact}: {self.channel}"


def notify_tier(design: OpsDesign, tier: Tier, title: str, body: str) -> list[Delivery]:
    """Send TITLE/BODY to every notification URL of the tier's contacts, one URL at a time so that
    each delivery is known; a URL that fails is logged by contact and channel."""
    import apprise  # noqa: PLC0415 - only notifications pay for it

    deliveries = []
    for name in tier.contacts:
        contact = design.contacts.get(name)
        if contact is None:  # opsrun check refuses such a design
            deliveries.append(Delivery(name, "none", delivered=False))
            continue
        for url, shown in zip(contact.notify, contact.redacted_notify(), strict=True):
            sender = apprise.Apprise()
            delivered = bool(sender.add(url) and sender.notify(title=title, body=body))
            if not delivered:
                log.warning("could not notify %s of tier %s through %s", name, tier.name, shown)
            deliveries.append(Delivery(name, shown.split(":", 1)[0], delivered))
    return deliveries


def record_notifications(
    store: Store,
    tier: Tier,
    title: str,
    deliveries: list[Delivery],
    *,
    at: datetime,
    incident_id: int | None = None,
    routine_run_id: str | None = None,
) -> None:
    with store.write() as connection:
        connection.executemany(
            """
            INSERT INTO notifications (
                at, incident_id, routine_run_id, tier, contact, channel, delivered, title
            ) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                (
                    time_text(at),
                    incident_id,
                    routine_run_id,
                    tier.name,
                    delivery.contact,
                    delivery.channel,
                    int(delivery.delivered),
                    title,
                )
                for delivery in deliveries
            ],
        )


def tell_tier(
    store: Store,
    design: OpsDesign,
    tier: Tier,
    title: str,
    body: str,
    *,
    at: datetime,
    incident_id: int | None = None,
    routine_run_id: str | None = None,
) -> list[Delivery]:
    """Notify the tier's contacts and keep what went out (and what did not) in the store."""
    deliveries = notify_tier(design, tier, title, body)
    record_notifications(
        store, tier, title, deliveries, at=at, incident_id=incident_id, routine_run_id=routine_run_id
    )
    return deliveries


def incident_notice(incident: Incident, what: str, why: str) -> tuple[str, str]:
    """The title and body telling a tier about an incident: host, check, status, why, what to do."""
    subject = f"{incident.check} {incident.item}".strip()
    title = f"opsrun: incident {incident.id} on {incident.host}: {subject} {what}"
    body = (
        f"host {incident.host}, check {subject}: {incident.finding_status}"
        + (f" — {incident.message}" if incident.message else "")
        + f"\n{why}\nrunbook {incident.runbook or 'none'}; "
        f"opened {incident.opened.isoformat(timespec='seconds')}; "
        f"acknowledge with 'opsrun incident ack {incident.id} --as CONTACT'"
    )
    return title, body
