# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for every module test."""

import pytest
from ansible.module_utils import _internal, basic
from ansible.module_utils.testing import patch_module_args


@pytest.fixture(autouse=True)
def runs_on_a_managed_host(monkeypatch):
    """Modules run on managed hosts, where their warnings travel in the result. Importing any
    controller code (a filter or action plugin under test) flags the whole process as the
    controller and sends warnings to the display instead, so each module test resets the flag."""
    monkeypatch.setattr(_internal, 'is_controller', False)


class ModuleExit(Exception):
    """What exit_json and fail_json raise in a module test: the result, and whether it failed."""

    def __init__(self, result, failed):
        super().__init__(result)
        self.result = result
        self.failed = failed


@pytest.fixture
def call_main(monkeypatch):
    """Runs a module's main() as Ansible would, with `run_command(args, **kwargs) -> (rc, out, err)`
    answering for the host and every executable found in /usr/bin; returns (failed, result)."""

    def call(module, params, run_command, check_mode=False):
        def exit_json(self, **result):
            raise ModuleExit(result, failed=False)

        def fail_json(self, msg, **result):
            result['msg'] = msg
            raise ModuleExit(result, failed=True)

        monkeypatch.setattr(basic.AnsibleModule, 'run_command',
                            lambda self, args, **kwargs: run_command(args, **kwargs))
        monkeypatch.setattr(basic.AnsibleModule, 'get_bin_path',
                            lambda self, name, required=False, opt_dirs=None: '/usr/bin/' + name)
        monkeypatch.setattr(basic.AnsibleModule, 'exit_json', exit_json)
        monkeypatch.setattr(basic.AnsibleModule, 'fail_json', fail_json)
        with patch_module_args(dict(params, _ansible_check_mode=check_mode)), \
                pytest.raises(ModuleExit) as raised:
            module.main()
        return raised.value.failed, raised.value.result

    return call
