#!/usr/bin/env bash
# Starts a private Intercloud exchange (Prosody) and three Welkin clouds on loopback, each with its
# own data directory, federation certificate and simulated host pool in its own jurisdiction, and
# waits until every cloud lists the other two as online and trusted. Ctrl-C stops everything it
# started.
#   scripts/federation-demo.sh [--dir DIR] [--base-port N] [--server FILE]
# DIR (default ./federation-demo) is created afresh; the exchange listens on N (default 9100), the
# clouds' APIs on N+1..N+3 and their federation listeners (mutual TLS) on N+11..N+13. FILE is a
# built welkin-server.dll to run instead of building src/Welkin.Server.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
dir=$PWD/federation-demo
base=9100
server=
while [ $# -gt 0 ]; do
    case $1 in
        --dir) dir=$(realpath -m "$2"); shift 2 ;;
        --base-port) base=$2; shift 2 ;;
        --server) server=$(realpath "$2"); shift 2 ;;
        -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "federation-demo: unknown option '$1'" >&2; exit 2 ;;
    esac
done
case $base in
    ''|*[!0-9]*) echo "federation-demo: --base-port takes a number" >&2; exit 2 ;;
esac
if [ "$base" -lt 1024 ] || [ "$base" -gt 65500 ]; then
    echo "federation-demo: --base-port must be between 1024 and 65500" >&2
    exit 2
fi
# DIR is removed and made again: refuse a directory that holds anything but an earlier demo.
if [ -e "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ] && [ ! -f "$dir/.federation-demo" ]; then
    echo "federation-demo: $dir exists and is not a federation demo directory; choose another with --dir" >&2
    exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "federation-demo: run as root (it installs packages and runs Prosody as the prosody user)" >&2
    exit 2
fi

"$repo/scripts/install-deps.sh" >/dev/null
if [ -z "$server" ]; then
    dotnet build "$repo/src/Welkin.Server" -c Release --nologo --verbosity quiet
    server=$repo/src/Welkin.Server/bin/Release/net10.0/welkin-server.dll
fi

domain=exchange.welkin.test
# name, XMPP user, jurisdiction, region: one simulated pool per cloud, labelled with its place.
clouds=("ProviderCo-US us US us-east" "ProviderCo-DE de DE eu-central" "CloudCoC coc GB uk-south")
pids=()
exchange=
stopped=
stop() {
    [ -n "$stopped" ] && return
    stopped=1
    echo
    echo "federation-demo: stopping"
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    if [ -n "$exchange" ] && [ -f "$exchange/prosody.pid" ]; then
        kill -TERM "$(cat "$exchange/prosody.pid")" 2>/dev/null || true
    fi
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    echo "federation-demo: stopped; the clouds' data and logs stay in $dir"
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
trap stop EXIT

# An earlier run may have put its exchange in /tmp (see below).
if [ -L "$dir/exchange" ]; then
    case $(readlink "$dir/exchange") in /tmp/welkin-exchange-*) rm -rf "$(readlink "$dir/exchange")" ;; esac
fi
rm -rf "$dir"
mkdir -p "$dir"
touch "$dir/.federation-demo"

# The exchange: a private Prosody with its own self-signed certificate, in a place the prosody user
# can reach (a DIR below a private home directory is not).
exchange=$dir/exchange
mkdir -p "$exchange/data"
chown -R prosody "$exchange"
if ! runuser -u prosody -- test -w "$exchange/data"; then
    rm -rf "$exchange"
    exchange=$(mktemp -d /tmp/welkin-exchange-XXXXXX)
    ln -s "$exchange" "$dir/exchange"
    mkdir -p "$exchange/data"
fi
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=$domain" -addext "subjectAltName=DNS:$domain" \
    -keyout "$exchange/key.pem" -out "$exchange/cert.pem" 2>/dev/null
cat > "$exchange/prosody.cfg.lua" <<LUA
pidfile = "$exchange/prosody.pid"
data_path = "$exchange/data"
certificates = "$exchange"
log = { info = "$exchange/prosody.log" }
interfaces = { "127.0.0.1" }
c2s_ports = { $base }
c2s_direct_tls_ports = { }
s2s_ports = { }
authentication = "internal_hashed"
password_hash = "SHA-256"
modules_enabled = { "roster", "saslauth", "tls", "disco", "ping", "posix", "smacks" }
modules_disabled = { "s2s", "s2s_auth_certs", "offline" }
ssl = { certificate = "$exchange/cert.pem", key = "$exchange/key.pem" }
VirtualHost "$domain"
LUA
chown -R prosody "$exchange"

# The federation CA, run here for the demo; in a real federation its operators keep it offline.
dotnet "$server" federation ca init --dir "$dir/ca" --name "Demo Federation" >/dev/null
i=0
for cloud in "${clouds[@]}"; do
    read -r name user _ _ <<< "$cloud"
    i=$((i + 1))
    mkdir -p "$dir/$user"
    (umask 077 && openssl rand -hex 16 > "$dir/$user/xmpp-password")
    # prosodyctl chatters about optional Lua libraries; its output matters only when it fails.
    if ! output=$(runuser -u prosody -- prosodyctl --config "$exchange/prosody.cfg.lua" register "$user" "$domain" "$(cat "$dir/$user/xmpp-password")" 2>&1); then
        echo "$output" >&2
        exit 1
    fi
    dotnet "$server" federation ca issue --dir "$dir/ca" --cloud "$name" --xmpp "$user@$domain" \
        --url "https://127.0.0.1:$((base + 10 + i))/api/v1" --out "$dir/$user/federation" >/dev/null
done
dotnet "$server" federation ca crl --dir "$dir/ca" --out "$dir/ca/crl.pem" >/dev/null

runuser -u prosody -- prosody --config "$exchange/prosody.cfg.lua" -F >/dev/null 2>&1 &
pids+=($!)

i=0
for cloud in "${clouds[@]}"; do
    read -r name user jurisdiction region <<< "$cloud"
    i=$((i + 1))
    peers=()
    for other in "${clouds[@]}"; do
        read -r _ other_user _ _ <<< "$other"
        [ "$other_user" = "$user" ] || peers+=("--Federation:Peers:${#peers[@]}=$other_user@$domain")
    done
    pool=--Fabric:Pools:$region
    credentials=$dir/$user/federation
    (cd "$dir/$user" && exec dotnet "$server" --port $((base + i)) --data-dir "$dir/$user/data" \
        "$pool:Driver=simulated" "$pool:Labels:jurisdiction=$jurisdiction" "$pool:Labels:region=$region" \
        "$pool:Hosts:0:name=$user-1" "$pool:Hosts:0:cores=64" "$pool:Hosts:0:memoryMiB=262144" "$pool:Hosts:0:diskGiB=8000" \
        "$pool:Hosts:1:name=$user-2" "$pool:Hosts:1:cores=32" "$pool:Hosts:1:memoryMiB=131072" "$pool:Hosts:1:diskGiB=4000" \
        --Federation:Name="$name" --Federation:Address="$user@$domain" --Federation:PasswordFile="$dir/$user/xmpp-password" \
        --Federation:ExchangeHost=127.0.0.1 --Federation:ExchangePort="$base" --Federation:ExchangeTrust="$exchange/cert.pem" \
        --Federation:CaCertificate="$credentials/ca.pem" --Federation:Crl="$dir/ca/crl.pem" \
        --Federation:Certificate="$credentials/cloud.pem" --Federation:CertificateKey="$credentials/cloud.key" \
        --Federation:Url="https://127.0.0.1:$((base + 10 + i))/api/v1" --Federation:Listen="127.0.0.1:$((base + 10 + i))" \
        "${peers[@]}" >"$dir/$user/server.log" 2>&1) &
    pids+=($!)
done

echo "federation-demo: the exchange listens on 127.0.0.1:$base ($domain); waiting for the clouds to find each other"
start=$(date +%s)
i=0
for cloud in "${clouds[@]}"; do
    read -r name user _ _ <<< "$cloud"
    i=$((i + 1))
    token=$dir/$user/data/admin.token
    until [ -f "$token" ] && [ "$(curl -fsS -H "Authorization: Bearer $(cat "$token")" "http://127.0.0.1:$((base + i))/api/v1/federation/peers" 2>/dev/null \
        | jq '[.peers[] | select(.online and .trust == "trusted")] | length' 2>/dev/null)" = "2" ]; do
        for pid in "${pids[@]}"; do
            if ! kill -0 "$pid" 2>/dev/null; then
                echo "federation-demo: a process stopped early; see $dir/*/server.log and $dir/exchange/prosody.log" >&2
                exit 1
            fi
        done
        if [ $(( $(date +%s) - start )) -gt 120 ]; then
            echo "federation-demo: $name does not list its two peers as online and trusted after 120 s; see $dir/$user/server.log" >&2
            exit 1
        fi
        sleep 0.5
    done
done
echo "federation-demo: every cloud lists the other two as online and trusted (after $(( $(date +%s) - start )) s)"
echo
i=0
for cloud in "${clouds[@]}"; do
    read -r name user jurisdiction region <<< "$cloud"
    i=$((i + 1))
    printf '  %-14s %s/%s  API http://127.0.0.1:%d  admin token %s\n' "$name" "$jurisdiction" "$region" $((base + i)) "$dir/$user/data/admin.token"
    printf '  %-14s federation listener https://127.0.0.1:%d  certificate %s\n' "" $((base + 10 + i)) "$dir/$user/federation/cloud.pem"
done

# Mutual TLS between clouds: ProviderCo-US calls ProviderCo-DE's listener with its own certificate.
# curl checks the listener's certificate against the federation CA (it names the URL's host); the
# listener checks the client certificate against the federation CA and the CRL.
echo
echo "  ProviderCo-US calls ProviderCo-DE's federation listener with its certificate (GET /federation/v1/hello):"
for attempt in 1 2 3 4 5; do
    hello=$(curl -sS --max-time 10 --cacert "$dir/ca/ca.pem" \
        --cert "$dir/us/federation/cloud.pem" --key "$dir/us/federation/cloud.key" \
        "https://127.0.0.1:$((base + 12))/federation/v1/hello" 2>&1) && break
    sleep 1
done
echo "$hello" | jq . 2>/dev/null | sed 's/^/    /' || echo "    $hello"
echo
echo "  try: WELKIN_ENDPOINT=http://127.0.0.1:$((base + 1)) WELKIN_TOKEN=\$(cat $dir/us/data/admin.token) dotnet run --project $repo/src/Welkin.Cli -- peer list"
echo "federation-demo: running; Ctrl-C stops everything"
wait "${pids[0]}"
