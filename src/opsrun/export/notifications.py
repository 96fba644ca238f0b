"""Contacts' apprise URLs as AWX notification templates, with every secret left to a vault variable.

Only the kind of service and what is not secret (Slack channels, mail recipients) come from the
URL; tokens, passwords and whole webhook URLs become `{{ vault_notify_<contact>_<n>[_<part>] }}`
placeholders that the user fills from a vault. URLs of a service AWX cannot notify are reported.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from opsrun.design.schema import Contact, redact_url
from opsrun.export import Unsafe

# For webhook services that want a "text" key (Slack incoming webhooks, Microsoft Teams): AWX's
# message templates, kept literal in the playbook so that AWX, not Ansible, renders them.
_TEXT_BODY = (
    '{{"text": "{what}: {{{{ job_friendly_name }}}} #{{{{ job.id }}}} {{{{ job.name }}}} {{{{ url }}}}"}}'
)
_TEXT_MESSAGES = {
    "started": {"body": Unsafe(_TEXT_BODY.format(what="started"))},
    "success": {"body": Unsafe(_TEXT_BODY.format(what="succeeded"))},
    "error": {"body": Unsafe(_TEXT_BODY.format(what="failed"))},
    "workflow_approval": {
        "running": {"body": Unsafe(_TEXT_BODY.format(what="waiting for approval"))},
        "approved": {"body": Unsafe(_TEXT_BODY.format(what="approved"))},
        "denied": {"body": Unsafe(_TEXT_BODY.format(what="denied"))},
        "timed_out": {"body": Unsafe(_TEXT_BODY.format(what="approval timed out"))},
    },
}


@dataclass(frozen=True)
class NotificationTemplate:
    name: str
    contact: str
    notification_type: str
    configuration: dict[str, Any]
    messages: dict[str, Any] | None = None
    secrets: tuple[str, ...] = field(default=())


def variable_name(text: str) -> str:
    """`text` as a part of an Ansible variable name: lower case, letters, digits and underscores."""
    return re.sub(r"[^a-z0-9_]", "_", text.lower())


def _placeholder(variable: str) -> str:
    return "{{ " + variable + " }}"


def _webhook(name: str, contact: str, prefix: str, messages: dict[str, Any] | None) -> NotificationTemplate:
    configuration = {"url": _placeholder(prefix), "http_method": "POST", "headers": {}}
    return NotificationTemplate(name, contact, "webhook", configuration, messages, (prefix,))


def _slack(name: str, contact: str, prefix: str, url: SplitResult) -> NotificationTemplate:
    segments = [unquote(segment) for segment in f"{url.netloc}{url.path}".split("/") if segment]
    if not (segments and segments[0].startswith(("xoxb-", "xoxp-"))):
        return _webhook(name, contact, prefix, _TEXT_MESSAGES)  # an incoming webhook: the URL is the secret
    channels = {segment for segment in segments if segment[:1] in "#@"}
    if url.fragment:
        channels.add(f"#{url.fragment}")
    configuration = {"token": _placeholder(prefix), "channels": sorted(channels) or ["#general"]}
    return NotificationTemplate(name, contact, "slack", configuration, secrets=(prefix,))


def _teams(name: str, contact: str, prefix: str, url: SplitResult) -> NotificationTemplate:
    return _webhook(name, contact, prefix, _TEXT_MESSAGES)


def _json(name: str, contact: str, prefix: str, url: SplitResult) -> NotificationTemplate:
    return _webhook(name, contact, prefix, None)


def _email(name: str, contact: str, prefix: str, url: SplitResult) -> NotificationTemplate:
    query = parse_qs(url.query)
    domain = url.hostname or ""
    user = unquote(url.username or "")
    recipients = sorted({address for value in query.get("to", []) for address in value.split(",") if address})
    secure = url.scheme.lower() == "mailtos"
    configuration = {
        "host": query.get("smtp", [domain])[0],
        "port": url.port or (465 if secure else 25),
        "username": _placeholder(f"{prefix}_username"),
        "password": _placeholder(f"{prefix}_password"),
        "sender": query.get("from", [f"{user or 'opsrun'}@{domain}"])[0],
        "recipients": recipients or [f"{user}@{domain}"],
        "use_ssl": secure,
        "use_tls": False,
        "timeout": 30,
    }
    secrets = (f"{prefix}_username", f"{prefix}_password")
    return NotificationTemplate(name, contact, "email", configuration, secrets=secrets)


def _pagerduty(name: str, contact: str, prefix: str, url: SplitResult) -> NotificationTemplate:
    secrets = tuple(f"{prefix}_{part}" for part in ("token", "service_key", "subdomain"))
    configuration: dict[str, Any] = {
        part: _placeholder(f"{prefix}_{part}") for part in ("token", "service_key", "subdomain")
    }
    configuration["client_name"] = "opsrun"
    return NotificationTemplate(name, contact, "pagerduty", configuration, secrets=secrets)


# apprise's URL scheme -> how AWX notifies that service.
_SERVICES: dict[str, Callable[[str, str, str, SplitResult], NotificationTemplate]] = {
    "slack": _slack,
    "msteams": _teams,
    "workflows": _teams,
    "mailto": _email,
    "mailtos": _email,
    "pagerduty": _pagerduty,
    "json": _json,
    "jsons": _json,
}

# The apprise services that AWX notification templates can reach.
SUPPORTED_SCHEMES = tuple(sorted(_SERVICES))


def _template(contact_name: str, index: int, url: str) -> NotificationTemplate | None:
    parts = urlsplit(url)
    build = _SERVICES.get(parts.scheme.lower())
    if build is None:
        return None
    prefix = f"vault_notify_{variable_name(contact_name)}_{index}"
    return build(f"opsrun {contact_name} {index}", contact_name, prefix, parts)


def notification_templates(
    contacts: dict[str, Contact],
) -> tuple[list[NotificationTemplate], list[str]]:
    """The templates of every contact's URLs (sorted), and the URLs left out, named redacted."""
    templates: list[NotificationTemplate] = []
    left_out: list[str] = []
    for contact_name in sorted(contacts):
        for index, url in enumerate(contacts[contact_name].notify, start=1):
            template = _template(contact_name, index, url)
            if template is None:
                left_out.append(f"{contact_name} #{index} ({redact_url(url)})")
            else:
                templates.append(template)
    return templates, left_out
