#!/usr/bin/env bash
# Run `ansible-test sanity` and `ansible-test units` for the opsrun.ops collection in virtual
# environments that ansible-test manages itself (--venv): no Docker, and no host other than the
# Python package index.
#
# Usage: tests/ansible-test.sh [sanity] [units]    (no argument: sanity, then units)
#
# Tools come from the active environment: $VENV/bin when VENV is set, otherwise PATH
# (ansible-test, ansible-galaxy). PYTHON (default: python3) must be the interpreter that has
# ansible-core installed; it also runs pip to fill ansible-test's download cache.
set -euo pipefail

# The controller Python of the project (pyproject.toml: requires-python >= 3.11).
readonly PYTHON_VERSION=3.11
# Where ansible-test caches the get-pip.py script it bootstraps pip with; see bootstrap() in
# ansible_test/_util/target/setup/requirements.py.
readonly ANSIBLE_TEST_CACHE="${HOME}/.ansible/test/cache"
# First line of the stand-in bootstrap script below, to recognise it in the cache.
readonly BOOTSTRAP_MARKER='# pip bootstrap for ansible-test, installed from the package index by tests/ansible-test.sh'

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly repo_root

if [[ -n "${VENV:-}" ]]; then
    PATH="${VENV}/bin:${PATH}"
fi
PYTHON="${PYTHON:-python3}"

fail() {
    printf 'tests/ansible-test.sh: %s\n' "$*" >&2
    exit 1
}

usage() {
    printf 'usage: tests/ansible-test.sh [sanity] [units]\n' >&2
    exit 2
}

require_tools() {
    local tool
    for tool in ansible-test ansible-galaxy "${PYTHON}"; do
        command -v "${tool}" >/dev/null \
            || fail "${tool} not found; activate the project's virtual environment or set VENV"
    done
    "${PYTHON}" -c 'import ansible_test' 2>/dev/null \
        || fail "${PYTHON} cannot import ansible_test; set PYTHON to the interpreter that has ansible-core"
}

# ansible-test creates each virtual environment without pip, then installs pip into it by running
# a get-pip.py script that it downloads from a host outside the package index and keeps as
# ~/.ansible/test/cache/get_pip_<version>.py. A cached script is used as it is, so on a machine
# that reaches only the package index (CI included) a stand-in goes there: it installs the same
# pip release from the wheel that pip itself fetched from the index. A real get-pip.py already in
# the cache is left alone.
seed_pip_bootstrap() {
    local pip_version script wheel_dir wheel download_dir
    pip_version=$("${PYTHON}" - "${PYTHON_VERSION}" <<'EOF'
import sys
import types

from ansible_test._internal.python_requirements import get_venv_packages

print(get_venv_packages(types.SimpleNamespace(version=sys.argv[1]))["pip"])
EOF
    ) || fail "cannot read from ansible_test which pip version it bootstraps; has its source changed?"
    script="${ANSIBLE_TEST_CACHE}/get_pip_${pip_version//./_}.py"
    wheel_dir="${ANSIBLE_TEST_CACHE}/get_pip_wheels"
    wheel="${wheel_dir}/pip-${pip_version}-py3-none-any.whl"

    if [[ -f "${script}" ]] && ! grep -qxF "${BOOTSTRAP_MARKER}" "${script}"; then
        return
    fi

    mkdir -p "${wheel_dir}"
    if [[ ! -f "${wheel}" ]]; then
        download_dir=$(mktemp -d "${wheel_dir}/download.XXXXXX")
        "${PYTHON}" -m pip download --quiet --disable-pip-version-check --no-deps \
            --only-binary=:all: --dest "${download_dir}" "pip==${pip_version}"
        [[ -f "${download_dir}/${wheel##*/}" ]] \
            || fail "pip download did not produce ${wheel##*/} in ${download_dir}"
        mv "${download_dir}/${wheel##*/}" "${wheel}"
        rm -r "${download_dir}"
    fi

    if [[ ! -f "${script}" ]]; then
        # The stand-in finds its wheel from its own file name, so the text is the same for
        # every pip version. ansible-test passes it get-pip.py's arguments: pip's options, the
        # pinned pip requirement and --no-setuptools/--no-wheel, which only get-pip.py knows.
        cat >"${script}.tmp" <<EOF
${BOOTSTRAP_MARKER}
EOF
        cat >>"${script}.tmp" <<'EOF'
"""Install pip into the running interpreter from a wheel fetched from the package index."""
import os
import sys

GET_PIP_ONLY_OPTIONS = ("--no-setuptools", "--no-wheel")


def main():
    cache_dir = os.path.dirname(os.path.abspath(__file__))
    stem = os.path.splitext(os.path.basename(__file__))[0]
    version = stem[len("get_pip_"):].replace("_", ".")
    wheel_dir = os.path.join(cache_dir, "get_pip_wheels")
    wheel = os.path.join(wheel_dir, "pip-%s-py3-none-any.whl" % version)
    if not os.path.isfile(wheel):
        sys.exit("%s is missing: run tests/ansible-test.sh again to fetch it" % wheel)
    sys.path.insert(0, wheel)
    from pip._internal.cli.main import main as pip_main

    arguments = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_OPTIONS]
    sys.exit(pip_main(["install", "--upgrade", "--force-reinstall", "--no-index",
                       "--find-links", wheel_dir] + arguments))


if __name__ == "__main__":
    main()
EOF
        mv "${script}.tmp" "${script}"
    fi
}

# The collection exactly as it is published: built with galaxy.yml's build_ignore and installed
# as <workdir>/collections/ansible_collections/opsrun/ops, the layout ansible-test requires.
# That tree is not a git checkout, so ansible-test takes every file in it as content. --force,
# because ansible-galaxy would otherwise skip the install when it finds opsrun.ops elsewhere
# (a development install of the opsrun package puts one on the Python path).
install_collection() {
    local tarballs
    ansible-galaxy collection build --output-path "${workdir}/build" "${repo_root}" >/dev/null
    tarballs=("${workdir}"/build/opsrun-ops-*.tar.gz)
    [[ ${#tarballs[@]} -eq 1 && -f "${tarballs[0]}" ]] \
        || fail "expected one collection tarball in ${workdir}/build, found: ${tarballs[*]}"
    ANSIBLE_COLLECTIONS_PATH="${workdir}/collections" ansible-galaxy collection install \
        --offline --no-deps --force -p "${workdir}/collections" "${tarballs[0]}" >/dev/null
    collection_root="${workdir}/collections/ansible_collections/opsrun/ops"
    [[ -f "${collection_root}/MANIFEST.json" ]] || fail "collection not installed at ${collection_root}"
}

run_sanity() {
    echo "== ansible-test sanity (Python ${PYTHON_VERSION})"
    (cd "${collection_root}" && ansible-test sanity --venv --python "${PYTHON_VERSION}" --color no)
}

# A collection without unit tests is not an error here, but only when ansible-test says exactly
# that: "Cannot run unit tests without tests/unit/" (exit status 1) when the built collection has
# no tests/unit/, or the warning "All targets skipped." (exit status 0) when it has no test file
# there. Once a test_*.py file exists, either message means tests did not run, and that fails.
run_units() {
    local log status=0 has_tests=no
    echo "== ansible-test units (Python ${PYTHON_VERSION})"
    if [[ -n "$(find "${collection_root}/tests/unit" -name 'test_*.py' -print -quit 2>/dev/null)" ]]; then
        has_tests=yes
    fi
    log="${workdir}/units.log"
    (cd "${collection_root}" && ansible-test units --venv --python "${PYTHON_VERSION}" --color no) 2>&1 \
        | tee "${log}" || status=$?

    if [[ "${has_tests}" == no ]] && {
        { [[ ${status} -eq 1 ]] && grep -qxF 'FATAL: Cannot run unit tests without "tests/unit/".' "${log}"; } \
            || { [[ ${status} -eq 0 ]] && grep -qxF 'WARNING: All targets skipped.' "${log}"; }
    }; then
        echo "The collection has no unit tests yet (tests/unit/plugins/): nothing to run."
        return 0
    fi
    if [[ ${status} -eq 0 ]] && grep -qxF 'WARNING: All targets skipped.' "${log}"; then
        fail "ansible-test units skipped every unit test of the collection"
    fi
    return "${status}"
}

# pytest, run by ansible-test units, keeps its temporary directories in
# /tmp/pytest-of-<user>/pytest-<N>: ansible-test passes no TMPDIR on, so they cannot be moved.
# Other pytest runs of the same user share that directory, so only the numbered directories that
# appeared during this run go, and of those only the ones without pytest's .lock file (a pytest
# still running holds one).
record_pytest_tmp() {
    local entry
    pytest_tmp="/tmp/pytest-of-$(id -un)"
    declare -gA pytest_tmp_before=()
    for entry in "${pytest_tmp}"/pytest-[0-9]*; do
        pytest_tmp_before["${entry##*/}"]=1
    done
}

remove_pytest_tmp() {
    local entry
    for entry in "${pytest_tmp}"/pytest-[0-9]*; do
        if [[ -d "${entry}" && -z "${pytest_tmp_before["${entry##*/}"]:-}" && ! -e "${entry}/.lock" ]]; then
            rm -rf "${entry}"
        fi
    done
    if [[ -L "${pytest_tmp}/pytest-current" && ! -e "${pytest_tmp}/pytest-current" ]]; then
        rm -f "${pytest_tmp}/pytest-current"
    fi
    if [[ -d "${pytest_tmp}" ]]; then
        rmdir --ignore-fail-on-non-empty "${pytest_tmp}"
    fi
}

cleanup() {
    rm -rf "${workdir}"
    remove_pytest_tmp
}

main() {
    local commands=("$@") command failed=()
    if [[ ${#commands[@]} -eq 0 ]]; then
        commands=(sanity units)
    fi
    for command in "${commands[@]}"; do
        [[ "${command}" == sanity || "${command}" == units ]] || usage
    done

    require_tools

    record_pytest_tmp
    workdir=$(mktemp -d "${TMPDIR:-/tmp}/opsrun-ansible-test.XXXXXX")
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    seed_pip_bootstrap
    install_collection
    # Every requested test type runs, so that one report shows all failures.
    for command in "${commands[@]}"; do
        "run_${command}" || failed+=("${command}")
    done
    if [[ ${#failed[@]} -gt 0 ]]; then
        fail "ansible-test failed: ${failed[*]}"
    fi
}

main "$@"
