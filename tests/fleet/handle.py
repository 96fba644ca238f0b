"""A Python handle on the test fleet, for pytest fixtures and benchmarks.

It drives the `fleet` command next to this file, so tests and people use the same interface.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLEET_COMMAND = Path(__file__).resolve().parent / "fleet"
# The collection of this checkout, searched before any installed copy of opsrun.ops.
CHECKOUT_COLLECTIONS = Path(__file__).resolve().parents[2] / ".dev"
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"


@dataclass
class Fleet:
    """A running fleet: its control directory and the environment that selects it."""

    ctl: Path
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def up(cls, count: int, *, systemd: int = 0, name: str | None = None, subnet: str | None = None) -> Fleet:
        """Start COUNT hosts; name and subnet default to FLEET_NAME / FLEET_SUBNET, else orf / 10.213.0."""
        env = {"FLEET_NAME": name or os.environ.get("FLEET_NAME", "orf"),
               "FLEET_SUBNET": subnet or os.environ.get("FLEET_SUBNET", "10.213.0")}
        result = subprocess.run(
            [str(FLEET_COMMAND), "up", str(count), "--systemd", str(systemd)],
            env={**os.environ, **env}, capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"fleet up {count} failed ({result.returncode}):\n{result.stderr}")
        return cls(ctl=Path(result.stdout.strip().splitlines()[-1]), env=env)

    def down(self) -> None:
        self.fleet("down", check=True)

    @property
    def inventory(self) -> Path:
        return self.ctl / "inventory.ini"

    @property
    def ansible_cfg(self) -> Path:
        return self.ctl / "ansible.cfg"

    @property
    def hosts(self) -> list[dict[str, str]]:
        return list(json.loads((self.ctl / "hosts.json").read_text()))

    def names(self, init: str | None = None) -> list[str]:
        return [h["name"] for h in self.hosts if init is None or h["init"] == init]

    def controller_env(self) -> dict[str, str]:
        """os.environ with the fleet's ansible.cfg in effect, as `fleet run` sets it.

        Ansible finds this checkout's collection first, so tests never run an installed copy.
        """
        return {**os.environ, **self.env, "ANSIBLE_CONFIG": str(self.ansible_cfg),
                "ANSIBLE_COLLECTIONS_PATH": str(CHECKOUT_COLLECTIONS)}

    def fleet(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(FLEET_COMMAND), *args], env={**os.environ, **self.env},
                              capture_output=True, text=True, check=check)

    def sh(self, host: str, command: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a shell command inside HOST (fault injection and asserts)."""
        result = self.fleet("sh", host, command)
        if check and result.returncode != 0:
            raise AssertionError(f"on {host}: {command!r} exited {result.returncode}: {result.stderr}")
        return result

    def boot_id(self, host: str) -> str:
        """HOST's current boot_id, read inside the host as any program there would."""
        return self.sh(host, "cat /proc/sys/kernel/random/boot_id").stdout.strip()

    def reboot(self, host: str) -> str:
        """Reboot HOST with its own reboot command; return the new boot_id once it answers again."""
        result = self.fleet("reboot", host)
        if result.returncode != 0:
            raise AssertionError(f"fleet reboot {host} exited {result.returncode}: {result.stderr}")
        return result.stdout.strip().splitlines()[-1]

    def run(self, *argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """Run a controller-side command with the fleet's ansible.cfg in effect."""
        return subprocess.run(list(argv), env=self.controller_env(), capture_output=True, text=True,
                              check=False, cwd=cwd)

    def run_module(self, workdir: Path, hosts: list[str], module: str, args: dict[str, Any], *,
                   check: bool = False, task_vars: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
        """Run MODULE on HOSTS over SSH with ansible-playbook; return each host's registered result.

        The playbook is written as JSON (which YAML reads as it is), so no argument is templated
        into text, and each result is saved on the controller, also when the module failed.
        """
        run = workdir / f"run-module-{uuid.uuid4().hex[:12]}"
        results = run / "results"
        results.mkdir(parents=True)
        save = {"content": "{{ module_result | to_json }}", "mode": "0600",
                "dest": f"{results}/{{{{ inventory_hostname }}}}.json"}
        play = [{
            "name": f"Run {module}",
            "hosts": ":".join(hosts),
            "gather_facts": False,
            "tasks": [
                {"name": "Run the module", module: args, "vars": task_vars or {},
                 "register": "module_result", "ignore_errors": True},
                {"name": "Save the result on the controller", "ansible.builtin.copy": save,
                 "delegate_to": "localhost", "check_mode": False,
                 "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"}},
            ],
        }]
        playbook = run / "run-module.yml"
        playbook.write_text(json.dumps(play))
        done = self.run(str(ANSIBLE_PLAYBOOK), *(["--check"] if check else []), str(playbook), cwd=run)
        missing = [host for host in hosts if not (results / f"{host}.json").exists()]
        assert done.returncode == 0 and not missing, done.stdout + done.stderr
        return {host: json.loads((results / f"{host}.json").read_text()) for host in hosts}
