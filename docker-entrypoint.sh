#!/bin/bash
# Container entry point: migrate the database, then run the requested liaison command.
#
#   docker run IMAGE                 -> liaison db upgrade, then liaison run
#   docker run IMAGE console         -> liaison db upgrade, then liaison console
#   docker run IMAGE db upgrade      -> liaison db upgrade (once)
#   docker run IMAGE -c FILE run     -> both steps use FILE
#
# Set MIGRATE_ON_START=0 to skip the migration step, e.g. when several replicas start at once
# and `db upgrade` runs as a separate release step (docs/operations.md).
set -euo pipefail

# Global options come before the sub-command; the migration must read the same configuration.
globals=()
while (($#)); do
    case "$1" in
        -c | --config)
            globals+=("$1" "${2:?$1 needs a file name}")
            shift 2
            ;;
        --config=* | -v | --verbose)
            globals+=("$1")
            shift
            ;;
        *)
            break
            ;;
    esac
done

case "${1:-}" in
    db | --help | "") ;; # a migration command itself, or just help: nothing to do first
    *)
        if [[ "${MIGRATE_ON_START:-1}" != "0" ]]; then
            liaison "${globals[@]}" db upgrade
        fi
        ;;
esac

exec liaison "${globals[@]}" "$@"
