-- `trackline status --issues` keeps each issue state it read for a minute, so running it again
-- soon costs no tracker budget (src/cli/issue-state-cache.ts). In Redis on the Redis queue
-- backend; here with the queues in PostgreSQL. UNLOGGED: a crash that empties it costs one read
-- per issue. Expired rows are replaced on the next write of their key.
CREATE UNLOGGED TABLE "status_cache" (
	"key" text PRIMARY KEY NOT NULL,
	"value" text NOT NULL,
	"expires_at_ms" bigint NOT NULL
);
