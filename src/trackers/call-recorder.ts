/**
 * Where tracker calls are reported. The worker batches them into the tracker_calls table; tests
 * read them to count API calls. Kept as an interface so trackers never import the database.
 */
export interface TrackerCall {
  connectionId: string;
  deliveryId?: string;
  method: string;
  /** Path without the query string: query values may carry identifiers nobody needs in logs. */
  path: string;
  status?: number;
  durationMs: number;
  rateLimit?: Record<string, string>;
  error?: string;
  at: Date;
}

export interface CallRecorder {
  record(call: TrackerCall): void;
}

export const discardCalls: CallRecorder = { record: () => {} };
