// The sandbox Jira's workflow: statuses and the transitions between them. Jira changes a status
// only through a transition that leaves the current status (trackers.md §4.5), and real workflows
// do not link every status to every other. The default one below is shaped to exercise that:
//
//   To Do ──Start progress──▶ In Progress ──Request review──▶ In Review ──Approve──▶ Done
//     ▲  ◀──Stop progress──────────┘  ◀──Request changes───────┘                    │
//     └───────────────────────────────────Reopen────────────────────────────────────┘
//   To Do ──Won't do──▶ Won't Do   (no way out: a status nothing can leave)
//
// so To Do → Done needs three hops, In Progress → Done two, and Won't Do → anything is impossible.

export type StatusCategory = 'new' | 'indeterminate' | 'done';

export interface SandboxStatus {
  id: string;
  name: string;
  category: StatusCategory;
  description: string;
}

export interface SandboxTransition {
  id: string;
  name: string;
  /** Status ids it leaves from; 'any' for a global transition. */
  from: string[] | 'any';
  to: string;
}

export interface SandboxWorkflow {
  id: string;
  name: string;
  statuses: SandboxStatus[];
  /** The status a new issue starts in (the INITIAL transition's target). */
  initial: string;
  transitions: SandboxTransition[];
}

export interface WorkflowInput {
  name?: string;
  statuses: Array<{ name: string; category?: StatusCategory; id?: string }>;
  /** Name of the first status when omitted. */
  initial?: string;
  /** By status name; `from: 'any'` makes a global transition. */
  transitions: Array<{ name: string; from: string[] | 'any'; to: string; id?: string }>;
}

export const DEFAULT_WORKFLOW: WorkflowInput = {
  name: 'Sandbox Software Workflow',
  statuses: [
    { name: 'To Do', category: 'new' },
    { name: 'In Progress', category: 'indeterminate' },
    { name: 'In Review', category: 'indeterminate' },
    { name: 'Done', category: 'done' },
    { name: "Won't Do", category: 'done' },
  ],
  initial: 'To Do',
  transitions: [
    { name: 'Start progress', from: ['To Do'], to: 'In Progress' },
    { name: 'Request review', from: ['In Progress'], to: 'In Review' },
    { name: 'Stop progress', from: ['In Progress'], to: 'To Do' },
    { name: 'Approve', from: ['In Review'], to: 'Done' },
    { name: 'Request changes', from: ['In Review'], to: 'In Progress' },
    { name: 'Reopen', from: ['Done'], to: 'To Do' },
    { name: "Won't do", from: ['To Do'], to: "Won't Do" },
  ],
};

const CATEGORY_IDS: Record<StatusCategory, { id: number; key: string; colorName: string; name: string }> = {
  new: { id: 2, key: 'new', colorName: 'blue-gray', name: 'To Do' },
  indeterminate: { id: 4, key: 'indeterminate', colorName: 'yellow', name: 'In Progress' },
  done: { id: 3, key: 'done', colorName: 'green', name: 'Done' },
};

/** Builds a workflow; status ids come from `nextStatusId` so they are unique across the site. */
export function buildWorkflow(
  input: WorkflowInput,
  id: string,
  nextStatusId: () => string,
  existing: Map<string, SandboxStatus>,
): SandboxWorkflow {
  const statuses: SandboxStatus[] = input.statuses.map((s) => {
    // Statuses are site-wide in Jira: one named "Done" is shared by every workflow using it.
    const found = [...existing.values()].find((e) => e.name.toLowerCase() === s.name.toLowerCase());
    if (found) return found;
    const status: SandboxStatus = { id: s.id ?? nextStatusId(), name: s.name, category: s.category ?? 'indeterminate', description: '' };
    existing.set(status.id, status);
    return status;
  });
  const byName = (name: string) => {
    const s = statuses.find((x) => x.name.toLowerCase() === name.toLowerCase());
    if (!s) throw new Error(`workflow: no status "${name}"`);
    return s.id;
  };
  let n = 1;
  const transitions: SandboxTransition[] = input.transitions.map((t) => ({
    id: t.id ?? String(n++ * 10 + 1),
    name: t.name,
    from: t.from === 'any' ? 'any' : t.from.map(byName),
    to: byName(t.to),
  }));
  return { id, name: input.name ?? 'Sandbox Workflow', statuses, initial: byName(input.initial ?? input.statuses[0].name), transitions };
}

export function transitionsFrom(workflow: SandboxWorkflow, statusId: string): SandboxTransition[] {
  return workflow.transitions.filter((t) => t.from === 'any' || t.from.includes(statusId));
}

export function statusCategoryJson(baseUrl: string, category: StatusCategory): Record<string, unknown> {
  const c = CATEGORY_IDS[category];
  return { self: `${baseUrl}/rest/api/3/statuscategory/${c.id}`, id: c.id, key: c.key, colorName: c.colorName, name: c.name };
}

export function statusJson(baseUrl: string, s: SandboxStatus): Record<string, unknown> {
  return {
    self: `${baseUrl}/rest/api/3/status/${s.id}`,
    description: s.description,
    iconUrl: `${baseUrl}/images/icons/statuses/generic.png`,
    name: s.name,
    id: s.id,
    statusCategory: statusCategoryJson(baseUrl, s.category),
  };
}

/** POST /rest/api/3/workflows/preview's answer (WorkflowPreviewResponse) for one workflow. */
export function workflowPreviewJson(workflow: SandboxWorkflow, projectId: string, issueTypeIds: string[]): Record<string, unknown> {
  const category = { new: 'TODO', indeterminate: 'IN_PROGRESS', done: 'DONE' } as const;
  // The preview names statuses by a per-response reference; the sandbox uses "ref-<id>" so a
  // client that mixes references up with ids is caught.
  const ref = (id: string) => `ref-${id}`;
  return {
    statuses: workflow.statuses.map((s) => ({
      id: s.id,
      name: s.name,
      rawName: s.name,
      description: s.description,
      scope: { type: 'GLOBAL' },
      statusCategory: category[s.category],
      statusReference: ref(s.id),
    })),
    workflows: [
      {
        id: workflow.id,
        name: workflow.name,
        description: '',
        queryContext: [{ project: projectId, issueTypes: issueTypeIds }],
        scope: { type: 'GLOBAL' },
        startPointLayout: { x: 0, y: 0 },
        statuses: workflow.statuses.map((s, i) => ({
          deprecated: false,
          layout: { x: 100 + 200 * i, y: 200 },
          statusReference: ref(s.id),
        })),
        transitions: [
          {
            id: '1',
            name: 'Create',
            description: '',
            type: 'INITIAL',
            toStatusReference: ref(workflow.initial),
            links: [],
            actions: [],
            validators: [],
            triggers: [],
          },
          ...workflow.transitions.map((t) => ({
            id: t.id,
            name: t.name,
            description: '',
            type: t.from === 'any' ? 'GLOBAL' : 'DIRECTED',
            toStatusReference: ref(t.to),
            links: t.from === 'any' ? [] : t.from.map((f) => ({ fromPort: 0, fromStatusReference: ref(f), toPort: 0 })),
            actions: [],
            validators: [],
            triggers: [],
          })),
        ],
        version: { id: `${workflow.id}-v1`, versionNumber: 1 },
      },
    ],
  };
}
