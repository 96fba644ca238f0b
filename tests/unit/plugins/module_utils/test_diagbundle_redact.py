# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redaction of secrets in bundle texts: built-in patterns, custom patterns, counts and errors."""

import random

import pytest
from ansible_collections.opsrun.ops.plugins.module_utils._diagbundle_redact import MASK, Redactor

PRIVATE_KEY = (
    b"-----BEGIN OPENSSH PRIVATE KEY-----\n"
    b"b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    b"QyNTUxOQAAACDVd1GJ5xT0BnUe0q5eA9sYq7yq0gU2Yv7w2aQ8Y8b3FwAAAJiS1qkDktap\n"
    b"-----END OPENSSH PRIVATE KEY-----\n"
)

# (line, secret that must be gone, what must stay, pattern that counts it)
CASES = [
    (b"login failed user=ops password=hunter2 from 192.0.2.7", b"hunter2",
     b"password=[REDACTED] from", "password"),
    (b'{"user": "ops", "password": "hunter2"}', b"hunter2", b'"password": "[REDACTED]"}', "password"),
    (b"db_passwd: 's3cr3t!x' ok", b"s3cr3t!x", b"db_passwd: '[REDACTED]' ok", "password"),
    (b"GET /api?access_token=tok123&page=2", b"tok123", b"access_token=[REDACTED]&page=2", "password"),
    (b"client_secret=cs-9f8e7d6c", b"cs-9f8e7d6c", b"client_secret=[REDACTED]", "password"),
    (b"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", b"wJalrXUtnFEMI",
     b"key = [REDACTED]", "password"),
    (b"API_KEY=ak_live_123", b"ak_live_123", b"API_KEY=[REDACTED]", "password"),
    (b"> Authorization: Bearer abc.def", b"abc.def", b"Authorization: Bearer [REDACTED]", "authorization"),
    (b"Authorization: Basic dXNlcjpwYXNz", b"dXNlcjpwYXNz", b"Authorization: Basic [REDACTED]",
     "authorization"),
    (b"proxy-authorization: Negotiate YIIGhgYGKwYBBQUC", b"YIIGhgYGKwYBBQUC", b"Negotiate [REDACTED]",
     "authorization"),
    (b"token sent as bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", b"eyJhbGci", b"bearer [REDACTED]",
     "bearer"),
    (b"fetch https://deploy:pa55w0rd@git.example.com/repo.git", b"pa55w0rd",
     b"https://deploy:[REDACTED]@git.example.com", "url_credentials"),
    (b"using key AKIAIOSFODNN7EXAMPLE for s3", b"AKIAIOSFODNN7EXAMPLE", b"using key [REDACTED] for s3",
     "aws_access_key_id"),
]


@pytest.mark.parametrize("line, secret, kept, pattern", CASES)
def test_builtin_patterns_remove_the_secret_and_keep_the_context(line, secret, kept, pattern):
    redactor = Redactor()
    cleaned = redactor.redact(line)
    assert secret not in cleaned
    assert kept in cleaned
    assert redactor.counts[pattern] == 1


def test_private_key_block_is_replaced_whole_across_lines():
    redactor = Redactor()
    text = b"Jan  8 09:12:40 web01 app: loaded\n" + PRIVATE_KEY + b"Jan  8 09:12:41 web01 app: next\n"
    cleaned = redactor.redact(text)
    assert b"b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ" not in cleaned
    assert cleaned == b"Jan  8 09:12:40 web01 app: loaded\n" + MASK + b"\nJan  8 09:12:41 web01 app: next\n"
    assert redactor.counts["private_key"] == 1


def test_a_private_key_block_cut_short_is_replaced_up_to_its_end():
    redactor = Redactor()
    cut = PRIVATE_KEY[:PRIVATE_KEY.index(b"QyNTUxOQ")]
    line = b"2026-01-08T09:12:40Z app: key\n"
    assert redactor.redact(line + cut) == line + MASK + b"\n"


def test_a_private_key_in_a_journal_message_is_replaced_with_its_indented_lines():
    indent = b" " * 46
    message = (
        b"2026-01-08T09:12:40.000001+0000 web01 app[3]: loaded -----BEGIN EC PRIVATE KEY-----\n"
        + indent + b"Proc-Type: 4,ENCRYPTED\n"
        + indent + b"MHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY/PuoAoGCCqGSM49\n"
        + indent + b"-----END EC PRIVATE KEY-----\n"
        b"2026-01-08T09:12:41.000001+0000 web01 app[3]: next\n"
    )
    assert Redactor().redact(message) == (
        b"2026-01-08T09:12:40.000001+0000 web01 app[3]: loaded " + MASK + b"\n"
        b"2026-01-08T09:12:41.000001+0000 web01 app[3]: next\n"
    )


def test_a_value_stops_at_the_end_of_its_line():
    cleaned = Redactor().redact(b"password=\nnext line stays\n")
    assert cleaned == b"password=\nnext line stays\n"


def test_lines_without_secrets_are_unchanged_and_nothing_is_counted():
    redactor = Redactor()
    text = b"2026-01-08T09:12:40+00:00 web01 nginx[1]: GET /index.html 200\nthe password policy changed\n"
    assert redactor.redact(text) == text
    assert sum(redactor.counts.values()) == 0


def test_a_secret_already_redacted_is_not_counted_again():
    redactor = Redactor()
    once = redactor.redact(b"password=hunter2")
    again = redactor.redact(once)
    assert again == once == b"password=[REDACTED]"
    assert redactor.counts["password"] == 1


def test_custom_pattern_with_a_group_replaces_the_group_only():
    redactor = Redactor(extra=[r"(?i)x-session:[ \t]*(\S+)"])
    assert redactor.redact(b"X-Session: zz9") == b"X-Session: [REDACTED]"
    assert redactor.counts["custom_1"] == 1


def test_custom_pattern_without_groups_replaces_the_whole_match():
    redactor = Redactor(extra=[r"ssn-\d{3}-\d{2}-\d{4}"])
    assert redactor.redact(b"id ssn-123-45-6789 end") == b"id [REDACTED] end"
    assert redactor.counts["custom_1"] == 1


def test_builtin_patterns_can_be_switched_off():
    redactor = Redactor(builtin=False, extra=[r"hunter\d"])
    assert redactor.redact(b"password=abc hunter2") == b"password=abc [REDACTED]"
    assert list(redactor.counts) == ["custom_1"]


@pytest.mark.parametrize("pattern, message", [
    ("(unclosed", "redaction pattern custom_1 ('(unclosed') is not a valid regular expression"),
    ("a*", "redaction pattern custom_1 ('a*') matches empty text"),
    ("", "redaction pattern custom_1 is empty"),
])
def test_bad_custom_patterns_are_refused_with_their_name(pattern, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
        Redactor(extra=[pattern])


def test_a_text_redacted_again_without_counting_leaves_the_counts_alone():
    redactor = Redactor()
    redactor.redact(b"password=hunter2")
    assert redactor.redact(b"token=t0k3n", count=False) == b"token=[REDACTED]"
    assert redactor.counts["password"] == 1


FRAGMENTS = [
    b"password=hunter2", b"PASSWORD: 'x y'", b"db_passwd=s3", b"passphrase = p", b"pwd:abc",
    b"my_secret=z", b"access_token=t1", b"API-KEY=k", b"apikey: v", b"AccessKey=A1", b"private_key='pk'",
    b"credentials=c", b"Authorization: Bearer abc.def", b"PROXY-AUTHORIZATION: Basic Zm9v",
    b"authorization=tok", b"bearer  xyz", b"https://u:p4ss@h/x", b"AKIAIOSFODNN7EXAMPLE",
    b"ASIA1234567890ABCDEF", b"bypass", b"keyboard", b"api/v1", b"token", b"=", b":", b" ", b"\t", b"\n",
    b"'", b'"', b"-", b"_", b"key", b"pass", b"word",
]


def whole_text_redaction(data):
    """What the built-in patterns replace when each is applied to the whole text, as a reference."""
    reference = Redactor()
    for _name, regex, _anchors in reference.patterns:
        data = regex.sub(lambda match: reference._masked(None, match), data)
    return data


def test_anchors_find_every_match_the_whole_text_regexes_find():
    generator = random.Random(20260108)  # noqa: S311 - a fixed seed, so that a failure can be replayed
    for _round in range(300):
        data = b"".join(generator.choice(FRAGMENTS) for _fragment in range(generator.randint(1, 40)))
        assert Redactor().redact(data) == whole_text_redaction(data), data
