-- The wait estimate of the PostgreSQL pacing store (migration 0009) counted at most one window
-- for the callers queued ahead, so with GitHub's one mutation a second a job 60 places back was
-- told one second, kept its worker slot and waited a minute instead of stepping aside (issue 17).
-- Each `limit` callers ahead now add a window: the caller ahead by `limit` places goes out one
-- window after its own predecessor by `limit`, back to an event in the window (or to now). The
-- same rule as the Redis store's ESTIMATE script (src/pacing/redis-pacing-store.ts).
CREATE OR REPLACE FUNCTION pacing_estimate(p_key text, p_ahead int, p_limits int[], p_windows bigint[])
RETURNS bigint LANGUAGE plpgsql STABLE AS $$
DECLARE
  now_ms bigint := pacing_now_ms();
  wait bigint := 0;
  n int;
  idx int;
  hops int;
  first_ms bigint;
  leaves bigint;
BEGIN
  FOR i IN 1 .. array_length(p_windows, 1) LOOP
    SELECT count(*) INTO n FROM pacing_events WHERE key = p_key AND at_ms > now_ms - p_windows[i];
    idx := n + p_ahead - p_limits[i];
    IF idx >= 0 THEN
      hops := 0;
      IF idx >= n THEN
        hops := (idx - n) / p_limits[i] + 1;
        idx := idx - hops * p_limits[i];
      END IF;
      leaves := hops * p_windows[i];
      IF idx >= 0 THEN
        SELECT at_ms + p_windows[i] - now_ms INTO first_ms FROM pacing_events
          WHERE key = p_key AND at_ms > now_ms - p_windows[i] ORDER BY at_ms OFFSET idx LIMIT 1;
        leaves := leaves + greatest(first_ms, 0);
      END IF;
      wait := greatest(wait, leaves);
    END IF;
  END LOOP;
  RETURN wait;
END
$$;
