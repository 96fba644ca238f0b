# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Health findings: the results of system_info, log_scan and probe measured against thresholds.

Pure functions, run on the controller by the opsrun.ops.health_findings action and the
opsrun.ops.health_report filter. A finding is a dict with the keys of :func:`finding`.

Statuses rise in severity ok < warn < unknown < crit: a check that could not look is worse than a
warning (nobody knows what is wrong) and better than a confirmed critical state.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import re
from xml.etree import ElementTree

STATUSES = ('ok', 'warn', 'unknown', 'crit')
FAIL_ON_CHOICES = ('warn', 'unknown', 'crit', 'never')
_RANK = dict((status, rank) for rank, status in enumerate(STATUSES))
# The codes of the Nagios plugin convention, which most dashboards understand.
PROMETHEUS_CODES = {'ok': 0, 'warn': 1, 'crit': 2, 'unknown': 3}

# The system checks in the order their findings are listed, with the system_info sections they read.
SYSTEM_CHECKS = (
    ('disk', ('filesystems',)),
    ('inodes', ('filesystems',)),
    ('memory', ('memory',)),
    ('swap', ('memory',)),
    ('load', ('cpu',)),
    ('failed_units', ('services',)),
    ('services', ('services',)),
    ('reboot', ('reboot',)),
    ('time', ('time_sync',)),
    ('ports', ('sockets',)),
    ('sensors', ('sensors',)),
)
# system_info's own order of sections, which it also uses for `gathered`.
SECTION_ORDER = ('identity', 'cpu', 'memory', 'filesystems', 'services', 'reboot', 'time_sync', 'sockets',
                 'processes', 'sensors', 'ipmi')
# The keys of a probe target that belong to the health check and are not passed to the probe module.
PROBE_TARGET_KEYS = ('severity', 'expect_down')
PROBE_SEVERITIES = ('warn', 'crit')
SENSOR_LEVELS = ('warn_above', 'crit_above', 'warn_below', 'crit_below')

UNREACHABLE_MESSAGE = 'the host could not be reached: %s'
NO_RESULT_MESSAGE = ('no findings were recorded for this host: it failed or could not be reached before the '
                     'health check ran on it')


def finding(host, check, item, status, *, value=None, threshold=None, message=''):
    """One finding; every finding has exactly these keys."""
    return {'host': host, 'check': check, 'item': item, 'status': status, 'value': value,
            'threshold': threshold, 'message': message}


def rank(status):
    return _RANK[status]


def worst(statuses):
    """The most severe of STATUSES (ok for none)."""
    return max(statuses, key=rank, default='ok')


def reaches(status, fail_on):
    """Whether a finding of this status reaches the fail_on level ('never' is never reached)."""
    return fail_on != 'never' and rank(status) >= rank(fail_on)


def count_by_status(findings):
    counts = dict((status, 0) for status in STATUSES)
    for item in findings:
        counts[item['status']] += 1
    return counts


# ---------------------------------------------------------------- thresholds


def _number(value):
    return value is not None and not isinstance(value, bool) and isinstance(value, (int, float))


def validate_levels(name, levels, higher_is_worse=True):
    """Check a {warn, crit} dict; raise ValueError naming NAME when it cannot work as meant.

    With higher_is_worse (disk use, load) crit must not be below warn; otherwise (free memory, days
    until a certificate expires) crit must not be above warn. Either level may be null (not used).
    """
    if not isinstance(levels, dict):
        raise ValueError('%s must be a dict with the keys warn and crit, not %r' % (name, levels))
    unknown = sorted(set(levels) - {'warn', 'crit'})
    if unknown:
        raise ValueError('%s has unknown keys %s; use warn and crit' % (name, ', '.join(unknown)))
    for key in ('warn', 'crit'):
        if levels.get(key) is not None and not _number(levels[key]):
            raise ValueError('%s.%s must be a number or null, not %r' % (name, key, levels[key]))
    warn, crit = levels.get('warn'), levels.get('crit')
    if warn is not None and crit is not None:
        if higher_is_worse and crit < warn:
            raise ValueError('%s: crit (%s) is below warn (%s); crit must be the worse level, '
                             'at or above warn' % (name, crit, warn))
        if not higher_is_worse and crit > warn:
            raise ValueError('%s: crit (%s) is above warn (%s); lower is worse here, so crit must be '
                             'at or below warn' % (name, crit, warn))
    return {'warn': warn, 'crit': crit}


def level_above(value, levels):
    """crit / warn / ok for a value that is worse the higher it is (a level is reached at equality)."""
    if levels.get('crit') is not None and value >= levels['crit']:
        return 'crit'
    if levels.get('warn') is not None and value >= levels['warn']:
        return 'warn'
    return 'ok'


def level_below(value, levels):
    """crit / warn / ok for a value that is worse the lower it is."""
    if levels.get('crit') is not None and value <= levels['crit']:
        return 'crit'
    if levels.get('warn') is not None and value <= levels['warn']:
        return 'warn'
    return 'ok'


def _describe(levels, unit='', below=False):
    """'warn at 80%, crit at 90%' for the message of a finding."""
    sign = '<= ' if below else ''
    parts = ['%s at %s%s%s' % (key, sign, _plain(levels[key]), unit)
             for key in ('warn', 'crit') if levels.get(key) is not None]
    return ', '.join(parts) or 'no levels set'


def _plain(number):
    """90.0 -> 90, 0.5 -> 0.5: levels as people wrote them."""
    if isinstance(number, float) and number.is_integer():
        return int(number)
    return number


def _matches(text, patterns):
    return any(fnmatch.fnmatchcase(text, pattern) for pattern in patterns)


def _as_floats(levels):
    return dict((key, None if value is None else float(value)) for key, value in levels.items())


def validate_checks(checks):
    """Check what argument specs cannot express; raise ValueError naming the option.

    Per-mount levels, which no spec describes, are normalised to floats in place like the others.
    """
    above = (('disk', 'used_percent'), ('inodes', 'used_percent'), ('swap', 'used_percent'),
             ('load', 'per_cpu'), ('time', 'offset_seconds'))
    for check, key in above:
        if checks.get(check):
            validate_levels('%s.%s' % (check, key), checks[check][key])
    for check in ('disk', 'inodes'):
        if checks.get(check):
            overrides = checks[check].get('mounts') or {}
            checks[check]['mounts'] = dict(
                (mount, _as_floats(validate_levels('%s.mounts[%r]' % (check, mount), levels)))
                for mount, levels in sorted(overrides.items()))
    if checks.get('memory'):
        validate_levels('memory.available_percent', checks['memory']['available_percent'],
                        higher_is_worse=False)
    if checks.get('probes'):
        validate_levels('probes.tls_days_left', checks['probes']['tls_days_left'], higher_is_worse=False)
        for index, target in enumerate(checks['probes']['targets']):
            _validate_target(index, target)
    if checks.get('logs'):
        names = [pattern['name'] for pattern in checks['logs']['patterns']]
        for index, pattern in enumerate(checks['logs']['patterns']):
            validate_levels('logs.patterns[%d] (%s)' % (index, pattern['name']),
                            {'warn': pattern.get('warn'), 'crit': pattern.get('crit')})
            if names.count(pattern['name']) > 1:
                raise ValueError('logs.patterns: the name %r is used more than once; names must be unique'
                                 % pattern['name'])
    if checks.get('sensors'):
        for index, rule in enumerate(checks['sensors']['rules']):
            _validate_sensor_rule(index, rule)


def _validate_target(index, target):
    if not isinstance(target, dict):
        raise ValueError('probes.targets[%d] must be a dict, not %r' % (index, target))
    severity = target.get('severity', 'crit')
    if severity not in PROBE_SEVERITIES:
        raise ValueError('probes.targets[%d].severity must be warn or crit, not %r' % (index, severity))
    if not isinstance(target.get('expect_down', False), bool):
        raise ValueError('probes.targets[%d].expect_down must be true or false, not %r'
                         % (index, target['expect_down']))


def _validate_sensor_rule(index, rule):
    name = 'sensors.rules[%d]' % index
    upper = validate_levels(name + ' (warn_above, crit_above)',
                            {'warn': rule.get('warn_above'), 'crit': rule.get('crit_above')})
    lower = validate_levels(name + ' (warn_below, crit_below)',
                            {'warn': rule.get('warn_below'), 'crit': rule.get('crit_below')},
                            higher_is_worse=False)
    limits = [value for value in (lower['warn'], lower['crit']) if value is not None]
    ceilings = [value for value in (upper['warn'], upper['crit']) if value is not None]
    if limits and ceilings and max(limits) >= min(ceilings):
        raise ValueError('%s: the lower levels (%s) must stay below the upper levels (%s)'
                         % (name, ', '.join(str(v) for v in limits), ', '.join(str(v) for v in ceilings)))


# ---------------------------------------------------------------- what to ask the host


def system_sections(checks):
    """The system_info sections the enabled checks read, in system_info's order."""
    wanted = set()
    for check, sections in SYSTEM_CHECKS:
        if checks.get(check):
            wanted.update(sections)
    if checks.get('sensors') and checks['sensors'].get('ipmi'):
        wanted.add('ipmi')
    return [section for section in SECTION_ORDER if section in wanted]


def system_info_args(checks, section_timeout):
    """Arguments of the one system_info call, or None when no system check is enabled."""
    sections = system_sections(checks)
    if not sections:
        return None
    args = {'gather': sections, 'section_timeout': section_timeout}
    if checks.get('services'):
        args['services'] = list(checks['services']['names'])
    if checks.get('disk') and checks['disk'].get('include_tmpfs'):
        args['include_pseudo_filesystems'] = True
    return args


def log_scan_args(logs):
    """Arguments of the one log_scan call, or None when there is nothing to scan."""
    if not logs or not logs['paths'] or not logs['patterns']:
        return None
    patterns = []
    for pattern in logs['patterns']:
        severity = 'info'
        if pattern.get('crit') is not None:
            severity = 'crit'
        elif pattern.get('warn') is not None:
            severity = 'warn'
        patterns.append({'name': pattern['name'], 'pattern': pattern['pattern'],
                         'regex': bool(pattern.get('regex')), 'ignore_case': bool(pattern.get('ignore_case')),
                         'severity': severity})
    args = {'paths': list(logs['paths']), 'patterns': patterns, 'from_start': bool(logs.get('from_start')),
            'lines': 1, 'max_bytes': logs['max_bytes']}
    if logs.get('state_file'):
        args['state_file'] = logs['state_file']
    return args


def probe_args(probes):
    """Arguments of the one probe call, or None without targets."""
    if not probes or not probes['targets']:
        return None
    targets = [dict((key, value) for key, value in target.items() if key not in PROBE_TARGET_KEYS)
               for target in probes['targets']]
    return {'targets': targets, 'timeout': probes['timeout']}


# ---------------------------------------------------------------- system checks


def _disk_like(check, value_key, what):
    def evaluate(host, settings, system):
        exclude = settings.get('exclude') or []
        overrides = settings.get('mounts') or {}
        for mount in system['filesystems']['mounts']:
            point = mount['mount']
            if _matches(point, exclude):
                continue
            levels = overrides.get(point, settings['used_percent'])
            value = mount.get(value_key)
            if mount.get('error'):
                yield finding(host, check, point, 'unknown', threshold=levels,
                              message='cannot read the %s of %s: %s' % (what, point, mount['error']))
            elif value is not None:
                # None: a filesystem without a fixed number of inodes (btrfs, most network filesystems).
                yield finding(host, check, point, level_above(value, levels), value=value, threshold=levels,
                              message='%s of %s used: %s%% (%s)'
                              % (what, point, value, _describe(levels, '%')))
    return evaluate


def _memory(host, settings, system):
    memory = system['memory']
    levels = settings['available_percent']
    if not memory.get('total_bytes'):
        yield finding(host, 'memory', 'available', 'unknown', threshold=levels,
                      message='the host reports no memory size')
        return
    value = round(100.0 * memory['available_bytes'] / memory['total_bytes'], 1)
    yield finding(host, 'memory', 'available', level_below(value, levels), value=value, threshold=levels,
                  message='memory available: %s%% of %d MiB (%s)'
                  % (value, memory['total_bytes'] // 1048576, _describe(levels, '%', below=True)))


def _swap(host, settings, system):
    memory = system['memory']
    levels = settings['used_percent']
    value = memory['swap_used_percent']
    if not memory.get('swap_total_bytes'):
        yield finding(host, 'swap', 'used', 'ok', value=value, threshold=levels,
                      message='the host has no swap')
        return
    yield finding(host, 'swap', 'used', level_above(value, levels), value=value, threshold=levels,
                  message='swap used: %s%% of %d MiB (%s)'
                  % (value, memory['swap_total_bytes'] // 1048576, _describe(levels, '%')))


def _load(host, settings, system):
    cpu = system['cpu']
    period = settings['period']
    levels = settings['per_cpu']
    value = cpu['load_per_cpu_%d' % period]
    yield finding(host, 'load', 'per_cpu_%dm' % period, level_above(value, levels), value=value,
                  threshold=levels,
                  message='load over %d min per CPU: %s (load %s on %d CPUs; %s)'
                  % (period, value, cpu['load_%d' % period], cpu['count'], _describe(levels)))


def _failed_units(host, settings, system):
    units = system['services'].get('failed_units')
    if units is None:
        # Only systemd keeps failed units; system_info says so in services.note.
        return
    ignored = settings.get('ignore') or []
    failing = [unit for unit in units if not _matches(unit['name'], ignored)]
    for unit in failing:
        state = unit.get('active') or 'failed'
        since = ' since %s' % unit['since'] if unit.get('since') else ''
        yield finding(host, 'failed_units', unit['name'], settings['status'], value=state,
                      message='unit %s (%s) is %s%s'
                      % (unit['name'], unit.get('description') or 'no description', state, since))
    if not failing:
        note = ' (%d ignored)' % len(units) if units else ''
        yield finding(host, 'failed_units', 'all', 'ok', value=0, message='no failed units%s' % note)


def _services(host, settings, system):
    note = system['services'].get('note')
    for service in system['services'].get('named') or []:
        state = service['state']
        if state == 'active':
            status = 'ok'
        elif state == 'unknown':
            status = 'unknown'
        else:
            status = settings['status']
        detail = ''
        if state == 'not-found':
            detail = ' (not installed)'
        elif state == 'unknown' and note:
            detail = ' (%s)' % note
        yield finding(host, 'services', service['name'], status, value=state, threshold='active',
                      message='service %s is %s%s' % (service['name'], state, detail))


def _reboot(host, settings, system):
    reboot = system['reboot']
    if reboot.get('required') is None:
        # The system records no reboot need either way (no flag file, no needs-restarting).
        return
    if not reboot['required']:
        yield finding(host, 'reboot', 'required', 'ok', value=False, threshold=False,
                      message='no reboot is needed')
        return
    why = reboot.get('packages') or reboot.get('reasons') or []
    yield finding(host, 'reboot', 'required', settings['status'], value=True, threshold=False,
                  message='a reboot is needed%s' % (' for ' + ', '.join(why) if why else ''))


def _time(host, settings, system):
    sync = system['time_sync']
    levels = settings['offset_seconds']
    offset = sync.get('offset_seconds')
    tool = sync.get('tool')
    if offset is None:
        if sync.get('synchronized') is True:
            status, message = 'ok', 'the clock is synchronised; %s reports no offset' % tool
        elif sync.get('synchronized') is False:
            status, message = 'warn', 'the clock is not synchronised (%s)' % tool
        else:
            notes = '; '.join(sync.get('notes') or []) or 'no time synchronisation tool answered'
            status, message = 'unknown', 'clock offset unknown: %s' % notes
        yield finding(host, 'time', 'offset', status, threshold=levels, message=message)
        return
    status = level_above(abs(offset), levels)
    message = 'clock offset %+.6f s from %s (%s; %s)' % (
        offset, sync.get('source') or 'its source', tool, _describe(levels, ' s'))
    if sync.get('synchronized') is False:
        status = worst([status, 'warn'])
        message += '; the clock is not synchronised'
    yield finding(host, 'time', 'offset', status, value=offset, threshold=levels, message=message)


def _ports(host, settings, system):
    listening = system['sockets'].get('listening') or []
    for expected in settings['expected']:
        protocol = expected.get('protocol') or 'tcp'
        address = expected.get('address')
        found = [entry for entry in listening
                 if entry['protocol'] == protocol and entry['port'] == expected['port']
                 and (address is None or entry['address'] == address)]
        where = '%s/%d%s' % (protocol, expected['port'], ' on %s' % address if address else '')
        if found:
            owners = ', '.join(sorted(set(entry.get('process') or '?' for entry in found)))
            yield finding(host, 'ports', where, 'ok', value=True, threshold=True,
                          message='%s is listening (%s)' % (where, owners))
        else:
            yield finding(host, 'ports', where, settings['status'], value=False, threshold=True,
                          message='nothing listens on %s' % where)


def _sensor_items(readings):
    """A readable, unique item name per reading: chip (or zone, or ipmi) / label (or sensor)."""
    names = []
    for reading in readings:
        prefix = reading.get('chip') or reading.get('device') or reading.get('source') or 'sensor'
        names.append('%s/%s' % (prefix, reading.get('label') or reading.get('sensor')))
    return [name if names.count(name) == 1
            else '%s (%s/%s)' % (name, reading.get('device'), reading.get('sensor'))
            for name, reading in zip(names, readings, strict=True)]


def _sensor_rule(rules, item, kind):
    for rule in rules:
        if rule.get('kind') in (None, kind) and fnmatch.fnmatchcase(item, rule.get('match') or '*'):
            return rule
    return None


def _sensors(host, settings, system):
    readings = []
    for section in ('sensors', 'ipmi'):
        data = system.get(section)
        if data and 'error' not in data:
            readings.extend(data.get('readings') or [])
    for item, reading in zip(_sensor_items(readings), readings, strict=True):
        rule = _sensor_rule(settings['rules'], item, reading['kind'])
        if rule is None or rule.get('ignore'):
            continue
        threshold = dict((key, rule[key]) for key in SENSOR_LEVELS if rule.get(key) is not None)
        value = reading.get('value')
        if value is None:
            yield finding(host, 'sensors', item, 'unknown', threshold=threshold,
                          message='%s gives no reading: %s' % (item, reading.get('error') or 'no value'))
            continue
        status = worst([level_above(value, {'warn': rule.get('warn_above'), 'crit': rule.get('crit_above')}),
                        level_below(value, {'warn': rule.get('warn_below'), 'crit': rule.get('crit_below')})])
        levels = ', '.join('%s %s' % (key, _plain(level)) for key, level in threshold.items())
        yield finding(host, 'sensors', item, status, value=value, threshold=threshold,
                      message='%s %s: %s %s (%s)' % (reading['kind'], item, value, reading.get('unit') or '',
                                                     levels or 'no levels set'))


_EVALUATORS = {
    'disk': _disk_like('disk', 'used_percent', 'space'),
    'inodes': _disk_like('inodes', 'inodes_used_percent', 'inodes'),
    'memory': _memory,
    'swap': _swap,
    'load': _load,
    'failed_units': _failed_units,
    'services': _services,
    'reboot': _reboot,
    'time': _time,
    'ports': _ports,
    'sensors': _sensors,
}


def _failure_text(result):
    text = result.get('msg') or 'failed without a message'
    stderr = (result.get('module_stderr') or '').strip()
    return '%s: %s' % (text, stderr[-500:]) if stderr else text


def system_findings(host, checks, system):
    """Findings of the enabled system checks from one system_info result.

    A failed call gives one unknown finding per enabled check; a section listed in section_errors
    gives an unknown finding, with the section as item, for each check that reads it.
    """
    findings = []
    errors = system.get('section_errors') or {}
    for check, sections in SYSTEM_CHECKS:
        settings = checks.get(check)
        if not settings:
            continue
        if system.get('failed'):
            findings.append(finding(host, check, 'system_info', 'unknown',
                                    message='system_info failed: %s' % _failure_text(system)))
            continue
        read = (*sections, 'ipmi') if check == 'sensors' and settings.get('ipmi') else sections
        broken = [section for section in read if section in errors]
        findings.extend(finding(host, check, section, 'unknown',
                                message='system_info could not read %s: %s' % (section, errors[section]))
                        for section in broken)
        # Sensors read two sections; the readings of the one that worked are still checked.
        if len(broken) < len(read):
            findings.extend(_EVALUATORS[check](host, settings, system))
    return findings


# ---------------------------------------------------------------- logs and probes


def log_findings(host, logs, scan):
    """One finding per pattern (the count of new matching lines), one per file that could not be read."""
    if scan.get('failed'):
        return [finding(host, 'logs', 'log_scan', 'unknown',
                        message='log_scan failed: %s' % _failure_text(scan))]
    files = scan.get('files') or []
    findings = [finding(host, 'logs', entry['path'], 'unknown',
                        message='cannot read %s: %s' % (entry['path'], entry.get('error')))
                for entry in files if entry.get('status') == 'error']
    scanned = [entry['path'] for entry in files if entry.get('status') in ('scanned', 'unchanged')]
    where = ', '.join(scanned) if scanned else 'none of the log files exists'
    for pattern in logs['patterns']:
        result = scan['patterns'][pattern['name']]
        levels = {'warn': pattern.get('warn'), 'crit': pattern.get('crit')}
        count = result['count']
        message = '%d new line%s matching %r in %s (%s)' % (
            count, '' if count == 1 else 's', pattern['pattern'], where, _describe(levels, ' lines'))
        if result.get('last'):
            last = result['last'][-1]
            # Line numbers are unknown in a file first read from its end (log_scan's from_start=false).
            where_line = '%s:%s' % (last['file'], last['line']) if last.get('line') else last['file']
            message += '; last: %s: %s' % (where_line, last['text'])
        findings.append(finding(host, 'logs', pattern['name'], level_above(count, levels), value=count,
                                threshold=levels, message=message))
    return findings


def probe_findings(host, probes, answer):
    """One finding per target (did it answer as expected), one per TLS certificate (days left)."""
    if answer.get('failed'):
        return [finding(host, 'probes', 'probe', 'unknown',
                        message='probe failed: %s' % _failure_text(answer))]
    findings = []
    days_levels = probes['tls_days_left']
    for target, result in zip(probes['targets'], answer['results'], strict=True):
        expected = 'fail' if target.get('expect_down') else 'ok'
        status = 'ok' if result['status'] == expected else target.get('severity', 'crit')
        if result['status'] == 'ok':
            latency = result.get('latency_ms')
            detail = 'answered%s' % (' in %s ms' % latency if latency is not None else '')
        else:
            detail = 'failed: %s' % result.get('error')
        if target.get('expect_down'):
            detail += ' (expected to fail)'
        findings.append(finding(host, 'probes', result['name'], status, value=result['status'],
                                threshold=expected,
                                message='%s %s %s' % (result['type'], result['target'], detail)))
        days = result.get('days_to_expiry')
        if result['type'] == 'tls' and days is not None:
            findings.append(finding(
                host, 'tls', result['name'], level_below(days, days_levels), value=days,
                threshold=days_levels,
                message='certificate of %s (%s) expires in %d days on %s (%s)'
                % (result['target'], result.get('subject'), days, result.get('not_after'),
                   _describe(days_levels, ' days', below=True))))
    return findings


def reachable_finding(host, error=None):
    if error is None:
        return finding(host, 'reachable', 'connection', 'ok', value=True, threshold=True,
                       message='the host answered')
    return finding(host, 'reachable', 'connection', 'crit', value=False, threshold=True,
                   message=UNREACHABLE_MESSAGE % error)


# ---------------------------------------------------------------- outputs


def fail_reasons(findings, fail_on):
    """Messages of the findings that reach fail_on, most severe first."""
    reached = [item for item in findings if reaches(item['status'], fail_on)]
    reached.sort(key=lambda item: -rank(item['status']))
    return ['%s %s %s: %s' % (item['status'], item['check'], item['item'], item['message'])
            for item in reached]


def _label(text):
    return str(text).replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n')


def prometheus_text(findings, timestamp):
    """The node_exporter textfile of one host's findings (text exposition format)."""
    lines = [
        '# HELP opsrun_health_check_status Status of a health check item: 0 ok, 1 warn, 2 crit, 3 unknown.',
        '# TYPE opsrun_health_check_status gauge',
    ]
    for item in findings:
        lines.append('opsrun_health_check_status{check="%s",item="%s"} %d'
                     % (_label(item['check']), _label(item['item']), PROMETHEUS_CODES[item['status']]))
    lines += [
        '# HELP opsrun_health_check_value Measured value of a health check item, where it is a number.',
        '# TYPE opsrun_health_check_value gauge',
    ]
    for item in findings:
        value = item['value']
        if isinstance(value, bool):
            value = int(value)
        if _number(value):
            lines.append('opsrun_health_check_value{check="%s",item="%s"} %s'
                         % (_label(item['check']), _label(item['item']), repr(float(value))))
    lines += [
        '# HELP opsrun_health_check_last_run_timestamp_seconds When the health check last ran.',
        '# TYPE opsrun_health_check_last_run_timestamp_seconds gauge',
        'opsrun_health_check_last_run_timestamp_seconds %d' % int(timestamp),
    ]
    return '\n'.join(lines) + '\n'


def build_report(results):
    """The report of a run from (host, registered result or None) pairs, in play order.

    A host without a result (it left the play before the check) or whose check failed outright
    gets a finding that says so, so that no host is silently missing.
    """
    findings = []
    hosts = {}
    for host, result in results:
        if not result:
            own = [finding(host, 'reachable', 'connection', 'crit', value=False, threshold=True,
                           message=NO_RESULT_MESSAGE)]
        elif 'findings' not in result:
            own = [finding(host, 'health_check', 'run', 'unknown',
                           message='the health check failed on this host: %s' % _failure_text(result))]
        else:
            own = list(result['findings'])
        hosts[host] = worst(item['status'] for item in own)
        findings.extend(own)
    return {'hosts': hosts, 'summary': count_by_status(findings),
            'worst': worst(hosts.values()), 'findings': findings}


_XML_UNSAFE = re.compile(u'[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]')


def _xml_text(value):
    """Text XML 1.0 can hold: control characters (of log lines, say) are dropped."""
    return _XML_UNSAFE.sub('', u'%s' % (value,))


def junit_xml(report):
    """The report as JUnit XML: a test suite per host, a test case per finding.

    warn and crit findings are failures, unknown ones errors, so that CI dashboards show both.
    """
    root = ElementTree.Element('testsuites', {
        'name': 'opsrun health check', 'tests': str(len(report['findings'])),
        'failures': str(report['summary']['warn'] + report['summary']['crit']),
        'errors': str(report['summary']['unknown']), 'timestamp': report['generated']})
    for host in report['hosts']:
        own = [item for item in report['findings'] if item['host'] == host]
        counts = count_by_status(own)
        suite = ElementTree.SubElement(root, 'testsuite', {
            'name': _xml_text(host), 'tests': str(len(own)), 'failures': str(counts['warn'] + counts['crit']),
            'errors': str(counts['unknown']), 'timestamp': report['generated']})
        for item in own:
            case = ElementTree.SubElement(suite, 'testcase', {
                'classname': _xml_text('%s.%s' % (host, item['check'])),
                'name': _xml_text('%s %s' % (item['check'], item['item']))})
            if item['status'] in ('warn', 'crit'):
                ElementTree.SubElement(case, 'failure',
                                       {'type': item['status'], 'message': _xml_text(item['message'])})
            elif item['status'] == 'unknown':
                ElementTree.SubElement(case, 'error',
                                       {'type': 'unknown', 'message': _xml_text(item['message'])})
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding='unicode') + '\n'
