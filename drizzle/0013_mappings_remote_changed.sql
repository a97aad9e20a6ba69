-- The outbox sweep's flagged pass (src/jobs/outbox-sweep.ts) finds the pairs with a remote change
-- to read without joining every mapping with its item (issue 17, section 4). Partial: only the rows
-- whose flag is set are in it (a handful, cleared by the next reconcile), and an update that leaves
-- remote_changed_at null, as every reconcile's does, stays a HOT update.
CREATE INDEX IF NOT EXISTS "mappings_remote_changed" ON "mappings" USING btree ("remote_changed_at") WHERE "remote_changed_at" IS NOT NULL;
