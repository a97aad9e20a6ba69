import { createRuntime } from '../runtime.ts';
import { DeliveryNotFoundError, DeliveryNotRetryableError, retryDelivery } from '../operator/retry-delivery.ts';
import { CliError, UsageError } from './errors.ts';
import { operatorName } from './resolve-command.ts';

/** `trackline replay DELIVERY_ID`: run a delivery again (recorded with the operator's name). */
export async function runReplay(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<number> {
  if (positionals.length !== 1 || !/^[0-9a-f-]{36}$/i.test(positionals[0]))
    throw new UsageError('expected one delivery id (a uuid; see GET /v1/deliveries)');
  const actor = operatorName(values);
  const runtime = await createRuntime({ role: 'api', migrate: false });
  try {
    const done = await retryDelivery(runtime.db.sql, runtime.queues, positionals[0], actor);
    console.log(`✓ ${done.kind} delivery ${done.id}: ${done.how} by ${actor}`);
    return 0;
  } catch (error) {
    if (error instanceof DeliveryNotFoundError || error instanceof DeliveryNotRetryableError) throw new CliError(error.message);
    throw error;
  } finally {
    await runtime.close();
  }
}
