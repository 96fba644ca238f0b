# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redaction of secrets in the texts of a diagnostics bundle, before anything leaves the host.

Patterns are Python regular expressions applied to the bytes of a whole text (so that a private
key block spanning lines is caught). A pattern with capturing groups has only what its groups
matched replaced, which keeps the key name (``password=[REDACTED]``) readable; a pattern
without groups has its whole match replaced.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

MASK = b"[REDACTED]"

# Name, pattern and anchors of the secrets every bundle is cleaned of unless redact_builtin is
# false. Values stop at white space, quotes and the separators of query strings and lists; [ \t]
# rather than \s keeps a match within its line.
# The regex engine finds a pattern that starts with literal text quickly; one that starts with a
# word boundary, an alternation or ignores case it tries at every position, at seconds per
# megabyte. Such a pattern has anchors: lowercase texts one of which every match starts with. It
# is only tried where an anchor occurs.
BUILTIN_PATTERNS = (
    # The BEGIN line, every following line that is base64 or a PEM header (indented, as journalctl
    # writes the lines of a message after its first), and the END line when it is there: a block
    # cut short by a byte limit or a window is replaced all the same.
    ("private_key",
     r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----"
     r"(?:\r?\n[ \t]*(?:(?:[A-Za-z0-9+/=]+|(?:Proc-Type|DEK-Info):[^\r\n]*)(?=\r?\n|\Z)|(?=\r?\n)))*"
     r"(?:\r?\n[ \t]*-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----)?",
     None),
    ("authorization",
     r"(?i)\b(?:proxy-)?authorization[\"']?[ \t]*[:=][ \t]*[\"']?"
     r"(?:(?:bearer|basic|digest|token|negotiate|ntlm|aws4-hmac-sha256)[ \t]+)?([^\s\"',;]+)",
     (b"proxy-authorization", b"authorization")),
    ("bearer", r"(?i)\bbearer[ \t]+([A-Za-z0-9._~+/=-]+)", (b"bearer",)),
    ("password",
     r"(?i)(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key"
     r"|credentials?)[\"']?[ \t]*[:=][ \t]*[\"']?([^\s\"',;&]+)",
     (b"pass", b"pwd", b"secret", b"token", b"credential", b"api_", b"api-", b"apikey", b"access_",
      b"access-", b"accesskey", b"private_", b"private-", b"privatekey")),
    ("url_credentials", r"://[^/\s:@]+:([^/\s@]+)@", None),
    ("aws_access_key_id", r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}\b",
     (b"akia", b"asia", b"agpa", b"aida", b"aroa", b"aipa", b"anpa", b"anva", b"apka")),
)


def anchor_positions(data, anchors):
    """Sorted positions in data where one of anchors (lowercase) occurs, whatever the case."""
    lower = data.lower()
    positions = set()
    for anchor in anchors:
        position = lower.find(anchor)
        while position >= 0:
            positions.add(position)
            position = lower.find(anchor, position + 1)
    return sorted(positions)


class Redactor(object):
    """Applies the patterns in order and counts, per pattern name, the secrets it replaced."""

    def __init__(self, builtin=True, extra=()):
        """extra: regex strings, named custom_1, custom_2, ... Raises ValueError for a bad one."""
        named = list(BUILTIN_PATTERNS) if builtin else []
        named.extend(("custom_%d" % number, text, None) for number, text in enumerate(extra, 1))
        self.patterns = []
        for name, text, anchors in named:
            if not text:
                raise ValueError("redaction pattern %s is empty; remove it or give a regular expression"
                                 % name)
            try:
                regex = re.compile(text.encode("utf-8"))
            except re.error as exc:
                raise ValueError("redaction pattern %s (%r) is not a valid regular expression: %s"
                                 % (name, text, exc)) from None
            if regex.match(b""):
                raise ValueError("redaction pattern %s (%r) matches empty text; make it match the secret"
                                 % (name, text))
            self.patterns.append((name, regex, anchors))
        self.counts = dict((name, 0) for name, _regex, _anchors in self.patterns)

    def redact(self, data, count=True):
        """data (bytes) with every secret replaced by MASK; count=False for a text already counted."""
        for name, regex, anchors in self.patterns:
            counted = name if count else None
            if anchors is None:
                data = regex.sub(lambda match, counted=counted: self._masked(counted, match), data)
            else:
                data = self._redact_anchored(data, regex, anchors, counted)
        return data

    def _redact_anchored(self, data, regex, anchors, name):
        pieces = []
        done = 0
        for position in anchor_positions(data, anchors):
            if position < done:
                continue  # within a match already replaced
            match = regex.match(data, position)
            if match is not None:
                pieces.append(data[done:position])
                pieces.append(self._masked(name, match))
                done = match.end()
        pieces.append(data[done:])
        return b"".join(pieces)

    def _masked(self, name, match):
        if not match.re.groups:
            if name is not None:
                self.counts[name] += 1
            return MASK
        source = match.string
        pieces = []
        position = match.start()
        replaced = False
        for group in range(1, match.re.groups + 1):
            start, end = match.span(group)
            # A group that did not take part, or one nested in a group already replaced.
            if start < position or start == end:
                continue
            pieces.append(source[position:start])
            pieces.append(MASK)
            replaced = replaced or source[start:end] != MASK
            position = end
        pieces.append(source[position:match.end()])
        if replaced and name is not None:
            self.counts[name] += 1
        return b"".join(pieces)
