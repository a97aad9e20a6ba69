CREATE TABLE "activity" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"item_key" text NOT NULL,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"connection_id" text,
	"field" text,
	"from_value" jsonb,
	"to_value" jsonb,
	"detail" jsonb,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "changes" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"item_key" text NOT NULL,
	"connection_id" text NOT NULL,
	"type" text DEFAULT 'item.changed' NOT NULL,
	"fields" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"comment" text,
	"actor" text,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "comments" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"item_key" text NOT NULL,
	"body" text NOT NULL,
	"actor" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "conflicts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"item_key" text NOT NULL,
	"connection_id" text NOT NULL,
	"field" text NOT NULL,
	"base_value" jsonb,
	"local_value" jsonb,
	"remote_value" jsonb,
	"status" text DEFAULT 'open' NOT NULL,
	"resolution" text,
	"resolved_by" text,
	"reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"resolved_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "deliveries" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"direction" text NOT NULL,
	"kind" text NOT NULL,
	"connection_id" text,
	"item_key" text,
	"dedup_key" text,
	"status" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"request" jsonb,
	"result" jsonb,
	"job_id" text,
	"request_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "idempotency_keys" (
	"key" text NOT NULL,
	"principal" text NOT NULL,
	"request_hash" text NOT NULL,
	"status" integer NOT NULL,
	"response" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "idempotency_keys_principal_key_pk" PRIMARY KEY("principal","key")
);
--> statement-breakpoint
CREATE TABLE "items" (
	"key" text PRIMARY KEY NOT NULL,
	"kind" text,
	"desired" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"custom" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"version" bigint DEFAULT 1 NOT NULL,
	"deleted_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "mappings" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"item_key" text NOT NULL,
	"connection_id" text NOT NULL,
	"remote_id" text,
	"remote_key" text,
	"remote_url" text,
	"link_to" text,
	"base" jsonb,
	"status" text DEFAULT 'pending' NOT NULL,
	"synced_version" bigint DEFAULT 0 NOT NULL,
	"failed_version" bigint DEFAULT 0 NOT NULL,
	"comment_cursor" bigint DEFAULT 0 NOT NULL,
	"create_intent_at" timestamp with time zone,
	"last_synced_at" timestamp with time zone,
	"last_error" text,
	"remote_updated_at" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sync_cursors" (
	"connection_id" text NOT NULL,
	"name" text NOT NULL,
	"value" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sync_cursors_connection_id_name_pk" PRIMARY KEY("connection_id","name")
);
--> statement-breakpoint
CREATE TABLE "tracker_calls" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"delivery_id" uuid,
	"connection_id" text NOT NULL,
	"method" text NOT NULL,
	"path" text NOT NULL,
	"status" integer,
	"duration_ms" integer NOT NULL,
	"rate_limit" jsonb,
	"error" text,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "comments" ADD CONSTRAINT "comments_item_key_items_key_fk" FOREIGN KEY ("item_key") REFERENCES "public"."items"("key") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mappings" ADD CONSTRAINT "mappings_item_key_items_key_fk" FOREIGN KEY ("item_key") REFERENCES "public"."items"("key") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "activity_item" ON "activity" USING btree ("item_key","id");--> statement-breakpoint
CREATE INDEX "changes_item" ON "changes" USING btree ("item_key");--> statement-breakpoint
CREATE INDEX "comments_item" ON "comments" USING btree ("item_key","id");--> statement-breakpoint
CREATE INDEX "conflicts_status" ON "conflicts" USING btree ("status","id");--> statement-breakpoint
CREATE INDEX "conflicts_item" ON "conflicts" USING btree ("item_key","connection_id");--> statement-breakpoint
CREATE UNIQUE INDEX "deliveries_dedup" ON "deliveries" USING btree ("direction","connection_id","dedup_key");--> statement-breakpoint
CREATE INDEX "deliveries_status" ON "deliveries" USING btree ("status","created_at");--> statement-breakpoint
CREATE INDEX "deliveries_item" ON "deliveries" USING btree ("item_key","created_at");--> statement-breakpoint
CREATE INDEX "deliveries_created" ON "deliveries" USING btree ("created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "mappings_item_connection" ON "mappings" USING btree ("item_key","connection_id");--> statement-breakpoint
CREATE UNIQUE INDEX "mappings_connection_remote" ON "mappings" USING btree ("connection_id","remote_id");--> statement-breakpoint
CREATE INDEX "mappings_pending" ON "mappings" USING btree ("connection_id","status");--> statement-breakpoint
CREATE INDEX "tracker_calls_delivery" ON "tracker_calls" USING btree ("delivery_id");--> statement-breakpoint
CREATE INDEX "tracker_calls_connection" ON "tracker_calls" USING btree ("connection_id","at");