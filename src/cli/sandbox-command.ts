import { UsageError } from './errors.ts';

/** `trackline sandbox`: in-memory tracker APIs with a seeded Plane project, until Ctrl-C. */
export async function runSandbox(values: Record<string, string | boolean | undefined>): Promise<number> {
  const port = values.port === undefined ? 8090 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0-65535, got "${values.port}"`);
  let rate: { requests: number; perMs: number } | undefined;
  if (typeof values['rate-limit'] === 'string') {
    const m = /^(\d+)\/(\d+(?:\.\d+)?)$/.exec(values['rate-limit']);
    if (!m) throw new UsageError('--rate-limit takes REQUESTS/SECONDS, e.g. 60/60');
    rate = { requests: Number(m[1]), perMs: Number(m[2]) * 1000 };
  }
  const apiKey = (values['api-key'] as string | undefined) ?? 'plane_api_sandbox';
  const { createSandbox } = await import('../../sandbox/server.ts');
  const { SANDBOX_PROJECT_FIELDS } = await import('../../sandbox/github/store.ts');
  const sandbox = createSandbox();
  const project = sandbox.plane.seedProject({ workspace: 'acme', identifier: 'ET', name: 'Example Team', apiKeys: [apiKey] });
  // GitHub: an organization's repository with the status labels of a typical state_map, and a board.
  sandbox.github.store.seedRepo({
    owner: 'acme',
    ownerType: 'Organization',
    repo: 'app',
    tokens: [{ token: 'ghp_sandbox', login: 'trackline-bot' }],
    labels: ['todo', 'in-progress', 'in-review'],
  });
  // The fields of README's field_map example (complexity, risk, dependencies), a date and an iteration.
  sandbox.github.store.seedProject({ owner: 'acme', number: 1, title: 'Roadmap', fields: SANDBOX_PROJECT_FIELDS });
  // Jira: project ET with the workflow of sandbox/jira/workflow.ts, an API user and one person.
  const jira = sandbox.jira.seedProject({
    key: 'ET',
    name: 'Example Team',
    users: [
      { email: 'trackline-bot@example.com', displayName: 'Trackline Bot', apiToken: 'jira_sandbox' },
      { email: 'alice@example.com', displayName: 'Alice' },
    ],
  });
  if (rate) sandbox.rateLimit.configure(rate);
  const { url, close } = await sandbox.listen(port, '127.0.0.1');
  console.log(`Sandbox trackers on ${url}
  Plane: base_url = "${url}", workspace = "acme", project = "${project.projectId}", api_key = "${apiKey}"
  GitHub: base_url = "${url}/api/v3", owner = "acme", repo = "app", token = "ghp_sandbox" (github-project: project_number = 1)
  Jira: base_url = "${url}", project_key = "ET", email = "trackline-bot@example.com", api_token = "jira_sandbox"
    custom fields for field_map: ${Object.entries(jira.customFields)
      .map(([name, id]) => `"${name}" (${id})`)
      .join(', ')}
  Requests it received: GET ${url}/_sandbox/requests
  Rate limit: ${rate ? `${rate.requests} per ${rate.perMs / 1000} s` : 'off'}
Ctrl-C stops it.`);
  const stop = async () => {
    await close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  return -1;
}
