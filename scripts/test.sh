#!/usr/bin/env bash
# Installs what the tests need, runs every test of the solution and ends with one line
# "N passed, N failed, N skipped" summed over all test assemblies. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

status=0
dotnet test Welkin.slnx -c Release \
    --logger "console;verbosity=minimal" \
    --logger "trx" \
    --results-directory "$results" || status=$?

# One TRX file per test assembly; its <Counters> element holds that assembly's totals
# (a skipped test counts in "total" but not in "executed").
totals=$(cat "$results"/*.trx 2>/dev/null | grep -o '<Counters [^>]*>' | awk '
    function count(name,   m) { return match($0, name "=\"[0-9]+\"") ? substr($0, RSTART + length(name) + 2, RLENGTH - length(name) - 3) + 0 : 0 }
    { passed += count("passed"); failed += count("failed") + count("error") + count("timeout") + count("aborted"); skipped += count("total") - count("executed"); files++ }
    END { printf "%d %d %d %d", passed, failed, skipped, files }')
read -r passed failed skipped files <<< "${totals:-0 0 0 0}"

if [ "$files" -eq 0 ] && [ "$status" -eq 0 ]; then
    echo "test.sh: no test results were written" >&2
    status=1
fi
if [ "$failed" -gt 0 ] && [ "$status" -eq 0 ]; then
    status=1
fi

echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
