#!/usr/bin/env bash
# Starts a Welkin server in the foreground; arguments go to the server, e.g.
#   scripts/start.sh --port 8080 --data-dir ./data
#   scripts/start.sh --database postgresql --connection-string "Host=...;Database=welkin"
set -euo pipefail
cd "$(dirname "$0")/.."

dotnet restore src/Welkin.Server --verbosity quiet
exec dotnet run --project src/Welkin.Server -c Release -- "$@"
