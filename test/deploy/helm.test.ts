import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { parseAgentConfig } from '../../src/agent/agent-config.js';
import { parseConfig } from '../../src/config/load.js';
import { temporaryDirectory } from '../support/temp-dir.js';

/**
 * The chart rendered by the real helm (v4, scripts/install-helm.sh), linted with --strict, its values checked by
 * values.schema.json (helm applies it), and every object it renders validated against the Kubernetes OpenAPI schemas
 * (kubernetes-models; the ServiceMonitor against the Prometheus Operator's CRD schema). No cluster: nothing is applied.
 */
const root = new URL('../..', import.meta.url).pathname;
const chart = join(root, 'deploy/helm/gatehouse');
const agentChart = join(root, 'deploy/helm/gatehouse-agent');
let helm: string;

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests are read field by field below
  spec?: any;
  data?: Record<string, string>;
}

function runHelm(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(helm, args, { encoding: 'utf8', timeout: 60_000 });
}

function render(valuesFiles: string[], set: string[] = [], chartDir = chart): K8sObject[] {
  const args = ['template', 'gh', chartDir, '--namespace', 'gatehouse'];
  for (const file of valuesFiles) args.push('-f', join(chartDir, file));
  for (const value of set) args.push('--set', value);
  const result = runHelm(args);
  assert.equal(result.status, 0, result.stderr);
  return parseAllDocuments(result.stdout)
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((doc): doc is K8sObject => doc !== null);
}

/** Where each apiVersion's models live: kubernetes-models for the core APIs, the operator's package for its CRDs. */
async function validateAgainstSchema(object: K8sObject): Promise<void> {
  const module =
    object.apiVersion === 'monitoring.coreos.com/v1'
      ? await import('@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1')
      : await import(`kubernetes-models/${object.apiVersion}`);
  const Model = (module as Record<string, new (data: unknown) => { validate(): void }>)[object.kind];
  assert.ok(Model, `a schema for ${object.apiVersion} ${object.kind}`);
  new Model(object).validate();
}

const find = (objects: K8sObject[], kind: string, name?: string) =>
  objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));

describe('deploy/helm/gatehouse', () => {
  before(() => {
    const installed = spawnSync('bash', [join(root, 'scripts/install-helm.sh')], {
      encoding: 'utf8',
      timeout: 300_000,
    });
    assert.equal(installed.status, 0, installed.stderr);
    helm = installed.stdout.trim();
    assert.match(runHelm(['version', '--short']).stdout, /^v\d+\./);
  });

  test('helm lint --strict passes with the default values and with each ci/ values file', () => {
    for (const values of [[], ['ci/production-values.yaml'], ['ci/minimal-values.yaml']]) {
      const result = runHelm(['lint', '--strict', chart, ...values.flatMap((file) => ['-f', join(chart, file)])]);
      assert.equal(result.status, 0, `${values.join(' ') || 'defaults'}: ${result.stdout}${result.stderr}`);
    }
  });

  test('every rendered object is valid against the Kubernetes (and Prometheus Operator) schemas', async () => {
    for (const values of [[], ['ci/production-values.yaml'], ['ci/minimal-values.yaml']]) {
      for (const object of render(values)) await validateAgainstSchema(object);
    }
    // The validation can fail: a Deployment with a word for its replica count is refused.
    const [deployment] = find(render(['ci/production-values.yaml']), 'Deployment');
    assert.ok(deployment);
    await assert.rejects(validateAgainstSchema({ ...deployment, spec: { ...deployment.spec, replicas: 'two' } }));
  });

  test('two replicas on the PostgreSQL store: Deployment, a Service per listener, probes, PDB, ServiceMonitor, non-root', () => {
    const objects = render(['ci/production-values.yaml']);
    const [deployment] = find(objects, 'Deployment', 'gh-gatehouse');
    assert.equal(deployment?.spec.replicas, 2);
    const pod = deployment?.spec.template.spec;
    const [container] = pod.containers;
    assert.equal(container.image, 'registry.example.com/gatehouse:0.1.0');
    assert.deepEqual(container.args, ['serve', '-c', '/etc/gatehouse/gatehouse.yaml']);
    assert.deepEqual(container.livenessProbe.httpGet, { path: '/healthz', port: 'admin' });
    assert.deepEqual(container.readinessProbe.httpGet, { path: '/readyz', port: 'admin' });
    assert.deepEqual(container.resources.requests, { cpu: '250m', memory: '256Mi' });
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    const services = Object.fromEntries(find(objects, 'Service').map((s) => [s.metadata.name, s.spec]));
    assert.deepEqual(Object.keys(services).sort(), [
      'gh-gatehouse-admin',
      'gh-gatehouse-agents',
      'gh-gatehouse-http',
      'gh-gatehouse-mcp',
      'gh-gatehouse-postgres',
    ]);
    // MCP sessions live in one pod: its Service keeps a client on the pod that opened its session.
    assert.equal(services['gh-gatehouse-mcp'].sessionAffinity, 'ClientIP');
    assert.equal(services['gh-gatehouse-http'].sessionAffinity, undefined);
    assert.equal(services['gh-gatehouse-postgres'].type, 'LoadBalancer');
    assert.deepEqual(services['gh-gatehouse-postgres'].ports, [
      { name: 'postgres', port: 5432, targetPort: 'postgres', protocol: 'TCP' },
    ]);
    assert.equal(services['gh-gatehouse-admin'].type, 'ClusterIP');
    assert.equal(find(objects, 'PodDisruptionBudget')[0]?.spec.maxUnavailable, 1);
    const [monitor] = find(objects, 'ServiceMonitor');
    assert.deepEqual(monitor?.spec.endpoints, [{ port: 'admin', path: '/metrics', interval: '30s' }]);
    assert.equal(monitor?.metadata.labels?.release, 'prometheus');
    // The minimal values: no PDB, no ServiceMonitor (off by default).
    const minimal = render(['ci/minimal-values.yaml']);
    assert.equal(find(minimal, 'PodDisruptionBudget').length, 0);
    assert.equal(find(minimal, 'ServiceMonitor').length, 0);
  });

  test("the ConfigMap's gatehouse.yaml passes the gateway's own validation; secrets arrive only by reference", () => {
    const objects = render(['ci/production-values.yaml']);
    const text = find(objects, 'ConfigMap')[0]?.data?.['gatehouse.yaml'] ?? '';
    const env = {
      GATEHOUSE_STORE_URL: 'postgres://gatehouse:pw@store:5432/gatehouse',
      OPENAI_API_KEY: 'sk-test',
      ORDERS_DB_PASSWORD: 'orders-pw',
      TOOLS_MCP_TOKEN: 'tools-token',
    };
    const dir = temporaryDirectory('gatehouse-helm-');
    writeFileSync(join(dir, 'gatehouse.yaml'), text);
    const { config } = parseConfig(text, join(dir, 'gatehouse.yaml'), env);
    assert.deepEqual(config.store, { postgres: { url: env.GATEHOUSE_STORE_URL, writerThread: false } });
    assert.equal(config.postgres.tls?.cert, '/etc/gatehouse/tls/tls.crt');
    assert.equal(config.listen.admin?.port, 9090);
    // The agents' listener: set from values, its certificate from the mounted Secret, exposed by a Service.
    assert.equal(config.agents?.listen.port, 7443);
    assert.equal(config.agents?.tls.cert, '/etc/gatehouse/agents-tls/tls.crt');
    assert.ok(find(objects, 'Service').some((s) => s.metadata.name.endsWith('-agents')));
    assert.ok(!find(render(['ci/minimal-values.yaml']), 'Service').some((s) => s.metadata.name.endsWith('-agents')));
    // The MCP listener likewise, with the container port the Service targets.
    assert.equal(config.listen.mcp?.port, 8090);
    const ports = find(objects, 'Deployment')[0]?.spec.template.spec.containers[0].ports as { name: string }[];
    assert.ok(ports.some((port) => port.name === 'mcp'));
    assert.ok(!find(render(['ci/minimal-values.yaml']), 'Service').some((s) => s.metadata.name.endsWith('-mcp')));
    assert.throws(() => parseConfig(text, join(dir, 'gatehouse.yaml'), {}), /GATEHOUSE_STORE_URL/);
    // Nothing secret is rendered: no Secret object, and every variable but the health URL comes from a secretKeyRef.
    assert.equal(find(objects, 'Secret').length, 0);
    const [deployment] = find(objects, 'Deployment');
    const vars = deployment?.spec.template.spec.containers[0].env as {
      name: string;
      value?: string;
      valueFrom?: unknown;
    }[];
    for (const v of vars.filter((v) => v.name !== 'GATEHOUSE_HEALTH_URL')) {
      assert.equal(v.value, undefined, `${v.name} has no value in clear`);
      assert.ok(v.valueFrom, `${v.name} comes from a Secret`);
    }
    assert.doesNotMatch(JSON.stringify(objects), /sk-test|orders-pw/);
  });

  test('values.schema.json refuses secrets in values, a development issuer, and two replicas without PostgreSQL', () => {
    const refused = (set: string[], why: RegExp) => {
      const result = runHelm(['template', 'gh', chart, ...set.flatMap((s) => ['--set', s])]);
      assert.notEqual(result.status, 0, `${set.join(' ')} was accepted`);
      assert.match(result.stderr, why);
    };
    refused(['config.store.postgres.url=postgres://u:secret@db/gatehouse'], /does not match pattern/);
    refused(['extraEnv.DB_PASSWORD=secret'], /invalid propertyName 'DB_PASSWORD'/);
    refused(['config.identity.devIssuer.enabled=true'], /devIssuer\/enabled/);
    refused(['config.store=null'], /missing property 'store'/);
    refused(['config.listen.http=8080'], /listen|not/);
    refused(['replicas=2'], /additional properties 'replicas'|replicas/);
  });
});

describe('deploy/helm/gatehouse-agent', () => {
  before(() => {
    const installed = spawnSync('bash', [join(root, 'scripts/install-helm.sh')], {
      encoding: 'utf8',
      timeout: 300_000,
    });
    assert.equal(installed.status, 0, installed.stderr);
    helm = installed.stdout.trim();
  });
  const valueSets = [[], ['ci/production-values.yaml'], ['ci/minimal-values.yaml']];
  const renderAgent = (values: string[], set: string[] = []) => render(values, set, agentChart);

  test('helm lint --strict passes and every rendered object is valid against the Kubernetes schemas', async () => {
    for (const values of valueSets) {
      const result = runHelm([
        'lint',
        '--strict',
        agentChart,
        ...values.flatMap((file) => ['-f', join(agentChart, file)]),
      ]);
      assert.equal(result.status, 0, `${values.join(' ') || 'defaults'}: ${result.stdout}${result.stderr}`);
      for (const object of renderAgent(values)) await validateAgainstSchema(object);
    }
    const [deployment] = find(renderAgent(['ci/production-values.yaml']), 'Deployment');
    assert.ok(deployment);
    await assert.rejects(validateAgainstSchema({ ...deployment, spec: { ...deployment.spec, replicas: 'two' } }));
  });

  test('a Deployment running `gatehouse agent`, non-root, read-only root, no Service, projected token, PDB only above one replica', () => {
    const objects = renderAgent(['ci/production-values.yaml']);
    assert.deepEqual(objects.map((o) => o.kind).sort(), [
      'ConfigMap',
      'Deployment',
      'PodDisruptionBudget',
      'ServiceAccount',
    ]);
    const [deployment] = find(objects, 'Deployment', 'gh-gatehouse-agent');
    assert.equal(deployment?.spec.replicas, 2);
    const pod = deployment?.spec.template.spec;
    const [container] = pod.containers;
    assert.deepEqual(container.args, ['agent', '-c', '/etc/gatehouse-agent/agent.yaml']);
    assert.equal(container.ports, undefined, 'the agent listens on nothing');
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(pod.automountServiceAccountToken, false);
    assert.deepEqual(container.resources.requests, { cpu: '50m', memory: '96Mi' });
    const volumes = Object.fromEntries(pod.volumes.map((v: { name: string }) => [v.name, v]));
    assert.deepEqual(volumes.token.projected.sources, [
      { serviceAccountToken: { path: 'token', audience: 'gatehouse-agents', expirationSeconds: 600 } },
    ]);
    assert.deepEqual(volumes['gateway-ca'].configMap, {
      name: 'gatehouse-ca',
      items: [{ key: 'ca.crt', path: 'ca.crt' }],
    });
    const mounts = Object.fromEntries(
      container.volumeMounts.map((m: { name: string; mountPath: string }) => [m.name, m.mountPath]),
    );
    assert.equal(mounts.token, '/var/run/secrets/gatehouse');
    assert.equal(mounts['gateway-ca'], '/etc/gatehouse-agent/ca');
    assert.equal(find(objects, 'PodDisruptionBudget')[0]?.spec.maxUnavailable, 1);
    const minimal = renderAgent(['ci/minimal-values.yaml']);
    assert.equal(find(minimal, 'PodDisruptionBudget').length, 0);
    const ca = find(minimal, 'Deployment')[0]?.spec.template.spec.volumes.find(
      (v: { name: string }) => v.name === 'gateway-ca',
    );
    assert.deepEqual(ca.secret, { secretName: 'gatehouse-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] });
  });

  test("the ConfigMap's agent.yaml passes the agent's own validation, its files are the mounted ones, secrets by reference", () => {
    const objects = renderAgent(['ci/production-values.yaml']);
    const text = find(objects, 'ConfigMap')[0]?.data?.['agent.yaml'] ?? '';
    const env = { ORDERS_DB_PASSWORD: 'orders-pw', OPENAI_API_KEY: 'sk-test' };
    const document = parseAllDocuments(text)[0]?.toJS();
    const { config } = parseAgentConfig(document, '/etc/gatehouse-agent', 'agent.yaml', env);
    assert.equal(config.token.file, '/var/run/secrets/gatehouse/token');
    assert.equal(config.gateway.ca, '/etc/gatehouse-agent/ca/ca.crt');
    const [orders, llm] = config.resources;
    assert.equal(orders?.protocol === 'postgres' && orders.target.password, 'orders-pw');
    assert.equal(llm?.protocol === 'http' && llm.credential?.value, 'Bearer sk-test');
    assert.throws(() => parseAgentConfig(document, '/etc/gatehouse-agent', 'agent.yaml', {}), /ORDERS_DB_PASSWORD/);
    assert.equal(find(objects, 'Secret').length, 0);
    const vars = find(objects, 'Deployment')[0]?.spec.template.spec.containers[0].env as {
      name: string;
      value?: string;
      valueFrom?: { secretKeyRef?: { name: string; key: string } };
    }[];
    assert.deepEqual(
      vars.map((v) => [v.name, v.value, v.valueFrom?.secretKeyRef]),
      [
        ['OPENAI_API_KEY', undefined, { name: 'openai', key: 'api-key' }],
        ['ORDERS_DB_PASSWORD', undefined, { name: 'orders-db', key: 'password' }],
      ],
    );
    assert.doesNotMatch(JSON.stringify(objects), /sk-test|orders-pw/);
  });

  test('values.schema.json refuses secrets in values, a chart-owned token or CA path, two CA sources, a short token', () => {
    const refused = (set: string[], why: RegExp) => {
      const result = runHelm(['template', 'gh', agentChart, ...set.flatMap((s) => ['--set', s])]);
      assert.notEqual(result.status, 0, `${set.join(' ')} was accepted`);
      assert.match(result.stderr, why);
    };
    const resource = 'agent.resources[0].name=orders,agent.resources[0].protocol=postgres';
    refused([`${resource},agent.resources[0].target.password=hunter2`], /does not match pattern/);
    refused(['agent.resources[0].credential.value=Bearer sk-live'], /does not match pattern/);
    refused(['secretEnv.db-password.secret=x,secretEnv.db-password.key=y'], /invalid propertyName/);
    refused(['agent.token.file=/tmp/token'], /at '\/agent': 'not' failed/);
    refused(['agent.gateway.ca=/tmp/ca.pem'], /at '\/agent\/gateway': 'not' failed/);
    refused(['gatewayCa.secret=a,gatewayCa.configMap=b'], /at '\/gatewayCa': 'not' failed/);
    refused(['token.expirationSeconds=60'], /expirationSeconds/);
    refused(['replicaCount=0'], /replicaCount/);
  });
});
