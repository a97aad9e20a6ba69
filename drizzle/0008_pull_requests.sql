-- Pull requests (issue 16): an item's branch and linked pull request, the pull requests Trackline
-- opened or follows per github connection (with the links written on other trackers), and the
-- pull request details of an `item.pr_changed` change.
CREATE TABLE "pull_requests" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"item_key" text NOT NULL,
	"connection_id" text NOT NULL,
	"number" integer,
	"url" text,
	"title" text,
	"state" text,
	"head" text NOT NULL,
	"base" text,
	"origin" text NOT NULL,
	"create_intent_at" timestamp with time zone,
	"reviewers_requested_at" timestamp with time zone,
	"remote_changed_at" timestamp with time zone,
	"remote_actor" text,
	"remote_updated_at" text,
	"last_error" text,
	"failed_for" text,
	"links" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "changes" ADD COLUMN "pull_request" jsonb;--> statement-breakpoint
ALTER TABLE "items" ADD COLUMN "branch" text;--> statement-breakpoint
ALTER TABLE "items" ADD COLUMN "pull_request_link" text;--> statement-breakpoint
ALTER TABLE "pull_requests" ADD CONSTRAINT "pull_requests_item_key_items_key_fk" FOREIGN KEY ("item_key") REFERENCES "public"."items"("key") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "pull_requests_connection_number" ON "pull_requests" USING btree ("connection_id","number");--> statement-breakpoint
CREATE UNIQUE INDEX "pull_requests_item_head" ON "pull_requests" USING btree ("item_key","connection_id","head");--> statement-breakpoint
CREATE INDEX "pull_requests_changed" ON "pull_requests" USING btree ("remote_changed_at");