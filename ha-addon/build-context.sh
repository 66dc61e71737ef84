#!/usr/bin/env bash
# ==============================================================================
# Assembles a self-contained app folder for a local build by the Supervisor.
#
# Usage: ha-addon/build-context.sh DEST
#
# The Supervisor builds an app with the app's own folder as the Docker build context,
# and from the app folder alone ha-addon/Dockerfile builds the released tag (SOURCE=git).
# To build this checkout instead (your own changes), DEST gets the app files (config.yaml
# without its image: line, so the Supervisor builds instead of pulling; the Dockerfile with
# SOURCE=context) plus what that build copies (Cargo.toml, Cargo.lock, src/,
# ha-addon/rootfs/). Copy DEST to /addons/doorbell_bridge on the Home Assistant host;
# see DOCS.md, "Building the app on your own machine". DEST must be outside this repository: a second
# config.yaml in the repository would be a second app to the Supervisor.
# ==============================================================================
set -o errexit -o nounset -o pipefail

dest="${1:?usage: ha-addon/build-context.sh DEST}"
app_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(cd "${app_dir}/.." && pwd -P)
if ! grep -qx 'ARG SOURCE=git' "${app_dir}/Dockerfile"; then
    echo "build-context.sh: ${app_dir}/Dockerfile has no 'ARG SOURCE=git' line to switch" >&2
    exit 1
fi

# Resolved without creating anything yet: the parent folder must exist.
parent=$(cd "$(dirname "${dest}")" && pwd -P)
dest="${parent}/$(basename "${dest}")"
case "${dest}/" in
"${repo}/"*)
    echo "build-context.sh: ${dest} is inside the repository; choose a folder outside it" >&2
    exit 2
    ;;
esac
mkdir -p "${dest}"
if [[ -n "$(ls -A "${dest}")" ]]; then
    echo "build-context.sh: ${dest} is not empty; choose a new or empty folder" >&2
    exit 2
fi

# The app files, as the Supervisor expects them in the app folder.
for f in DOCS.md README.md CHANGELOG.md; do
    cp "${app_dir}/${f}" "${dest}/"
done
cp -R "${app_dir}/translations" "${dest}/"
for f in icon.png logo.png apparmor.txt; do
    if [[ -f "${app_dir}/${f}" ]]; then
        cp "${app_dir}/${f}" "${dest}/"
    fi
done
# No image: the Supervisor then builds the Dockerfile on the host.
sed '/^image:/d' "${app_dir}/config.yaml" >"${dest}/config.yaml"
# Build what is copied below, not the released tag (the Supervisor passes no SOURCE).
sed 's/^ARG SOURCE=git$/ARG SOURCE=context/' "${app_dir}/Dockerfile" >"${dest}/Dockerfile"

# What the Dockerfile copies, at the paths it copies them from.
cp "${repo}/Cargo.toml" "${repo}/Cargo.lock" "${dest}/"
cp -R "${repo}/src" "${dest}/src"
mkdir -p "${dest}/ha-addon"
cp -R "${app_dir}/rootfs" "${dest}/ha-addon/rootfs"

echo "app folder ready: ${dest}"
