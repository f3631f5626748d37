#!/usr/bin/env bash
# Restore a backup made by scripts/backup.sh into the configured database and storage dir.
#
#   scripts/restore.sh BACKUP_DIR [--force]
#
# Target = the app's settings (environment, then .env): DATABASE_URL (or the embedded SQLite file under
# DATA_DIR) and STORAGE_DIR (default DATA_DIR/files). Stop the app and workers first. Refuses to overwrite
# a database that already has users, or a non-empty storage dir, unless --force (then the database objects
# are dropped and recreated from the dump, and the storage dir is replaced). Checks the MANIFEST checksums
# first. After a restore, start the app as usual: it migrates the schema to head if the backup is older.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f scripts/env.sh ] && source scripts/env.sh
PY=${PYTHON:-python}

BACKUP=${1:?usage: scripts/restore.sh BACKUP_DIR [--force]}
FORCE=${2:-}
[ -f "$BACKUP/MANIFEST" ] || { echo "no MANIFEST in $BACKUP" >&2; exit 2; }
(cd "$BACKUP" && sed -n '/  /p' MANIFEST | sha256sum --check --quiet) || { echo "checksum mismatch in $BACKUP" >&2; exit 3; }

eval "$("$PY" - <<'PYEOF'
import shlex
from chat3d.settings import get_settings
s = get_settings()
print(f"DB_URL={shlex.quote(s.effective_database_url)}")
print(f"STORAGE={shlex.quote(str(s.effective_storage_dir))}")
PYEOF
)"

pg_tool() {
  local name=$1
  if command -v "$name" >/dev/null; then command -v "$name"; return; fi
  ls -1 /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -1
}

users_in_target() {
  "$PY" - <<'PYEOF'
import sqlalchemy as sa
from chat3d.settings import get_settings
eng = sa.create_engine(get_settings().effective_database_url)
try:
    with eng.connect() as c:
        print(c.execute(sa.text("SELECT count(*) FROM users")).scalar())
except Exception:
    print(0)  # no schema yet
PYEOF
}

if [ "$FORCE" != "--force" ]; then
  if [ "$(users_in_target)" != "0" ]; then echo "the target database has users; pass --force to replace it" >&2; exit 4; fi
  if [ -d "$STORAGE" ] && [ -n "$(ls -A "$STORAGE" 2>/dev/null)" ]; then
    echo "the storage dir $STORAGE is not empty; pass --force to replace it" >&2; exit 4
  fi
fi

case "$DB_URL" in
  postgresql*)
    [ -f "$BACKUP/db.dump" ] || { echo "the backup holds no PostgreSQL dump" >&2; exit 2; }
    LIBPQ_URL=$(printf '%s' "$DB_URL" | sed -E 's#^postgresql\+[a-z0-9]+://#postgresql://#')
    echo "==> database: pg_restore → ${LIBPQ_URL%%@*}@…"
    "$(pg_tool pg_restore)" --no-owner --no-privileges --clean --if-exists --exit-on-error --single-transaction \
      --dbname="$LIBPQ_URL" "$BACKUP/db.dump"
    ;;
  sqlite*)
    [ -f "$BACKUP/db.sqlite3" ] || { echo "the backup holds no SQLite database" >&2; exit 2; }
    DST=${DB_URL#sqlite:///}
    echo "==> database: $BACKUP/db.sqlite3 → $DST"
    mkdir -p "$(dirname "$DST")"
    rm -f "$DST" "$DST-wal" "$DST-shm"
    cp "$BACKUP/db.sqlite3" "$DST"
    ;;
  *) echo "unsupported DATABASE_URL: $DB_URL" >&2; exit 2 ;;
esac

echo "==> files: files.tar.gz → $STORAGE"
if [ -d "$STORAGE" ] && [ "$FORCE" = "--force" ]; then
  find "$STORAGE" -mindepth 1 -delete
fi
mkdir -p "$STORAGE"
tar -C "$STORAGE" -xzf "$BACKUP/files.tar.gz" --no-same-owner
echo "==> restored from $BACKUP"
