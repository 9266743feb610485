/** What `farmbrain start` prints once everything runs: where to look, and what to try. */
import type { DemoFleet } from '../demoFleet.js';
import type { Palette } from '../output.js';

export interface BannerInput {
  /** The host to show in URLs (a wildcard bind shows as localhost). */
  host: string;
  port: number;
  namespace: string;
  fleet: DemoFleet | undefined;
  scopeLabel: string;
  /** Ops endpoint per instance name, as they printed it. */
  ops: ReadonlyMap<string, string>;
}

/** The banner as data (for --json) and as text. */
export function bannerFacts(b: BannerInput): Record<string, unknown> {
  const base = `http://${b.host}:${b.port}`;
  return {
    msg: 'farmbrain is running', namespace: b.namespace, dashboard: `${base}/`, gateway: base, docs: `${base}/docs`, mcp: `${base}/mcp`,
    ops: Object.fromEntries(b.ops), demoAgents: b.fleet?.agents ?? null, scopes: b.scopeLabel,
  };
}

export function bannerText(b: BannerInput, c: Palette): string {
  const { port, namespace, fleet } = b;
  const base = `http://${b.host}:${port}`;
  const cu = `localhost:${port}`;
  const agents = fleet?.agents;
  const a = agents?.[0];
  const me = fleet?.roster?.find((r) => r.id === a);
  const symbol = me?.symbols?.[0] ?? 'BTC-USD';
  const id = a ?? '<agent-id>';
  const ex = (comment: string, ...cmd: string[]) => [`    ${c.dim(`# ${comment}`)}`, ...cmd.map((l, i) => `    ${i > 0 ? '  ' : ''}${l}${i < cmd.length - 1 ? ' \\' : ''}`)];
  const json = `-H 'content-type: application/json'`;
  // The current situation of the symbol, so the example finds near neighbours.
  let situation = [0.5, 0.1, 0.2, 0.6];
  try {
    situation = fleet?.situation?.(symbol) ?? situation;
  } catch {
    // keep the example vector
  }
  const ops = [...b.ops].sort(([x], [y]) => x.localeCompare(y)).map(([name, url]) => `${name} ${url}`).join(', ');
  const lines = [
    '',
    c.bold('  farmbrain is running') + c.dim(`  (namespace ${namespace}, kept across runs)`),
    '',
    `  Dashboard  ${c.cyan(`${base}/`)}  (live feed, analytics, agents, tiers)`,
    `  Gateway    ${c.cyan(base)}`,
    `  API docs   ${c.cyan(`${base}/docs`)}`,
    `  MCP        ${c.cyan(`${base}/mcp`)}  (Streamable HTTP, stateless; the agent is the Fb-Agent-Id header)`,
    ...(ops ? [`  Ops        ${ops}  (/healthz, /readyz)`] : []),
    agents
      ? `  Demo fleet ${agents.length} agents: ${agents.join(', ')}; and ${fleet!.riskDesk} (fleet alerts, no trading)`
      : '  Demo fleet off (--no-demo): record events with the SDK or POST /v1/events',
    `  Scopes     ${b.scopeLabel}`,
    '',
    '  Try:',
    `    farmbrain status          ${c.dim('# who owns each partition, lag, checkpoints')}`,
    `    farmbrain dlq list        ${c.dim('# dead letters, and: farmbrain dlq replay <id>')}`,
    `    curl ${cu}/v1/agents`,
    ...(a
      ? [
          `    curl ${cu}/v1/agents/${a}`,
          `    curl '${cu}/v1/agents/${a}/positions?status=closed'`,
          `    curl '${cu}/v1/agents/${a}/memories?kind=lesson'`,
        ]
      : [`    curl ${cu}/readyz`]),
    '',
    '  Memory:',
    ...ex(`recall: the memories most relevant to a query (own, team and fleet); recorded as ${id}'s recall`,
      `curl -s ${cu}/v1/agents/${id}/recall ${json}`,
      `-d '{"query":"${symbol} volatile lessons risk","k":5}'`),
    ...ex('outcome-linked recall: past decisions in situations like [trend, volatility, funding, rsi/100], with P&L and win rate',
      `curl -s ${cu}/v1/agents/${id}/recall/decisions ${json}`,
      `-d '{"situation":${JSON.stringify(situation)},"symbol":"${symbol}","k":5,"includeTeam":true}'`),
    ...ex('what a decision was based on: take a decisionId (entries cite a recall: recallIds) from the decisions list',
      `curl -s '${cu}/v1/agents/${id}/decisions?limit=5'`),
    `    curl -s ${cu}/v1/agents/${id}/decisions/<decisionId>/context`,
    ...ex('  or in one go, with jq: the latest decision that cites a recall',
      `D=$(curl -s '${cu}/v1/agents/${id}/decisions?limit=100' | jq -r '[.items[] | select(.recallIds != [])][0].decisionId')`,
      `&& curl -s ${cu}/v1/agents/${id}/decisions/$D/context`),
    ...ex(`MCP: the memory tools, as ${id}`,
      `curl -s ${cu}/mcp -H 'Fb-Agent-Id: ${id}' ${json} -H 'accept: application/json, text/event-stream'`,
      `-d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"recall","arguments":{"query":"${symbol} lessons","k":3}}}'`),
    `    ${c.dim('#   (method "tools/list" lists them: remember, recall, recall_similar_decisions, decision_context)')}`,
    '',
    c.bold('  Ctrl-C to stop.'),
    '',
  ];
  return `${lines.join('\n')}\n`;
}
