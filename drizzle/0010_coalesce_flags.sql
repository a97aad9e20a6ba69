-- The reconcile jobs' coalescing flags in PostgreSQL (src/jobs/postgres-coalesce-state.ts), for
-- running without Redis: a pair's sync window and burst, each a key with an expiry on the
-- server's clock (pacing_now_ms, migration 0009). UNLOGGED like the pacing tables: a crash that
-- empties it costs at most one extra sync per pair.
CREATE UNLOGGED TABLE "coalesce_flags" (
	"key" text PRIMARY KEY NOT NULL,
	"expires_at_ms" bigint NOT NULL
);
