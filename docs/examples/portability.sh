#!/usr/bin/env bash
# The same work on any Welkin cloud: find an offering by requirement in the public catalog, contract
# for it, run a machine, read its usage, and clean up. Which cloud is chosen by the welkin profile:
#
#   WELKIN_PROFILE=east ./portability.sh
#   WELKIN_PROFILE=west ./portability.sh
#
# The profile needs a credential of an account that may order the offering (see docs/federation.md,
# "A consumer of several clouds"). VCPUS and JURISDICTION set the requirement (default: 2 vCPUs in DE).
set -euo pipefail

vcpus=${VCPUS:-2}
jurisdiction=${JURISDICTION:-DE}
name=${NAME:-portability}

say() { printf '==> %s\n' "$*" >&2; }
fail() { printf 'portability: %s\n' "$*" >&2; exit 1; }

command -v welkin >/dev/null || fail "the welkin command is not on the PATH (docs/cli.md says how to install it)."

profile=$(welkin profile show -o value -c name,endpoint)
say "cloud: ${profile//$'\t'/ at }"

say "finding an offering with ${vcpus} vCPUs in ${jurisdiction}"
found=$(welkin catalog find --vcpus "$vcpus" --jurisdiction "$jurisdiction" -o value -c id,virtualSystem,vcpus)
[[ -n "$found" ]] || fail "no published offering allows at least ${vcpus} vCPUs in ${jurisdiction} on this cloud."
# The fewest vCPUs the offering allows at or above the requirement.
IFS=$'\t' read -r offering system size <<<"${found%%$'\n'*}"
say "offering ${offering} (virtual system ${system}, ${size} vCPUs)"

contract=$(welkin contract request --offering "$offering" --quantity 1 --name "$name" -o value)
welkin contract accept "$contract" -o value -c id,state >/dev/null
say "contract ${contract} accepted"

provisioned=$(welkin instance provision --contract "$contract" --name "$name" --vs "${system}:1:${size}" \
    -o value -c resource.id,job.id)
IFS=$'\t' read -r instance job <<<"$provisioned"
say "provisioning instance ${instance} (job ${job})"
welkin job wait "$job" -o value -c id,state >/dev/null

machine=$(welkin machine list --instance "$instance" -o value -c id)
for ((i = 0; ; i++)); do
    state=$(welkin machine show "$machine" -o value -c state)
    [[ "$state" == running ]] && break
    ((i < 60)) || fail "machine ${machine} is still ${state} after a minute, not running."
    sleep 1
done
say "machine ${machine} is running"

welkin machine show "$machine"
say "access (user, addresses, endpoints):"
welkin machine show "$machine" -o value -c access.user,access.addresses,access.endpoints

say "usage of contract ${contract}"
welkin usage show --contract "$contract"

say "stopping ${machine}"
welkin machine stop "$machine" --wait -o value -c id,state
say "terminating instance ${instance} and contract ${contract}"
welkin instance terminate "$instance" --wait -o value -c id,state
welkin contract terminate "$contract" --reason "portability script done" --wait -o value -c id,state

printf 'offering=%s contract=%s instance=%s machine=%s\n' "$offering" "$contract" "$instance" "$machine"
