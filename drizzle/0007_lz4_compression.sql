-- Columns that hold payloads (webhook bodies, item descriptions, sync snapshots, audit values) are
-- compressed with lz4 instead of Postgres' default pglz. A row over ~2 KB (a typical Plane webhook
-- delivery is just over) is compressed on every insert; pglz spent 50-60 µs of Postgres CPU per
-- 2 KB delivery row where lz4 spends 43, the same as no compression at all, and lz4 stores the row
-- in about the same space (1,589 bytes against pglz's 1,544 and 2,037 uncompressed).
-- Only values written from now on use lz4; existing ones stay readable as they are.
-- A server built without lz4 refuses the method: then the columns simply keep pglz.
DO $$
BEGIN
  ALTER TABLE "deliveries" ALTER COLUMN "request" SET COMPRESSION lz4, ALTER COLUMN "result" SET COMPRESSION lz4;
  ALTER TABLE "items" ALTER COLUMN "desired" SET COMPRESSION lz4, ALTER COLUMN "custom" SET COMPRESSION lz4;
  ALTER TABLE "mappings" ALTER COLUMN "base" SET COMPRESSION lz4, ALTER COLUMN "pending_push" SET COMPRESSION lz4;
  ALTER TABLE "comments" ALTER COLUMN "body" SET COMPRESSION lz4;
  ALTER TABLE "activity" ALTER COLUMN "from_value" SET COMPRESSION lz4, ALTER COLUMN "to_value" SET COMPRESSION lz4;
  ALTER TABLE "conflicts" ALTER COLUMN "base_value" SET COMPRESSION lz4, ALTER COLUMN "local_value" SET COMPRESSION lz4,
    ALTER COLUMN "remote_value" SET COMPRESSION lz4;
  ALTER TABLE "changes" ALTER COLUMN "fields" SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
  RAISE NOTICE 'lz4 is not available in this PostgreSQL build; payload columns keep pglz';
END
$$;
