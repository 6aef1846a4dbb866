#!/usr/bin/env bash
# Start or stop a throwaway PostgreSQL server for the test run (sourced by .ci/run).
#   pg_start DIR   installs Debian's postgresql where missing, initdb's DIR, starts a server on a
#                  free loopback port and exports AGENTMARKET_TEST_PG_URL;
#   pg_stop DIR    stops it (safe to call when nothing runs).
# The server runs as the `postgres` user when we are root (initdb refuses root).

pg_bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
        return 1
    fi
    echo "$dir"
}

pg_as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

pg_start() {
    local data=$1 bindir port
    if ! bindir=$(pg_bindir); then
        echo "PostgreSQL is missing: installing Debian's postgresql"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null \
            || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null; }
        bindir=$(pg_bindir)
    fi
    mkdir -p "$data"
    if [ "$(id -u)" = 0 ]; then
        chown postgres "$data"
    fi
    pg_as_owner "$bindir/initdb" -D "$data/db" -A trust -U postgres -E UTF8 >/dev/null
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    pg_as_owner "$bindir/pg_ctl" -D "$data/db" -l "$data/server.log" -w \
        -o "-p $port -k $data -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" start >/dev/null
    export AGENTMARKET_TEST_PG_URL="postgresql://postgres@127.0.0.1:$port/postgres"
    echo "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
}

pg_stop() {
    local data=$1 bindir
    if [ -d "$data/db" ] && bindir=$(pg_bindir); then
        pg_as_owner "$bindir/pg_ctl" -D "$data/db" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$data"
}
