import { describe, expect, it } from 'vitest';
import { apiHeapSettings } from '../../src/cli/api-heap.ts';

describe('api heap settings', () => {
  it('holds the old generation to 20 % growth when Node was not told otherwise', () => {
    expect(apiHeapSettings(['--import', 'tsx', ''])).toEqual({ heapGrowingPercent: 20 });
    expect(apiHeapSettings(['--max-semi-space-size=4'])).toEqual({ heapGrowingPercent: 20 });
  });

  it("leaves it to the user's own flag, in either spelling", () => {
    expect(apiHeapSettings(['--heap-growing-percent=0'])).toEqual({});
    expect(apiHeapSettings(['--heap_growing_percent=50'])).toEqual({});
  });
});
