import { z } from 'zod';

/**
 * The orchestrator's event contract (DESIGN 4.3). Unknown keys are ignored rather than refused so
 * an orchestrator that sends more than Trackline reads keeps working; wrong types are refused
 * with the field's path.
 */
export const MAX_EVENTS_PER_REQUEST = 500;

const text = (max: number) => z.string().max(max, `at most ${max} characters`);

export const ItemSchema = z.object({
  key: z
    .string()
    .min(1, 'must not be empty')
    .max(255)
    .regex(/^[^\s\u0000]+$/, 'must not contain whitespace'),
  kind: text(64).min(1).optional(),
  title: text(1000).optional(),
  body: text(200_000).optional(),
  state: text(100).min(1).optional(),
  labels: z.array(text(100).min(1)).max(100).optional(),
  assignees: z.array(text(200).min(1)).max(50).optional(),
  milestone: text(255).nullable().optional(),
  priority: text(50).nullable().optional(),
  /**
   * Custom fields, flat: name -> text (a date as an ISO string), a number, null (clears it) or a
   * list of text (a multi-select, merged as a set like labels). A connection carries the ones its
   * `field_map` names.
   */
  fields: z
    .preprocess(
      (value, ctx) => {
        // A record schema drops a "__proto__" key without a word; refuse it instead, so nothing
        // the orchestrator sent disappears silently.
        if (value !== null && typeof value === 'object' && Object.hasOwn(value, '__proto__')) {
          ctx.addIssue({ code: 'custom', message: '"__proto__" cannot name a field' });
          return z.NEVER;
        }
        return value;
      },
      z.record(
        z.string().min(1).max(100),
        z.union([z.string().max(10_000), z.number(), z.null(), z.array(text(255)).max(100)], {
          error: 'must be text, a number, null or a list of text',
        }),
      ),
    )
    .optional(),
  /**
   * The git branch the item's work is on; a pull request is opened from it (README "Pull
   * requests"). A git ref name: no spaces, `..`, `~^:?*[\`, leading or trailing `/` or `.lock`. Null forgets it.
   */
  branch: z
    .string()
    .max(255)
    .regex(/^(?!\/)(?!.*\/\/)(?!.*\.\.)(?!.*@\{)[^\s~^:?*[\\\u0000-\u001f\u007f]+(?<![/.])(?<!\.lock)$/, 'is not a git branch name')
    .nullable()
    .optional(),
  /**
   * connection id -> existing remote issue (identifier, number or id) to attach instead of creating;
   * and the reserved key `pull_request`: the item's existing pull request (`"#123"`).
   */
  links: z.record(z.string(), z.union([z.string().min(1).max(255), z.number().int().positive()])).optional(),
});

const KeyOnly = z.object({ key: ItemSchema.shape.key });

const actor = text(200).optional();

export const UpsertEvent = z.object({
  type: z.literal('item.upserted'),
  item: ItemSchema,
  /**
   * Push the fields this event gives wherever the tracker differs, even where the last sync says
   * nothing changed, and past the re-open and close guards (`reopen`, `close_issues`).
   */
  force: z.boolean().optional(),
  comment: text(65_000).optional(),
  actor,
});

export const CommentEvent = z
  .object({
    type: z.literal('item.comment'),
    key: ItemSchema.shape.key.optional(),
    item: KeyOnly.optional(),
    comment: text(65_000).min(1),
    actor,
  })
  .refine((e) => e.key || e.item, { message: 'needs "key" or "item.key"', path: ['key'] });

export const DeleteEvent = z
  .object({
    type: z.literal('item.deleted'),
    key: ItemSchema.shape.key.optional(),
    item: KeyOnly.optional(),
    actor,
  })
  .refine((e) => e.key || e.item, { message: 'needs "key" or "item.key"', path: ['key'] });

export const EventSchema = z.discriminatedUnion('type', [UpsertEvent, CommentEvent, DeleteEvent]);
export type OrchestratorEvent = z.infer<typeof EventSchema>;

export const EventsBody = z.union([
  z.object({
    events: z
      .array(EventSchema)
      .min(1, 'must hold at least one event')
      .max(MAX_EVENTS_PER_REQUEST, `at most ${MAX_EVENTS_PER_REQUEST} events per request`),
  }),
  EventSchema,
]);

export const EventsAccepted = z.object({
  events: z.array(z.object({ id: z.string(), key: z.string(), version: z.number().int() })),
});

export function eventKey(event: OrchestratorEvent): string {
  if (event.type === 'item.upserted') return event.item.key;
  return (event.key ?? event.item?.key) as string;
}
