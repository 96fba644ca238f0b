#!/usr/bin/env bash
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Build the HTML documentation into build/docs: the user guides (docs/*.md), the reference of
# every module, role and plugin of the opsrun.ops collection (antsibull-docs) and the release
# notes of the next release (antsibull-changelog). Any warning fails the build.
#
#   docs/build.sh
#
# The changelog fragments are linted, then released into a temporary copy of the collection:
# the repository's changelogs/ stays as it is. antsibull-docs, antsibull-changelog and
# sphinx-build (with myst-parser and sphinx-ansible-theme) are taken from PATH.
set -euo pipefail

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
stage="$repo/build/docs-src"
out="$repo/build/docs"
# .dev/ansible_collections/opsrun/ops is this checkout: ansible-doc finds the collection there.
export ANSIBLE_COLLECTIONS_PATH="$repo/.dev"

work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT

rm -rf -- "$stage" "$out"
# antsibull-docs writes only into a directory that no one else may write to.
mkdir -p -m 0755 "$stage"
chmod 0755 "$stage"

echo "== reference of the opsrun.ops collection (antsibull-docs)"
antsibull-docs collection --use-current --fail-on-error --no-add-antsibull-docs-version \
    --dest-dir "$stage" opsrun.ops

echo "== release notes (antsibull-changelog)"
(cd "$repo" && antsibull-changelog lint)
version=$(sed -n 's/^version: *//p' "$repo/galaxy.yml")
release="$work/collection"
mkdir "$release"
cp -R "$repo/galaxy.yml" "$repo/meta" "$repo/plugins" "$repo/roles" "$repo/playbooks" \
    "$repo/changelogs" "$release/"
# The summary of a real release is written when it is made; these notes are of what is not released.
printf 'release_summary: Changes since the last release of opsrun.ops, not yet released as %s.\n' \
    "$version" > "$release/changelogs/fragments/release-summary.yml"
(cd "$release" && antsibull-changelog release --version "$version")
cp "$release/CHANGELOG.md" "$stage/changelog.md"

echo "== user guides"
mkdir -p "$stage/docs" "$stage/examples"
cp "$repo/docs/index.rst" "$stage/"
cp "$repo"/docs/*.md "$stage/docs/"
# The guides link to the example design.
cp "$repo/examples/ops.yml" "$stage/examples/"

echo "== HTML (sphinx-build)"
sphinx-build -W --keep-going -n -q -b html -c "$repo/docs" "$stage" "$out"
echo "docs: $out/index.html"
