#!/usr/bin/env bash
# Back up Chat3D: the database (pg_dump custom format, or a consistent SQLite copy) and the stored files.
#
#   scripts/backup.sh [OUT_DIR]        # default ./backups
#
# Reads the same settings as the app (environment, then .env): DATABASE_URL (empty = the embedded SQLite
# file under DATA_DIR), DATA_DIR, STORAGE_DIR (default DATA_DIR/files). Writes
# OUT_DIR/chat3d-<UTC timestamp>/ with db.dump (PostgreSQL) or db.sqlite3 (SQLite), files.tar.gz and
# MANIFEST (what, when, sizes, sha256). The app may keep running: pg_dump takes a consistent snapshot and
# SQLite is copied with its online backup API. Files are archived after the database, so every file a row
# names is in the archive (files written during the run may be extra; they are harmless orphans).
# Restore with scripts/restore.sh; see docs/operations.md.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f scripts/env.sh ] && source scripts/env.sh
PY=${PYTHON:-python}

OUT_ROOT=${1:-./backups}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$OUT_ROOT/chat3d-$STAMP"
mkdir -p "$OUT"
umask 077

# The effective settings, exactly as the app computes them.
eval "$("$PY" - <<'PYEOF'
import shlex
from chat3d.settings import get_settings
s = get_settings()
url = s.effective_database_url
print(f"DB_URL={shlex.quote(url)}")
print(f"STORAGE={shlex.quote(str(s.effective_storage_dir))}")
PYEOF
)"

pg_tool() {
  local name=$1
  if command -v "$name" >/dev/null; then command -v "$name"; return; fi
  ls -1 /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -1
}

case "$DB_URL" in
  postgresql*)
    LIBPQ_URL=$(printf '%s' "$DB_URL" | sed -E 's#^postgresql\+[a-z0-9]+://#postgresql://#')
    echo "==> database: pg_dump → $OUT/db.dump"
    "$(pg_tool pg_dump)" --format=custom --no-owner --no-privileges --file="$OUT/db.dump" "$LIBPQ_URL"
    DB_FILE=db.dump
    ;;
  sqlite*)
    SRC=${DB_URL#sqlite:///}
    echo "==> database: SQLite online backup of $SRC → $OUT/db.sqlite3"
    "$PY" - "$SRC" "$OUT/db.sqlite3" <<'PYEOF'
import sqlite3, sys
src, dst = sqlite3.connect(sys.argv[1]), sqlite3.connect(sys.argv[2])
with dst:
    src.backup(dst)
src.close(); dst.close()
PYEOF
    DB_FILE=db.sqlite3
    ;;
  *) echo "unsupported DATABASE_URL: $DB_URL" >&2; exit 2 ;;
esac

echo "==> files: $STORAGE → $OUT/files.tar.gz"
mkdir -p "$STORAGE"
tar -C "$STORAGE" -czf "$OUT/files.tar.gz" .

{
  echo "chat3d backup $STAMP"
  echo "database: ${DB_URL%%://*} → $DB_FILE"
  echo "storage: $STORAGE → files.tar.gz ($(tar -tzf "$OUT/files.tar.gz" | grep -vc '/$') files)"
  (cd "$OUT" && sha256sum "$DB_FILE" files.tar.gz)
} > "$OUT/MANIFEST"
echo "==> done: $OUT"
echo "$OUT"
