import {
  customField,
  customName,
  fieldOfMapKey,
  isCustomField,
  type CustomFieldName,
  type FieldName,
  type FieldValues,
} from '../../sync/fields.ts';
import { TrackerError } from '../../sync/port/errors.ts';
import type { CallContext, CheckLine } from '../../sync/port/tracker.ts';
import type { JiraCatalog } from './catalog.ts';
import { FieldValueError, fromJiraValue, toJiraOperations, toJiraValue, type ItemFieldValue } from './custom-values.ts';
import type { MappedJiraField, ResolvedFieldMap } from './field-map.ts';
import type { JiraIssue } from './wire.ts';

/**
 * The item's custom fields in one Jira connection: which Jira fields carry them (field_map,
 * resolved by the catalog), what a create or an edit sends for them, and what an issue read
 * says of them. A value Jira could not take (an unmapped field, a wrong type, a missing option) is
 * refused here, before anything is sent, so the adapter can write the item's other fields and
 * report the refusal with the Jira field's name and the reason.
 */

/** A custom field the adapter cannot write, and why. */
export interface FieldRefusal {
  field: FieldName;
  message: string;
}

/** The custom-field part of one create or edit request. */
export interface CustomWrite {
  /** Values set whole, under the Jira field id. */
  fields: Record<string, unknown>;
  /** Additions and removals of multi-value fields (`update.<id>`). */
  update: Record<string, unknown[]>;
  /** Fields a create cannot set (not on the issue type's create screen): set by an edit right after. */
  afterCreate: Record<string, unknown>;
  refused: FieldRefusal[];
}

export class JiraCustomFields {
  /** The custom fields this connection carries, as the engine names them (`fields.risk`). */
  readonly supported: CustomFieldName[];
  /** The field_map entries naming custom fields, keyed as configured. */
  private readonly entries: Record<string, string>;
  private resolved: ResolvedFieldMap = { mapped: [], unmapped: [] };

  constructor(
    private readonly catalog: JiraCatalog,
    fieldMap: Readonly<Record<string, string>>,
  ) {
    this.entries = JiraCustomFields.customEntries(fieldMap);
    this.supported = Object.keys(this.entries).map((key) => fieldOfMapKey(key) as CustomFieldName);
  }

  /** The field_map entries this class carries (core keys such as `priority` are not among them). */
  static customEntries(fieldMap: Readonly<Record<string, string>>): Record<string, string> {
    return Object.fromEntries(Object.entries(fieldMap).filter(([key]) => isCustomField(fieldOfMapKey(key))));
  }

  get any(): boolean {
    return this.supported.length > 0;
  }

  /** The mapping resolved now (cached by the catalog); kept for the reads that follow. */
  async resolve(ctx: CallContext, fresh = false): Promise<ResolvedFieldMap> {
    if (!this.any) return this.resolved;
    this.resolved = await this.catalog.fieldMap(ctx, fresh);
    return this.resolved;
  }

  /** The Jira field ids a read asks for besides Trackline's own fields. */
  async readIds(ctx: CallContext): Promise<string[]> {
    return (await this.resolve(ctx)).mapped.map((m) => m.id);
  }

  /**
   * The custom fields of `changes`, converted for a create (`since` undefined) or an edit (lists
   * as additions and removals against `since` where it has them). A value naming an option the
   * cached metadata lacks is tried once more against fresh metadata (an option added in Jira).
   */
  async write(changes: FieldValues, ctx: CallContext, since?: FieldValues): Promise<CustomWrite> {
    const out: CustomWrite = { fields: {}, update: {}, afterCreate: {}, refused: [] };
    const wanted = Object.keys(changes).filter((k): k is CustomFieldName => isCustomField(k) && this.supported.includes(k));
    if (!wanted.length) return out;
    let resolved = await this.resolve(ctx);
    let refreshed = false;
    for (const field of wanted) {
      const value = (changes[field] ?? null) as ItemFieldValue;
      for (;;) {
        const mapped = this.mappedFor(resolved, field);
        const unmapped = this.unmappedFor(resolved, field);
        if (!mapped) {
          out.refused.push({
            field,
            message: `field_map.${customName(field)} = "${unmapped?.ref ?? '?'}": ${unmapped?.reason ?? 'not resolved'}`,
          });
          break;
        }
        try {
          const ops = since ? toJiraOperations(mapped, since[field] as ItemFieldValue | undefined, value) : null;
          if (ops) {
            if (ops.length) out.update[mapped.id] = ops;
          } else if (since === undefined && mapped.onCreateScreen === false) {
            out.afterCreate[mapped.id] = toJiraValue(mapped, value);
          } else {
            out.fields[mapped.id] = toJiraValue(mapped, value);
          }
          break;
        } catch (error) {
          if (!(error instanceof FieldValueError)) throw error;
          if (!refreshed && mapped.options && /has no option/.test(error.reason)) {
            refreshed = true;
            resolved = await this.resolve(ctx, true);
            continue;
          }
          out.refused.push({ field, message: error.message });
          break;
        }
      }
    }
    return out;
  }

  /**
   * When a request carrying exactly one custom field was refused by Jira itself (400: an option
   * disabled since the metadata was read, a field missing from the edit screen), that field is
   * the likely cause: the refusal naming it, for the adapter to send the request again without it.
   * Null when the request carried none or several (then Jira's answer stands as it is).
   */
  jiraRefusal(write: CustomWrite, error: unknown): FieldRefusal | null {
    if (!(error instanceof TrackerError) || error.kind !== 'client' || error.status !== 400) return null;
    const ids = [...new Set([...Object.keys(write.fields), ...Object.keys(write.update)])];
    if (ids.length !== 1) return null;
    const mapped = this.resolved.mapped.find((m) => m.id === ids[0]);
    if (!mapped) return null;
    return {
      field: fieldOfMapKey(mapped.local) as CustomFieldName,
      message: `Jira field "${mapped.name}" (${mapped.id}), mapped from ${fieldOfMapKey(mapped.local)}: Jira refused the value (${error.message})`,
    };
  }

  /**
   * The custom fields an issue read says: each mapped field Jira answered (null or the empty set
   * when it has no value). A field the answer leaves out is left out: "Jira does not say", never
   * "a person cleared it".
   */
  read(issue: JiraIssue): FieldValues {
    const out: FieldValues = {};
    const fields = (issue.fields ?? {}) as Record<string, unknown>;
    for (const m of this.resolved.mapped) {
      if (!(m.id in fields)) continue;
      out[customField(localName(m.local))] = fromJiraValue(m, fields[m.id]);
    }
    return out;
  }

  /** `trackline check`: one line per field_map entry, found or not (and why). */
  async checkLines(ctx: CallContext, fieldMap: Readonly<Record<string, string>>): Promise<CheckLine[]> {
    const lines: CheckLine[] = [];
    for (const key of Object.keys(fieldMap)) {
      if (!(key in this.entries)) {
        lines.push({
          ok: false,
          message: `field_map.${key}: Jira carries the item's ${key} itself (${key === 'milestone' ? 'as a fix version' : 'as its own field'}); it cannot be mapped to another field`,
          hint: `remove ${key} from field_map`,
        });
      }
    }
    if (!this.any) return lines;
    let resolved: ResolvedFieldMap;
    try {
      resolved = await this.resolve(ctx, true);
    } catch (error) {
      lines.push({
        ok: false,
        message: `Cannot read Jira's fields: ${(error as Error).message}`,
        hint: 'the user needs "Browse projects"',
      });
      return lines;
    }
    for (const m of resolved.mapped) {
      const options = m.options ? ` (options: ${m.options.join(', ') || 'none'})` : '';
      lines.push({
        ok: true,
        message: `field_map.${customName(fieldOfMapKey(m.local) as CustomFieldName)} maps to Jira field "${m.name}" (${m.id}, ${m.kind})${options}${
          m.onCreateScreen === false ? '; not on the create screen, so it is set right after a create' : ''
        }`,
      });
    }
    for (const u of resolved.unmapped) {
      lines.push({
        ok: false,
        message: `field_map.${customName(fieldOfMapKey(u.local) as CustomFieldName)} = "${u.ref}": ${u.reason}`,
        hint: 'fix field_map (a Jira field name or id such as customfield_10042) or add the field in Jira',
      });
    }
    return lines;
  }

  private mappedFor(resolved: ResolvedFieldMap, field: CustomFieldName): MappedJiraField | undefined {
    return resolved.mapped.find((m) => fieldOfMapKey(m.local) === field);
  }

  private unmappedFor(resolved: ResolvedFieldMap, field: CustomFieldName) {
    return resolved.unmapped.find((u) => fieldOfMapKey(u.local) === field);
  }
}

/** A field_map key as the item names the field: `risk` for both `risk` and `fields.risk`. */
function localName(key: string): string {
  const field = fieldOfMapKey(key);
  return isCustomField(field) ? customName(field) : key;
}
