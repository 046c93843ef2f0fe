#!/bin/bash
# A/B: godwit backfill of N rows with the work connection metered (A) and direct (B),
# interleaved rounds, each on a freshly filled and vacuumed table. Same tree, same build
# flags; B differs only in meter::wanted() returning false.
set -euo pipefail
A=$1; B=$2; ROWS=${ROWS:-1000000}; ROUNDS=${ROUNDS:-3}
P=$(mktemp -d)
cat > $P/godwit.toml <<T
[backup]
policy = "never"

[plugins.column-copy]
builtin = "column-copy"

[plugins.column-copy.grants]
read = ["items"]
write = ["items.email_norm"]
T
mkdir -p $P/migrations/20260101000000_backfill_email_norm
cat > $P/migrations/20260101000000_backfill_email_norm/step.toml <<T
plugin = "column-copy"

[config]
table = "items"
from = "email"
to = "email_norm"
transform = "lower"

[batch]
size = 5000
target = "500ms"
T
DB=godwit_meter_ab
export DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB
$A -C $P plugin check builtin:column-copy >/dev/null 2>&1 || true
for r in $(seq 1 $ROUNDS); do
  for which in A B; do
    bin=$A; [ $which = B ] && bin=$B
    psql -h 127.0.0.1 -U postgres -XAtqc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
    psql -h 127.0.0.1 -U postgres -XAtqc "CREATE DATABASE $DB" >/dev/null
    psql -h 127.0.0.1 -U postgres -d $DB -XAtq >/dev/null <<S
CREATE TABLE items (id BIGINT PRIMARY KEY, email TEXT NOT NULL, email_norm TEXT);
INSERT INTO items (id, email) SELECT n, 'User.' || n || '@Example.COM' FROM generate_series(1, $ROWS) AS n;
VACUUM ANALYZE items;
S
    s=$(date +%s.%N)
    $bin -C $P deploy >/tmp/meter_ab_$which.log 2>&1 || { echo "deploy $which failed"; tail -5 /tmp/meter_ab_$which.log; exit 1; }
    e=$(date +%s.%N)
    bad=$(psql -h 127.0.0.1 -U postgres -d $DB -XAtqc "SELECT count(*) FROM items WHERE email_norm IS DISTINCT FROM lower(email)")
    printf "round %d %s %.3f s (wrong rows: %s) load %s\n" $r $which $(echo "$e - $s" | bc) $bad "$(cut -d' ' -f1 /proc/loadavg)"
  done
done
psql -h 127.0.0.1 -U postgres -XAtqc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
rm -rf $P
