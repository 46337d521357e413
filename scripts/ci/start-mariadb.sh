#!/usr/bin/env bash
# Starts MariaDB in the background if nothing answers on 127.0.0.1:3306, and waits (bounded) until it does.
set -euo pipefail
answers() { mariadb-admin --protocol=tcp -h 127.0.0.1 -P 3306 -u root ping >/dev/null 2>&1; }
# The tests log in as root without a password over TCP (PATCHBAY_TEST_MYSQL=mysql://root@127.0.0.1:3306).
# A fresh Debian install only lets root in over the unix socket, so add that login once (via the socket).
allow_tcp_root() {
  if mariadb --protocol=tcp -h 127.0.0.1 -P 3306 -u root -e 'SELECT 1' >/dev/null 2>&1; then return 0; fi
  echo "adding root@127.0.0.1 (no password, loopback only) for the test suite"
  mariadb -u root -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY ''; GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; FLUSH PRIVILEGES;"
  mariadb --protocol=tcp -h 127.0.0.1 -P 3306 -u root -e 'SELECT 1' >/dev/null
}
if answers; then
  echo "MariaDB already answering on 127.0.0.1:3306"
  allow_tcp_root
  exit 0
fi
mkdir -p /run/mysqld
chown mysql:mysql /run/mysqld 2>/dev/null || true
if [ ! -d /var/lib/mysql/mysql ]; then
  mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
fi
start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql --bind-address=127.0.0.1 --port=3306
for _ in $(seq 1 60); do
  if answers; then
    echo "MariaDB is up"
    allow_tcp_root
    exit 0
  fi
  sleep 0.5
done
echo "MariaDB did not answer on 127.0.0.1:3306 within 30 s" >&2
exit 1
