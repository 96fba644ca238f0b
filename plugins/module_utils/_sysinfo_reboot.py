# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether the host needs a reboot, and why, as the distribution's own tools record it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo import SectionError, read_text

REBOOT_REQUIRED_FILES = ('/run/reboot-required', '/var/run/reboot-required')
DEBIAN_MARKER = '/etc/debian_version'
_BULLET = re.compile(r'^\s*\*\s+(\S+)')


def parse_reboot_required(text, pkgs_text=''):
    """Debian's /run/reboot-required (a message) and reboot-required.pkgs (one package a line).

    Returns ``(reasons, packages)``; packages keep their first-seen order without repeats.
    """
    reasons = [line.strip(' \t*') for line in text.splitlines() if line.strip(' \t*')]
    packages = []
    for line in pkgs_text.splitlines():
        name = line.strip()
        if name and name not in packages:
            packages.append(name)
    return reasons, packages


def parse_needs_restarting(rc, text):
    """``needs-restarting -r`` (dnf-utils/yum-utils): rc 1 means a reboot is needed.

    Returns ``(required, reasons, packages)``.
    """
    if rc not in (0, 1):
        raise SectionError('needs-restarting -r failed (rc=%d): %s' % (rc, text.strip()))
    if rc == 0:
        return False, [], []
    packages = []
    reasons = []
    for line in text.splitlines():
        bullet = _BULLET.match(line)
        if bullet:
            packages.append(bullet.group(1))
        elif line.strip() and not line.startswith('More information'):
            reasons.append(line.strip())
    return True, reasons, packages


def gather_reboot(commands, timeout, flag_files=REBOOT_REQUIRED_FILES, debian_marker=DEBIAN_MARKER):
    """The reboot section: Debian's flag file, else ``needs-restarting -r``, else unknown."""
    for flag in flag_files:
        try:
            text = read_text(flag)
        except FileNotFoundError:
            continue
        try:
            pkgs_text = read_text(flag + '.pkgs')
        except FileNotFoundError:
            pkgs_text = ''
        reasons, packages = parse_reboot_required(text, pkgs_text)
        return {'required': True, 'reasons': reasons, 'packages': packages, 'method': flag}
    if os.path.exists(debian_marker):
        return {'required': False, 'reasons': [], 'packages': [], 'method': flag_files[0]}
    tool = commands.which('needs-restarting')
    if tool:
        rc, out, err = commands.run([tool, '-r'], timeout)
        required, reasons, packages = parse_needs_restarting(rc, out + err)
        return {'required': required, 'reasons': reasons, 'packages': packages,
                'method': 'needs-restarting -r'}
    return {'required': None, 'reasons': [], 'packages': [], 'method': None}
