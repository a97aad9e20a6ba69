import { describe, expect, it } from 'vitest';
import { fieldWritesMutation } from '../../src/trackers/github-project/api.ts';
import { planFieldWrites } from '../../src/trackers/github-project/field-writes.ts';
import { fieldInput, itemToFields, projectSupportedFields } from '../../src/trackers/github-project/transform.ts';

const project = {
  id: 'PVT_1',
  title: 'Roadmap',
  url: 'https://github.com/orgs/acme/projects/1',
  ownerType: 'Organization',
  fields: [
    { id: 'S', name: 'Status', dataType: 'SINGLE_SELECT', options: [{ id: 'o1', name: 'Todo' }] },
    { id: 'H', name: 'Estimated Hours', dataType: 'NUMBER' },
    { id: 'R', name: 'Risk Level', dataType: 'SINGLE_SELECT', options: [{ id: 'r1', name: 'Low' }] },
    { id: 'B', name: 'Blocked By', dataType: 'TEXT' },
    { id: 'I', name: 'Sprint', dataType: 'ITERATION', iterations: [{ id: 'it1', title: 'Sprint 1' }] },
    { id: 'L', name: 'Labels', dataType: 'LABELS' },
  ],
};
const fieldMap = { complexity: 'Estimated Hours', risk: 'Risk Level', dependencies: 'Blocked By', sprint: 'Sprint', tags: 'Labels' };

describe('Projects v2 custom fields', () => {
  it('carries state, mapped core fields and every custom field of field_map', () => {
    expect(projectSupportedFields({ priority: 'P', ...fieldMap, title: 'Title' })).toEqual([
      'state',
      'priority',
      'fields.complexity',
      'fields.risk',
      'fields.dependencies',
      'fields.sprint',
      'fields.tags',
    ]);
  });

  it('converts each type to the one ProjectV2FieldValue member it takes', () => {
    const f = (name: string) => project.fields.find((x) => x.name === name)!;
    expect(fieldInput(f('Estimated Hours'), 5, 'Roadmap')).toEqual({ number: 5 });
    expect(fieldInput(f('Estimated Hours'), '2.5', 'Roadmap')).toEqual({ number: 2.5 });
    expect(fieldInput(f('Sprint'), 'sprint 1', 'Roadmap')).toEqual({ iterationId: 'it1' });
    expect(fieldInput(f('Blocked By'), ['WP01', 'WP02'], 'Roadmap')).toEqual({ text: 'WP01, WP02' });
    expect(fieldInput({ id: 'D', name: 'Due', dataType: 'DATE' }, '2026-12-24T10:00:00Z', 'Roadmap')).toEqual({ date: '2026-12-24' });
    expect(() => fieldInput(f('Sprint'), 'Sprint 9', 'Roadmap')).toThrow(
      'project "Roadmap" has no iteration "Sprint 9" in its "Sprint" field (it has: Sprint 1)',
    );
    expect(() => fieldInput(f('Risk Level'), ['Low', 'High'], 'Roadmap')).toThrow('holds one value and got a list');
  });

  it('refuses by name what the board cannot take and plans the rest', () => {
    const plan = planFieldWrites(
      project,
      { state: 'Todo', 'fields.complexity': 'lots', 'fields.risk': null, 'fields.sprint': 'Sprint 1', 'fields.tags': 'x' },
      'Status',
      fieldMap,
    );
    expect(plan.writes.map((w) => [w.field.name, w.value])).toEqual([
      ['Status', { singleSelectOptionId: 'o1' }],
      ['Risk Level', null],
      ['Sprint', { iterationId: 'it1' }],
    ]);
    expect(plan.refused.map((r) => r.field)).toEqual(['fields.complexity', 'fields.tags']);
    expect(plan.refused[0]!.message).toBe('"lots" is not a number for the number field "Estimated Hours" of project "Roadmap"');
    expect(plan.refused[1]!.message).toContain('is of type LABELS, which the project API cannot set');
  });

  it('builds one mutation document with an aliased write per field, the last answering the item', () => {
    const { query, variables } = fieldWritesMutation([
      { fieldId: 'H', value: { number: 3 } },
      { fieldId: 'B', value: null },
    ]);
    expect(query).toContain(
      'w0: updateProjectV2ItemFieldValue(input: { projectId: $projectId, itemId: $itemId, fieldId: $f0, value: $v0 })',
    );
    expect(query).toContain('w1: clearProjectV2ItemFieldValue(input: { projectId: $projectId, itemId: $itemId, fieldId: $f1 })');
    expect(query).toContain('$v0: ProjectV2FieldValue!');
    expect(variables).toEqual({ f0: 'H', v0: { number: 3 }, f1: 'B' });
    expect(query.indexOf('fieldValues')).toBeGreaterThan(query.indexOf('w1:'));
  });

  it('reads custom fields back as the board holds them, null when empty, text with commas as a list', () => {
    const fields = itemToFields(
      {
        id: 'PVTI_1',
        projectId: 'PVT_1',
        issue: null,
        values: new Map<string, string | number>([
          ['Estimated Hours', 3],
          ['Blocked By', 'WP01, WP02'],
          ['Sprint', 'Sprint 1'],
        ]),
      },
      'Status',
      fieldMap,
    );
    expect(fields).toEqual({
      'fields.complexity': 3,
      'fields.risk': null,
      'fields.dependencies': ['WP01', 'WP02'],
      'fields.sprint': 'Sprint 1',
      'fields.tags': null,
    });
  });
});
