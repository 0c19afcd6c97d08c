#!/usr/bin/env bash
# What git stores of a notebook: everything, outputs and execution counts included (the
# tests compare them), except what differs from machine to machine with no change to the
# notebook: the Python patch version JupyterLab writes into `language_info` when it opens
# a notebook, and nbclient's per-cell execution timestamps (nbstripout's defaults).
#
#   bash scripts/nbstripout.sh NOTEBOOK...      normalise files in place
#   bash scripts/nbstripout.sh < in > out       as git's clean filter (.gitattributes)
#
# `make venv` registers it as the clean filter, so opening a notebook in JupyterLab (which
# then autosaves it with your Python's version) leaves `git status` clean.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
nbstripout="${here}/.venv/bin/nbstripout"
[ -x "${nbstripout}" ] || nbstripout=nbstripout
exec "${nbstripout}" --keep-output --keep-count --keep-id \
    --extra-keys "metadata.language_info.version" "$@"
