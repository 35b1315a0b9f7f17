#!/bin/bash
# Container entry point: migrate the database, then run the requested liaison command.
#
#   docker run IMAGE                 -> liaison db upgrade, then liaison run
#   docker run IMAGE console         -> liaison db upgrade, then liaison console
#   docker run IMAGE db upgrade      -> liaison db upgrade (once)
#   docker run IMAGE -c FILE run     -> both steps use FILE
#   docker run IMAGE run -c FILE     -> both steps use FILE too
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

# `--config FILE` may also follow the command (`console -c FILE`): the migration reads it too.
migrate=("${globals[@]}")
rest=("$@")
for ((i = 0; i < ${#rest[@]}; i++)); do
    case "${rest[i]}" in
        -c | --config) migrate+=("${rest[i]}" "${rest[i + 1]:-}") ;;
        --config=*) migrate+=("${rest[i]}") ;;
    esac
done

case "${1:-}" in
    db | --help | "") ;; # a migration command itself, or just help: nothing to do first
    *)
        if [[ "${MIGRATE_ON_START:-1}" != "0" ]]; then
            liaison "${migrate[@]}" db upgrade
        fi
        ;;
esac

exec liaison "${globals[@]}" "$@"
