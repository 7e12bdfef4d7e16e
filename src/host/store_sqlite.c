// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The SQLite store (store.h, store_impl.h): opening, the schema and its
 * migrations, the helpers the per-table files share, and the ops table.
 * The tables' SQL lives beside this file, one file per group of tables
 * (their shared helpers in store_sqlite_util.c):
 * store_sqlite_vps.c (vps, events), store_sqlite_plans.c (plans,
 * policies, settings), store_sqlite_net.c (networks, addresses),
 * store_sqlite_auth.c (users, sessions, tokens, audit),
 * store_sqlite_usage.c (usage), store_sqlite_ops.c (operations),
 * store_sqlite_pools.c (pools, vps_pools, snapshots), store_sqlite_usage.c
 * (usage, traffic).
 *
 * Migrations are a list of SQL scripts; script i takes the schema from
 * version i to i + 1 and runs in one transaction with the user_version
 * bump, so a crash mid-migration leaves the old version intact.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/store_sqlite.h"

/*
 * A plan's backup schedule and retention (issue 17, docs/backups.md "Per
 * plan"), the body of PUT /vps/NAME/backup-schedule as JSON; {} none. The
 * PostgreSQL store's MIGRATE_PLAN_BACKUP is the same statement.
 */
#define MIGRATE_PLAN_BACKUP "ALTER TABLE plans ADD COLUMN backup TEXT NOT NULL DEFAULT '{}';"

/*
 * A network's VLAN (issue 23, docs/networks.md "VLANs"): the 802.1Q id its
 * traffic carries (0: none) and the host device the tagged frames leave by
 * ('' without a VLAN). Shared with the PostgreSQL schema (store_pg.c).
 */
#define MIGRATE_NET_VLAN                                                  \
	"ALTER TABLE networks ADD COLUMN vlan INTEGER NOT NULL DEFAULT 0" \
	"  CHECK (vlan BETWEEN 0 AND 4094);"                              \
	"ALTER TABLE networks ADD COLUMN parent TEXT NOT NULL DEFAULT '';"

/*
 * The templates a plan offers (issue 21, docs/templates.md "Per plan"): a
 * JSON array of template names, [] every one. The PostgreSQL store's
 * MIGRATE_PLAN_TEMPLATES is the same statement.
 */
#define MIGRATE_PLAN_TEMPLATES "ALTER TABLE plans ADD COLUMN templates TEXT NOT NULL DEFAULT '[]';"

/*
 * The host's settings (issue 23, docs/auth.md "Requiring it"): what an
 * administrator sets through PATCH /settings, one row a setting that has
 * been set (none: its default). The PostgreSQL store's MIGRATE_SETTINGS
 * is the same statement.
 */
#define MIGRATE_SETTINGS "CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);"

static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE plans ("
	"  name TEXT PRIMARY KEY,"
	"  ram INTEGER NOT NULL, swap INTEGER NOT NULL, cpus REAL NOT NULL,"
	"  disk INTEGER NOT NULL, io_weight INTEGER NOT NULL DEFAULT 0,"
	"  bw INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE vps ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT UNIQUE NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind IN ('ct', 'vm')),"
	"  engine TEXT NOT NULL, boot TEXT NOT NULL DEFAULT '',"
	"  template TEXT, iso TEXT,"
	"  plan TEXT REFERENCES plans(name) ON DELETE RESTRICT,"
	"  owner TEXT NOT NULL, state TEXT NOT NULL,"
	"  ram INTEGER NOT NULL, swap INTEGER NOT NULL, disk INTEGER NOT NULL,"
	"  cpus REAL NOT NULL, io_weight INTEGER NOT NULL DEFAULT 0,"
	"  bw INTEGER NOT NULL DEFAULT 0, hostname TEXT,"
	"  ssh_keys TEXT NOT NULL DEFAULT '[]', onboot INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL, uid_base INTEGER NOT NULL DEFAULT 0,"
	"  last_exit INTEGER NOT NULL DEFAULT -1);"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY, time INTEGER NOT NULL, vps TEXT,"
	"  kind TEXT NOT NULL, message TEXT NOT NULL);"
	"CREATE INDEX events_by_vps ON events(vps, id);",
	/* 1 -> 2: resource policies and networks (issue 7) */
	"CREATE TABLE policies ("
	"  resource TEXT PRIMARY KEY CHECK (resource IN ('memory', 'disk', 'cpus')),"
	"  mode TEXT NOT NULL CHECK (mode IN ('reserve', 'oversell', 'thin')),"
	"  ratio REAL NOT NULL DEFAULT 1.0 CHECK (ratio >= 1.0));"
	"INSERT INTO policies VALUES ('memory', 'reserve', 1.0), ('disk', 'thin', 1.0),"
	"  ('cpus', 'oversell', 4.0);"
	"CREATE TABLE networks ("
	"  name TEXT PRIMARY KEY, bridge TEXT UNIQUE NOT NULL,"
	"  ipv4 TEXT, ipv6 TEXT, nat INTEGER NOT NULL DEFAULT 1);"
	"CREATE TABLE addresses ("
	"  network TEXT NOT NULL REFERENCES networks(name) ON DELETE RESTRICT,"
	"  address TEXT NOT NULL,"
	"  vps TEXT NOT NULL REFERENCES vps(name) ON DELETE CASCADE,"
	"  PRIMARY KEY (network, address));"
	"CREATE INDEX addresses_by_vps ON addresses(vps);"
	"ALTER TABLE vps ADD COLUMN network TEXT REFERENCES networks(name) ON DELETE RESTRICT;"
	"ALTER TABLE vps ADD COLUMN mac TEXT;",
	/* 2 -> 3: users, sessions, tokens, audit, usage history, operations (issue 8) */
	"CREATE TABLE users ("
	"  name TEXT PRIMARY KEY, role TEXT NOT NULL CHECK (role IN ('admin', 'customer')),"
	"  hash TEXT NOT NULL, created INTEGER NOT NULL);"
	"CREATE TABLE sessions ("
	"  id TEXT PRIMARY KEY," /* a hash of the cookie: the store never holds the secret */
	"  user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,"
	"  csrf TEXT NOT NULL, source TEXT NOT NULL,"
	"  created INTEGER NOT NULL, expires INTEGER NOT NULL);"
	"CREATE TABLE tokens ("
	"  id INTEGER PRIMARY KEY,"
	"  user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,"
	"  name TEXT NOT NULL, hash TEXT UNIQUE NOT NULL, sources TEXT NOT NULL DEFAULT '[]',"
	"  created INTEGER NOT NULL, expires INTEGER NOT NULL, used INTEGER);"
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY, time INTEGER NOT NULL, user TEXT, source TEXT NOT NULL,"
	"  method TEXT NOT NULL, path TEXT NOT NULL, status INTEGER NOT NULL);"
	"CREATE TABLE usage ("
	"  vps TEXT NOT NULL REFERENCES vps(name) ON DELETE CASCADE,"
	"  time INTEGER NOT NULL, cpu REAL NOT NULL, mem INTEGER NOT NULL, disk INTEGER NOT NULL,"
	"  rx REAL NOT NULL, tx REAL NOT NULL, PRIMARY KEY (vps, time)) WITHOUT ROWID;"
	"CREATE TABLE operations ("
	"  id TEXT PRIMARY KEY, vps TEXT, user TEXT NOT NULL, action TEXT NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('running', 'done', 'failed')),"
	"  status INTEGER, result TEXT, created INTEGER NOT NULL, finished INTEGER);"
	"ALTER TABLE vps ADD COLUMN suspended INTEGER NOT NULL DEFAULT 0;",
	/* 3 -> 4: the networks a customer's VPSes may join (issue 15) */
	"ALTER TABLE users ADD COLUMN networks TEXT NOT NULL DEFAULT '[]';",
	/* 4 -> 5: the `limits` policy, what to do with a limit the host cannot enforce (issue 14) */
	"CREATE TABLE policies4 ("
	"  resource TEXT PRIMARY KEY CHECK (resource IN ('memory', 'disk', 'cpus', 'limits')),"
	"  mode TEXT NOT NULL CHECK (mode IN ('reserve', 'oversell', 'thin', 'refuse', 'warn')),"
	"  ratio REAL NOT NULL DEFAULT 1.0 CHECK (ratio >= 1.0));"
	"INSERT INTO policies4 SELECT resource, mode, ratio FROM policies;"
	"INSERT INTO policies4 VALUES ('limits', 'refuse', 1.0);"
	"DROP TABLE policies;"
	"ALTER TABLE policies4 RENAME TO policies;",
	/*
	 * 5 -> 6: events belong to a VPS's id, not its name (issue 15: a new
	 * VPS of an old name read the old one's history). A name's events from
	 * its last `create` on are the VPS that has it now.
	 */
	"ALTER TABLE events ADD COLUMN vps_id INTEGER;"
	"UPDATE events SET vps_id = (SELECT v.id FROM vps v WHERE v.name = events.vps AND "
	"  events.id >= (SELECT MAX(e.id) FROM events e WHERE e.vps = v.name AND "
	"  e.kind = 'create'));"
	"CREATE INDEX events_by_vps_id ON events(vps_id, id);",
	/*
	 * 6 -> 7: a pids limit in every plan, and on every VPS made from one
	 * (issue 15: containers had the host's default only). 0: the host's
	 * default, vpsd --pids-limit.
	 */
	"ALTER TABLE plans ADD COLUMN pids INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE vps ADD COLUMN pids INTEGER NOT NULL DEFAULT 0;",
	/*
	 * 7 -> 8: the nodes table (docs/cluster.md), which on one host holds one
	 * row, the host itself, so `vps node list` and /api/v1/nodes answer the
	 * same shape in both modes.
	 */
	"CREATE TABLE nodes ("
	"  name TEXT PRIMARY KEY, address TEXT NOT NULL DEFAULT '',"
	"  cpus REAL NOT NULL DEFAULT 0, ram INTEGER NOT NULL DEFAULT 0,"
	"  disk INTEGER NOT NULL DEFAULT 0,"
	"  state TEXT NOT NULL DEFAULT 'online'"
	"    CHECK (state IN ('online', 'offline', 'evacuating')),"
	"  joined INTEGER NOT NULL, heartbeat INTEGER NOT NULL);",
	/*
	 * 8 -> 9: a container's switches (`features`, names joined by commas:
	 * "tun,fuse") and its disk's IO limits in bytes/s and operations/s, on
	 * plans and VPSes (issue 22). Off and 0 (none) by default.
	 */
	"ALTER TABLE plans ADD COLUMN features TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE plans ADD COLUMN io_read_bps INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE plans ADD COLUMN io_write_bps INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE plans ADD COLUMN io_read_iops INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE plans ADD COLUMN io_write_iops INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE vps ADD COLUMN features TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE vps ADD COLUMN io_read_bps INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE vps ADD COLUMN io_write_bps INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE vps ADD COLUMN io_read_iops INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE vps ADD COLUMN io_write_iops INTEGER NOT NULL DEFAULT 0;",
	/*
	 * 9 -> 10: two-factor login and quotas per customer (issue 23). totp:
	 * the base32 secret of a confirmed TOTP, totp_pending one being
	 * enrolled; totp_step the last time step a code was accepted at (a
	 * code is good once); recovery the argon2id hashes of the recovery
	 * codes (JSON, null where used); quota what the user may hold (JSON).
	 */
	"ALTER TABLE users ADD COLUMN totp TEXT;"
	"ALTER TABLE users ADD COLUMN totp_pending TEXT;"
	"ALTER TABLE users ADD COLUMN totp_step INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE users ADD COLUMN recovery TEXT NOT NULL DEFAULT '[]';"
	"ALTER TABLE users ADD COLUMN quota TEXT NOT NULL DEFAULT '{}';",
	/*
	 * 10 -> 11: storage pools, the pool of each VPS not in the default one,
	 * and snapshots (issue 17, docs/storage.md). The default pool (vpsd's
	 * data directory) has no row: a VPS without a vps_pools row is in it.
	 */
	"CREATE TABLE pools ("
	"  name TEXT PRIMARY KEY, path TEXT UNIQUE NOT NULL,"
	"  reflink INTEGER NOT NULL, created INTEGER NOT NULL);"
	"CREATE TABLE vps_pools ("
	"  vps TEXT PRIMARY KEY REFERENCES vps(name) ON DELETE CASCADE,"
	"  pool TEXT NOT NULL REFERENCES pools(name) ON DELETE RESTRICT);"
	"CREATE TABLE snapshots ("
	"  vps TEXT NOT NULL REFERENCES vps(name) ON DELETE CASCADE,"
	"  name TEXT NOT NULL, created INTEGER NOT NULL, settings TEXT NOT NULL,"
	"  size INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (vps, name));",
	/*
	 * 11 -> 12: webhooks (issue 23, docs/webhooks.md). owner NULL: an
	 * administrator's hook, every event; a customer's goes with them.
	 * last_event: the events up to this id are delivered or given up.
	 */
	"CREATE TABLE webhooks ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  owner TEXT REFERENCES users(name) ON DELETE CASCADE,"
	"  url TEXT NOT NULL, secret TEXT NOT NULL, events TEXT NOT NULL,"
	"  created INTEGER NOT NULL, last_event INTEGER NOT NULL,"
	"  delivered INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0,"
	"  last_status TEXT NOT NULL DEFAULT '');",
	/*
	 * 12 -> 13: history (issue 23, docs/usage.md "History"): each VPS's
	 * usage averaged per minute, half hour and day (step, in seconds), as
	 * RRD tools consolidate; n: the samples in the average so far.
	 */
	"CREATE TABLE usage_history ("
	"  vps TEXT NOT NULL REFERENCES vps(name) ON DELETE CASCADE,"
	"  step INTEGER NOT NULL, time INTEGER NOT NULL, n INTEGER NOT NULL,"
	"  cpu REAL NOT NULL, mem INTEGER NOT NULL, disk INTEGER NOT NULL,"
	"  rx REAL NOT NULL, tx REAL NOT NULL, PRIMARY KEY (vps, step, time)) WITHOUT ROWID;",
	/*
	 * 13 -> 14, traffic accounting (issue 23, docs/networks.md "Traffic"):
	 * bytes received and sent by each VPS per calendar month (UTC,
	 * 'YYYY-MM'), and the allowance action taken that month ('' none,
	 * 'throttle', 'suspend'); a plan's monthly allowance as JSON
	 * ({"allowance": bytes, "action": "throttle"|"suspend", "bw": bits/s},
	 * {} none).
	 */
	"CREATE TABLE traffic ("
	"  vps TEXT NOT NULL REFERENCES vps(name) ON DELETE CASCADE,"
	"  month TEXT NOT NULL, rx INTEGER NOT NULL DEFAULT 0, tx INTEGER NOT NULL DEFAULT 0,"
	"  action TEXT NOT NULL DEFAULT '', PRIMARY KEY (vps, month));"
	"ALTER TABLE plans ADD COLUMN traffic TEXT NOT NULL DEFAULT '{}';"
	/* and each VPS's firewall (docs/networks.md "Firewall"): its rules as JSON */
	"CREATE TABLE firewalls ("
	"  vps TEXT PRIMARY KEY REFERENCES vps(name) ON DELETE CASCADE, doc TEXT NOT NULL);",
	/*
	 * 14 -> 15: the pool a plan's VPSes are made in (issue 17,
	 * docs/storage.md); NULL: the default pool. A pool a plan names stays.
	 */
	"ALTER TABLE plans ADD COLUMN pool TEXT REFERENCES pools(name) ON DELETE RESTRICT;",
	/* 15 -> 16 */
	MIGRATE_PLAN_BACKUP,
	/* 16 -> 17: a network's 802.1Q tag and the device it leaves by (issue 23) */
	MIGRATE_NET_VLAN,
	/* 17 -> 18: the templates a plan offers (issue 21) */
	MIGRATE_PLAN_TEMPLATES,
	/* 18 -> 19: the host's settings (issue 23) */
	MIGRATE_SETTINGS,
};

#define NR_MIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

static int sq_schema_version(struct store *base)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	int v = -1;

	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->lock);
	return v;
}

static int migrate(struct store_sqlite *s, struct err **err)
{
	int v = sq_schema_version(&s->base);
	char bump[64];

	if (v < 0)
		return sq_err(s, err, "read the schema version");
	if ((size_t)v > NR_MIGRATIONS)
		return err_make(err, EPROTO,
				"store: schema version %d is newer than this vpsd knows (%zu)", v,
				NR_MIGRATIONS);
	for (; (size_t)v < NR_MIGRATIONS; v++) {
		snprintf(bump, sizeof(bump), "PRAGMA user_version = %d;", v + 1);
		if (sq_exec(s, "BEGIN IMMEDIATE", err) < 0)
			return -EIO;
		if (sq_exec(s, migrations[v], err) < 0 || sq_exec(s, bump, err) < 0) {
			sq_exec(s, "ROLLBACK", NULL);
			return err_wrap(err, "migrate the store to version %d", v + 1);
		}
		if (sq_exec(s, "COMMIT", err) < 0)
			return -EIO;
	}
	return 0;
}

static void sq_close(struct store *base)
{
	struct store_sqlite *s = sq(base);

	sqlite3_close(s->db);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static const struct store_ops sqlite_ops;

int store_sqlite_open(const char *path, struct store **out, struct err **err)
{
	struct store_sqlite *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return err_make(err, ENOMEM, "store");
	s->base.ops = &sqlite_ops;
	pthread_mutex_init(&s->lock, NULL);
	if (sqlite3_open_v2(path, &s->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		r = err_make(err, EIO, "store: open `%s`: %s", path,
			     s->db ? sqlite3_errmsg(s->db) : "out of memory");
		sq_close(&s->base);
		return r;
	}
	sqlite3_busy_timeout(s->db, 5000);
	if ((r = sq_exec(s,
			 "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; "
			 "PRAGMA synchronous = NORMAL;",
			 err)) < 0 ||
	    (r = migrate(s, err)) < 0) {
		sq_close(&s->base);
		return r;
	}
	*out = &s->base;
	return 0;
}

static const struct store_ops sqlite_ops = {
	.name = "sqlite",
	.close = sq_close,
	.schema_version = sq_schema_version,
	.vps_insert = sq_vps_insert,
	.vps_get = sq_vps_get,
	.vps_list = sq_vps_list,
	.vps_page = sq_vps_page,
	.vps_list_local = sq_vps_list, /* one host: every VPS is its own */
	.vps_sums = sq_vps_sums,
	.vps_admit = sq_vps_admit,
	.vps_update = sq_vps_update,
	.vps_state = sq_vps_state,
	.vps_delete = sq_vps_delete,
	.vps_plan = sq_vps_plan,
	.event = sq_event,
	.events = sq_events,
	.plan_put = sq_plan_put,
	.plan_get = sq_plan_get,
	.plans = sq_plans,
	.plan_delete = sq_plan_delete,
	.plan_backups = sq_plan_backups,
	.policies = sq_policies,
	.policies_put = sq_policies_put,
	.settings = sq_settings,
	.settings_put = sq_settings_put,
	.net_insert = sq_net_insert,
	.nets = sq_nets,
	.net_delete = sq_net_delete,
	.net_addresses = sq_net_addresses,
	.address_add = sq_address_add,
	.users = sq_users,
	.user_insert = sq_user_insert,
	.user_update = sq_user_update,
	.user_delete = sq_user_delete,
	.user_secret = sq_user_secret,
	.user_totp = sq_user_totp,
	.user_totp_step = sq_user_totp_step,
	.user_recovery = sq_user_recovery,
	.user_quota = sq_user_quota,
	.session_insert = sq_session_insert,
	.session_delete = sq_session_delete,
	.session_get = sq_session_get,
	.token_insert = sq_token_insert,
	.token_hash = sq_token_hash,
	.token_use = sq_token_use,
	.tokens = sq_tokens,
	.token_delete = sq_token_delete,
	.audit_add = sq_audit_add,
	.audit = sq_audit,
	.sample_add = sq_sample_add,
	.samples = sq_samples,
	.sample_last = sq_sample_last,
	.samples_last = sq_samples_last,
	.op_insert = sq_op_insert,
	.op_finish = sq_op_finish,
	.op_get = sq_op_get,
	.ops_abandon = sq_ops_abandon,
	.node_join = sq_node_join,
	.node_heartbeat = sq_node_heartbeat,
	.nodes = sq_nodes,
	.join_token_insert = sq_join_token_insert,
	.ping = sq_ping,
	.pools = sq_pools,
	.pool_add = sq_pool_add,
	.pool_delete = sq_pool_delete,
	.vps_pool_set = sq_vps_pool_set,
	.vps_pool = sq_vps_pool,
	.vps_plan_of = sq_vps_plan_of,
	.snapshots = sq_snapshots,
	.snapshot_add = sq_snapshot_add,
	.snapshot_delete = sq_snapshot_delete,
	.history = sq_history,
	.webhooks = sq_webhooks,
	.webhook_add = sq_webhook_add,
	.webhook_delete = sq_webhook_delete,
	.webhook_done = sq_webhook_done,
	.traffic_add = sq_traffic_add,
	.traffic = sq_traffic,
	.traffic_action = sq_traffic_action,
	.firewall_get = sq_firewall_get,
	.firewall_put = sq_firewall_put,
};
