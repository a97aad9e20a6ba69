-- The pacers' shared state in PostgreSQL (src/pacing/postgres-pacing-store.ts), for running
-- without Redis: the same windows, in-flight limits and pauses as the Redis store, one function
-- call per check-and-record. UNLOGGED, like a Redis without persistence: the state is seconds to
-- an hour of recent call times, not worth a WAL write per call, and a crash that empties it only
-- lets one window's worth through again (the tracker's own 429 and its pause still hold).
CREATE UNLOGGED TABLE "pacing_events" (
	"key" text NOT NULL,
	"member" text NOT NULL,
	"at_ms" bigint NOT NULL,
	"in_flight_until_ms" bigint,
	CONSTRAINT "pacing_events_pkey" PRIMARY KEY ("key", "member")
);
--> statement-breakpoint
CREATE INDEX "pacing_events_key_at" ON "pacing_events" ("key", "at_ms");
--> statement-breakpoint
CREATE UNLOGGED TABLE "pacing_pauses" (
	"key" text PRIMARY KEY NOT NULL,
	"until_ms" bigint NOT NULL,
	"reason" text NOT NULL
);
--> statement-breakpoint
-- The server's clock in ms: every process agrees on it, as on Redis' TIME.
CREATE FUNCTION pacing_now_ms() RETURNS bigint LANGUAGE sql VOLATILE AS $$
  SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint
$$;
--> statement-breakpoint
-- 0: recorded; -1: the in-flight limit is reached; > 0: ms until every window has room. The
-- advisory lock (per key, until the calling transaction ends) makes check-and-record atomic
-- across processes, as a Lua script is in Redis.
CREATE FUNCTION pacing_acquire(p_key text, p_member text, p_max_in_flight int, p_ttl_ms bigint, p_limits int[], p_windows bigint[])
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  now_ms bigint;
  longest bigint := 0;
  wait bigint := 0;
  n int;
  oldest bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended('pacing:' || p_key, 0));
  now_ms := pacing_now_ms();
  FOR i IN 1 .. array_length(p_windows, 1) LOOP
    longest := greatest(longest, p_windows[i]);
  END LOOP;
  DELETE FROM pacing_events
    WHERE key = p_key AND at_ms <= now_ms - longest AND (in_flight_until_ms IS NULL OR in_flight_until_ms <= now_ms);
  IF p_max_in_flight > 0 THEN
    SELECT count(*) INTO n FROM pacing_events WHERE key = p_key AND in_flight_until_ms > now_ms;
    IF n >= p_max_in_flight THEN RETURN -1; END IF;
  END IF;
  FOR i IN 1 .. array_length(p_windows, 1) LOOP
    SELECT count(*) INTO n FROM pacing_events WHERE key = p_key AND at_ms > now_ms - p_windows[i];
    IF n >= p_limits[i] THEN
      SELECT at_ms INTO oldest FROM pacing_events WHERE key = p_key AND at_ms > now_ms - p_windows[i]
        ORDER BY at_ms OFFSET n - p_limits[i] LIMIT 1;
      wait := greatest(wait, oldest + p_windows[i] - now_ms);
    END IF;
  END LOOP;
  IF wait > 0 THEN RETURN wait; END IF;
  INSERT INTO pacing_events (key, member, at_ms, in_flight_until_ms)
    VALUES (p_key, p_member, now_ms, CASE WHEN p_max_in_flight > 0 THEN now_ms + p_ttl_ms END);
  RETURN 0;
END
$$;
--> statement-breakpoint
-- How long a caller with p_ahead callers before it would wait; records nothing.
CREATE FUNCTION pacing_estimate(p_key text, p_ahead int, p_limits int[], p_windows bigint[])
RETURNS bigint LANGUAGE plpgsql STABLE AS $$
DECLARE
  now_ms bigint := pacing_now_ms();
  wait bigint := 0;
  n int;
  idx int;
  leaves bigint;
BEGIN
  FOR i IN 1 .. array_length(p_windows, 1) LOOP
    SELECT count(*) INTO n FROM pacing_events WHERE key = p_key AND at_ms > now_ms - p_windows[i];
    idx := n + p_ahead - p_limits[i];
    IF idx >= 0 THEN
      leaves := p_windows[i];
      IF idx < n THEN
        SELECT at_ms + p_windows[i] - now_ms INTO leaves FROM pacing_events
          WHERE key = p_key AND at_ms > now_ms - p_windows[i] ORDER BY at_ms OFFSET idx LIMIT 1;
      END IF;
      wait := greatest(wait, leaves);
    END IF;
  END LOOP;
  RETURN wait;
END
$$;
