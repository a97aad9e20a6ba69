import { describe, expect, it } from 'vitest';
import { labelFields, labelsOfField, readLabelFields } from '../../src/trackers/plane/label-fields.ts';

describe('Plane custom fields as prefixed labels', () => {
  const mapped = labelFields({ risk: 'label:risk-', level: 'label:risk-level-', areas: 'label:area:' });

  it('reads field_map entries that name a label prefix', () => {
    expect(mapped).toEqual([
      { field: 'fields.risk', prefix: 'risk-' },
      { field: 'fields.level', prefix: 'risk-level-' },
      { field: 'fields.areas', prefix: 'area:' },
    ]);
  });

  it('splits labels into plain labels and fields; the longest prefix owns its labels', () => {
    expect(readLabelFields(['backend', 'Risk-High', 'risk-level-2', 'area:ui', 'area:api'], mapped)).toEqual({
      labels: ['backend'],
      fields: { 'fields.risk': 'High', 'fields.level': '2', 'fields.areas': ['api', 'ui'] },
    });
    expect(readLabelFields(['backend', 'risk-'], mapped).fields['fields.risk']).toBeNull();
  });

  it('writes a value as its label, null as none, a list as its delta applied to what the work item holds', () => {
    const [risk, , areas] = mapped;
    expect(labelsOfField(risk!, 'high', 'low', 'low')).toEqual(['risk-high']);
    expect(labelsOfField(risk!, 3, undefined, undefined)).toEqual(['risk-3']);
    expect(labelsOfField(risk!, null, 'low', 'low')).toEqual([]);
    expect(labelsOfField(areas!, ['api'], ['api', 'db'], ['api', 'db', 'ui'])).toEqual(['area:api', 'area:ui']);
  });
});
