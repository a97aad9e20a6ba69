ALTER TABLE "changes" ADD COLUMN "notified_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "changes" ADD COLUMN "callback_status" text;--> statement-breakpoint
CREATE INDEX "changes_pending_callback" ON "changes" USING btree ("notified_at","id");