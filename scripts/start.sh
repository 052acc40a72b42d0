#!/usr/bin/env bash
# Starts a Welkin server in the foreground; arguments go to the server, e.g.
#   scripts/start.sh --port 8080 --data-dir ./data
#   scripts/start.sh --database postgresql --connection-string "Host=...;Database=welkin"
set -euo pipefail
here=$PWD
cd "$(dirname "$0")/.."

# The one system package the server itself needs: the typeface of invoice PDFs.
if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSansCondensed.ttf ] && command -v apt-get >/dev/null; then
    apt-get install -y -qq fonts-dejavu-core >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq fonts-dejavu-core; }
fi

dotnet build src/Welkin.Server -c Release --nologo --verbosity quiet
# 'dotnet run' would run the server from its project folder; the data directory is resolved
# against the folder this script was started from instead (./data by default), as documented.
data_dir=${WELKIN_DATA_DIR:-$here/data}
cd "$here"
exec dotnet run --no-build --project "$OLDPWD/src/Welkin.Server" -c Release -- --data-dir "$data_dir" "$@"
