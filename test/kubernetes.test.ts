/**
 * deploy/kubernetes, without a cluster:
 * - every overlay and the monitoring objects rendered by kustomize (kubectl's own, or the
 *   standalone binary: test/helpers/kustomize.ts), and every object validated against the
 *   Kubernetes API schemas and the prometheus-operator CRD schemas (kubernetes-models);
 * - what the issue asks of them: an unprivileged pod, the config from a hashed ConfigMap,
 *   the secret from a mounted Secret, N written once, the network policy, the PodMonitor;
 * - the generated PrometheusRule and dashboard ConfigMap equal to what
 *   scripts/kubernetes-monitoring.ts makes of deploy/prometheus/rules and the dashboard;
 * - the pods of each overlay run for real: pods 0 … N-1 as processes with the command line
 *   (the image's ENTRYPOINT and the container's args) and environment the rendered
 *   StatefulSet gives them, their volumes under a temporary root, against the simulator:
 *   every target probed, by exactly one of them.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { PodMonitor, type IPodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { PrometheusRule, type IPrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { StatefulSet, type IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { NetworkPolicy, type INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget, type IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap, type IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { Namespace, type INamespace } from 'kubernetes-models/v1/Namespace';
import { Service, type IService } from 'kubernetes-models/v1/Service';
import { ServiceAccount, type IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { parse as parseYaml, parseAllDocuments, parseDocument, visit } from 'yaml';
import {
  DASHBOARD_CONFIGMAP_FILE,
  DASHBOARD_FILE,
  generate,
  GRAFANA_DASHBOARD_LABEL,
  PROMETHEUS_RULE_FILE,
  rulesFiles,
} from '../scripts/kubernetes-monitoring.js';
import { selectShard } from '../src/config/shard.js';
import { startSimulator } from '../src/simulator/simulator.js';
import { logLines, type ChildLog, type LogLine } from './helpers/child-log.js';
import { envOf, execForm, one, parseDockerfile } from './helpers/dockerfile.js';
import { SECRET } from './helpers/harness.js';
import { findKustomize } from './helpers/kustomize.js';
import { parseProm, select } from './helpers/prom-text.js';

const ROOT = process.cwd();
const K8S = 'deploy/kubernetes';
const OVERLAYS = readdirSync(join(ROOT, K8S, 'overlays')).sort();
const MONITORING = `${K8S}/monitoring`;
/** The label Kubernetes (>= 1.28) puts on each StatefulSet pod: its ordinal. */
const POD_INDEX_LABEL = 'apps.kubernetes.io/pod-index';

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/** The model of each kind the manifests use; an object of any other kind fails the test. */
const MODELS: Record<string, (o: K8sObject) => { validate(): void }> = {
  'v1/Namespace': (o) => new Namespace(o as INamespace),
  'v1/ServiceAccount': (o) => new ServiceAccount(o as IServiceAccount),
  'v1/Service': (o) => new Service(o as IService),
  'v1/ConfigMap': (o) => new ConfigMap(o as IConfigMap),
  'apps/v1/StatefulSet': (o) => new StatefulSet(o as IStatefulSet),
  'policy/v1/PodDisruptionBudget': (o) => new PodDisruptionBudget(o as IPodDisruptionBudget),
  'networking.k8s.io/v1/NetworkPolicy': (o) => new NetworkPolicy(o as INetworkPolicy),
  'monitoring.coreos.com/v1/PodMonitor': (o) => new PodMonitor(o as unknown as IPodMonitor),
  'monitoring.coreos.com/v1/PrometheusRule': (o) => new PrometheusRule(o as unknown as IPrometheusRule),
};

/** Validates `o` against its kind's schema; throws naming the object and every problem. */
function validate(o: K8sObject): void {
  const model = MODELS[`${o.apiVersion}/${o.kind}`];
  assert.ok(model, `${o.apiVersion} ${o.kind} ${o.metadata.name}: no schema known here; add its model to MODELS`);
  try {
    model(o).validate();
  } catch (err) {
    throw new Error(`${o.kind} ${o.metadata.name} is not valid: ${(err as Error).message}`);
  }
}

const kustomize = findKustomize(ROOT);

/** The objects `kubectl apply -k DIR` would send, as kustomize renders them. */
function render(dir: string): K8sObject[] {
  if (kustomize instanceof Error) throw kustomize;
  const [cmd, args] = kustomize.command(resolve(ROOT, dir));
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${kustomize.name} on ${dir}: ${r.stderr}`);
  // Deprecated fields and the like are warned on stderr: the manifests should have none.
  assert.equal(r.stderr, '', `${kustomize.name} warned on ${dir}`);
  return parseAllDocuments(r.stdout).map((doc) => {
    assert.deepEqual(doc.errors, [], dir);
    return doc.toJS() as K8sObject;
  });
}

const rendered = new Map<string, K8sObject[]>();
function objectsOf(dir: string): K8sObject[] {
  let objects = rendered.get(dir);
  if (!objects) rendered.set(dir, (objects = render(dir)));
  return objects;
}

function only<T>(objects: K8sObject[], kind: string, name?: string): T {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  assert.equal(found.length, 1, `one ${kind}${name ? ` ${name}` : ''}: ${found.length}`);
  return found[0] as T;
}

function need<T>(value: T | undefined | null, what: string): T {
  assert.ok(value !== undefined && value !== null, `${what} is missing`);
  return value;
}

function statefulSet(overlay: string) {
  const sts = only<IStatefulSet>(objectsOf(`${K8S}/overlays/${overlay}`), 'StatefulSet');
  const spec = need(sts.spec, 'StatefulSet spec');
  const pod = need(spec.template.spec, 'pod template spec');
  assert.equal(pod.containers.length, 1, 'one container');
  return { sts, spec, pod, container: pod.containers[0]! };
}

/** `--shard=auto/N` among the container's args: N, or undefined when absent. */
function shardTotal(container: IContainer): number | undefined {
  const shard = (container.args ?? []).filter((a) => a.startsWith('--shard'));
  assert.ok(shard.length <= 1, `one --shard at most: ${shard.join(' ')}`);
  if (shard.length === 0) return undefined;
  const m = /^--shard=auto\/(\d+)$/.exec(shard[0]!);
  assert.ok(m, `--shard=auto/N, not ${shard[0]}: pods share one template, so only auto can tell them apart`);
  return Number(m[1]);
}

/** The configuration the overlay's pods read: the ConfigMap their volume names. */
function podConfig(overlay: string): { configMap: IConfigMap; text: string } {
  const { pod, container } = statefulSet(overlay);
  const configArg = (container.args ?? []).indexOf('--config');
  const path = need(container.args?.[configArg + 1], '--config FILE');
  const mount = need(container.volumeMounts?.find((m) => path.startsWith(`${m.mountPath}/`)), `the volume mount holding ${path}`);
  const volume = need(pod.volumes?.find((v) => v.name === mount.name), `volume ${mount.name}`);
  const name = need(volume.configMap?.name, `volume ${mount.name} from a ConfigMap`);
  const configMap = only<IConfigMap>(objectsOf(`${K8S}/overlays/${overlay}`), 'ConfigMap', name);
  return { configMap, text: need(configMap.data?.[path.slice(mount.mountPath.length + 1)], `${path} in ConfigMap ${name}`) };
}

describe('deploy/kubernetes rendered by kustomize', () => {
  it('finds a kustomize that can render the overlays', () => {
    // Not a skip: scripts/ensure-test-tools.sh (the pretest) installs one wherever it can.
    if (kustomize instanceof Error) throw kustomize;
    assert.deepEqual(OVERLAYS, ['shards', 'single', 'us-east']);
  });

  it('renders every overlay and the monitoring objects, without a warning', () => {
    for (const dir of [...OVERLAYS.map((o) => `${K8S}/overlays/${o}`), MONITORING]) {
      const kinds = objectsOf(dir).map((o) => o.kind);
      assert.ok(kinds.length > 0, dir);
    }
    for (const overlay of OVERLAYS) {
      assert.deepEqual(
        objectsOf(`${K8S}/overlays/${overlay}`).map((o) => o.kind).sort(),
        ['ConfigMap', 'Namespace', 'NetworkPolicy', 'PodDisruptionBudget', 'PodMonitor', 'Service', 'ServiceAccount', 'StatefulSet'],
        overlay,
      );
    }
    assert.deepEqual(objectsOf(MONITORING).map((o) => o.kind).sort(), ['ConfigMap', ...rulesFiles(ROOT).map(() => 'PrometheusRule')]);
  });

  it('every object is valid against the Kubernetes API and prometheus-operator CRD schemas', () => {
    for (const dir of [...OVERLAYS.map((o) => `${K8S}/overlays/${o}`), MONITORING]) {
      for (const o of objectsOf(dir)) validate(o);
    }
  });

  it('the schema check bites: a wrong type, a bad quantity, a value off its enum', () => {
    const sts = statefulSet('shards').sts;
    const copy = () => JSON.parse(JSON.stringify(sts)) as IStatefulSet & K8sObject;
    const stringReplicas = copy();
    (stringReplicas.spec as unknown as Record<string, unknown>)['replicas'] = '3';
    assert.throws(() => validate(stringReplicas), /StatefulSet camprobe is not valid: .*replicas must be integer/);
    const badMemory = copy();
    badMemory.spec!.template.spec!.containers[0]!.resources!.limits!['memory'] = 'lots';
    assert.throws(() => validate(badMemory), /memory must match format "quantity"/);
    const monitor = JSON.parse(JSON.stringify(only(objectsOf(`${K8S}/overlays/shards`), 'PodMonitor'))) as IPodMonitor & K8sObject;
    (monitor.spec.podMetricsEndpoints![0] as Record<string, unknown>)['scheme'] = 'gopher';
    assert.throws(() => validate(monitor), /PodMonitor camprobe is not valid: .*scheme must be equal to one of the allowed values/);
    const rule = JSON.parse(JSON.stringify(objectsOf(MONITORING).find((o) => o.kind === 'PrometheusRule'))) as IPrometheusRule & K8sObject;
    delete (rule.spec.groups![0]!.rules![0] as Partial<{ expr: unknown }>).expr;
    assert.throws(() => validate(rule), /PrometheusRule camprobe-rules is not valid: .*must have required property '?expr'?/);
  });

  it('pods run unprivileged, as Pod Security "restricted" requires, and the namespace enforces it', () => {
    for (const overlay of OVERLAYS) {
      const { pod, container } = statefulSet(overlay);
      assert.equal(pod.securityContext?.runAsNonRoot, true, overlay);
      assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault', overlay);
      // The image's USER is the name `node`: the kubelet needs a uid to check runAsNonRoot.
      assert.ok((pod.securityContext?.runAsUser ?? 0) > 0, `${overlay}: runAsUser`);
      assert.equal(pod.automountServiceAccountToken, false, overlay);
      const sc = need(container.securityContext, `${overlay}: container securityContext`);
      assert.equal(sc.allowPrivilegeEscalation, false, overlay);
      assert.equal(sc.readOnlyRootFilesystem, true, overlay);
      assert.deepEqual(sc.capabilities?.drop, ['ALL'], overlay);
      assert.equal(sc.capabilities?.add, undefined, overlay);
      assert.notEqual(sc.privileged, true, overlay);
      const ns = only<INamespace>(objectsOf(`${K8S}/overlays/${overlay}`), 'Namespace');
      assert.equal(ns.metadata?.labels?.['pod-security.kubernetes.io/enforce'], 'restricted', overlay);
      for (const o of objectsOf(`${K8S}/overlays/${overlay}`)) {
        if (o.kind !== 'Namespace') assert.equal(o.metadata.namespace, ns.metadata?.name, `${overlay}: ${o.kind} ${o.metadata.name}`);
      }
    }
  });

  it('the config comes from a ConfigMap named by its content, the secret from a Secret mounted as a directory', () => {
    for (const overlay of OVERLAYS) {
      const { pod, container } = statefulSet(overlay);
      const { configMap, text } = podConfig(overlay);
      // The generator's hash suffix: a changed config is a changed pod template, so a rollout.
      assert.match(configMap.metadata!.name!, /^camprobe-config-[a-z0-9]{10}$/, overlay);
      assert.equal(text, readFileSync(join(ROOT, K8S, 'base/camprobe.yaml'), 'utf8'), overlay);
      const config = parseYaml(text) as { credentials: Record<string, { jwt_secret?: { file?: string }; token?: { file?: string } }> };
      const secretMount = need(container.volumeMounts?.find((m) => m.name === pod.volumes?.find((v) => v.secret)?.name), `${overlay}: secret mount`);
      assert.equal(secretMount.subPath, undefined, `${overlay}: a subPath mount never sees a rotated Secret`);
      assert.equal(secretMount.readOnly, true, overlay);
      for (const [name, credential] of Object.entries(config.credentials)) {
        const file = credential.jwt_secret?.file ?? credential.token?.file;
        assert.ok(file?.startsWith(`${secretMount.mountPath}/`), `${overlay}: credential ${name} reads ${file}, not a file of the Secret`);
      }
      for (const m of container.volumeMounts ?? []) assert.equal(m.readOnly, true, `${overlay}: ${m.name} read-only`);
    }
  });

  it('probes on /healthz and /readyz at the metrics port, and resources as docs/performance.md measured', () => {
    for (const overlay of OVERLAYS) {
      const { container } = statefulSet(overlay);
      const port = need(container.ports?.find((p) => p.name === 'metrics'), `${overlay}: port metrics`);
      assert.equal(port.containerPort, 9464, overlay);
      assert.equal(container.livenessProbe?.httpGet?.path, '/healthz', overlay);
      assert.equal(container.readinessProbe?.httpGet?.path, '/readyz', overlay);
      for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe]) assert.equal(probe?.httpGet?.port, 'metrics', overlay);
      const { requests, limits } = need(container.resources, `${overlay}: resources`);
      assert.deepEqual({ requests, limits }, { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '256Mi' } }, overlay);
    }
  });

  it('N is written once: every overlay runs --shard=auto/N with N its replica count', () => {
    for (const overlay of OVERLAYS) {
      const { spec, container } = statefulSet(overlay);
      assert.equal(shardTotal(container), spec.replicas, overlay);
    }
    assert.equal(statefulSet('single').spec.replicas, 1);
    assert.ok((statefulSet('shards').spec.replicas ?? 0) > 1);
  });

  it('changing the count in overlays/shards changes the replicas and every pod\'s N', () => {
    const dir = mkdtempSync(join(tmpdir(), 'camprobe-k8s-'));
    try {
      // A copy of deploy/kubernetes (kustomize takes no absolute paths), one line changed.
      cpSync(join(ROOT, K8S), dir, { recursive: true });
      const file = join(dir, 'overlays/shards/kustomization.yaml');
      const text = readFileSync(file, 'utf8');
      assert.equal(text.match(/count: \d+/g)?.length, 1, 'one count');
      writeFileSync(file, text.replace(/count: \d+/, 'count: 7'));
      const copy = render(join(dir, 'overlays/shards'));
      const sts = only<IStatefulSet>(copy, 'StatefulSet');
      assert.equal(sts.spec?.replicas, 7);
      assert.equal(shardTotal(sts.spec!.template.spec!.containers[0]!), 7);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the NetworkPolicy lets in only Prometheus on the metrics port, and out only DNS and the camera service ports', () => {
    for (const overlay of OVERLAYS) {
      const objects = objectsOf(`${K8S}/overlays/${overlay}`);
      const policy = only<INetworkPolicy>(objects, 'NetworkPolicy').spec!;
      const { spec } = statefulSet(overlay);
      assert.deepEqual(policy.podSelector.matchLabels, spec.selector.matchLabels, overlay);
      assert.deepEqual(policy.policyTypes, ['Ingress', 'Egress'], overlay);
      assert.deepEqual(policy.ingress, [
        {
          from: [{ namespaceSelector: {}, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } } }],
          ports: [{ protocol: 'TCP', port: 9464 }],
        },
      ]);
      const egress = (policy.egress ?? []).map((rule) => {
        assert.equal(rule.to, undefined, `${overlay}: egress by port (narrow it per site, see networkpolicy.yaml)`);
        return (rule.ports ?? []).map((p) => `${p.protocol}/${p.port}`);
      });
      assert.deepEqual(egress, [['UDP/53', 'TCP/53'], ['TCP/8002', 'TCP/8003']], overlay);
      // Every target the shipped config probes is reachable through it.
      const config = parseYaml(podConfig(overlay).text) as { targets: Array<{ url: string }> };
      for (const t of config.targets) assert.ok(egress[1]!.includes(`TCP/${new URL(t.url).port}`), `${overlay}: ${t.url}`);
    }
  });

  it('the PodMonitor scrapes the metrics port as job="camprobe", the alerts\' job, and a PDB keeps all but one pod', () => {
    const rules = rulesFiles(ROOT).map((f) => readFileSync(join(ROOT, f), 'utf8')).join('\n');
    assert.match(rules, /up\{job="camprobe"\}/);
    for (const overlay of OVERLAYS) {
      const objects = objectsOf(`${K8S}/overlays/${overlay}`);
      const { spec, container } = statefulSet(overlay);
      const podLabels = need(spec.template.metadata?.labels, 'pod labels');
      const monitor = only<IPodMonitor>(objects, 'PodMonitor').spec;
      for (const [k, v] of Object.entries(monitor.selector.matchLabels ?? {})) assert.equal(podLabels[k], v, `${overlay}: PodMonitor selects the pods by ${k}`);
      assert.equal(podLabels[need(monitor.jobLabel, 'jobLabel')], 'camprobe', `${overlay}: job label`);
      const endpoint = need(monitor.podMetricsEndpoints?.[0], 'an endpoint');
      assert.ok(container.ports?.some((p) => p.name === endpoint.port), `${overlay}: endpoint port ${endpoint.port}`);
      assert.equal(endpoint.path, '/metrics');
      assert.deepEqual(monitor.podTargetLabels, ['location']);
      const pdb = only<IPodDisruptionBudget>(objects, 'PodDisruptionBudget').spec!;
      assert.deepEqual(pdb.selector?.matchLabels, spec.selector.matchLabels);
      assert.equal(pdb.maxUnavailable, 1);
      const service = only<IService>(objects, 'Service', spec.serviceName);
      assert.equal(service.spec?.clusterIP, 'None', 'the headless Service of the StatefulSet');
    }
  });

  it('a location overlay: the shards in their own namespace, the location a pod label, none in camprobe.yaml', () => {
    const east = statefulSet('us-east');
    const shards = statefulSet('shards');
    assert.equal(east.spec.template.metadata?.labels?.['location'], 'us-east');
    assert.equal(shards.spec.template.metadata?.labels?.['location'], undefined);
    assert.equal(east.spec.replicas, shards.spec.replicas);
    assert.equal(only<INamespace>(objectsOf(`${K8S}/overlays/us-east`), 'Namespace').metadata?.name, 'camprobe-us-east');
    // Prometheus would rename camprobe's own `location` to exported_location: one place only.
    assert.equal((parseYaml(podConfig('us-east').text) as { location?: string }).location, undefined);
  });
});

describe('deploy/kubernetes/monitoring, generated from the rules and the dashboard', () => {
  it('committed files equal the generator output (regenerate: npm run generate)', () => {
    for (const [path, text] of Object.entries(generate(ROOT))) {
      let committed: string | undefined;
      try {
        committed = readFileSync(join(ROOT, path), 'utf8');
      } catch {
        committed = undefined;
      }
      assert.ok(committed === text, `${path} differs from what scripts/kubernetes-monitoring.ts generates: run \`npm run generate\``);
    }
  });

  it('one PrometheusRule per rules file, holding its groups unchanged, which promtool accepts', () => {
    const objects = objectsOf(MONITORING);
    const dir = mkdtempSync(join(tmpdir(), 'camprobe-k8s-rules-'));
    try {
      for (const file of rulesFiles(ROOT)) {
        const source = parseYaml(readFileSync(join(ROOT, file), 'utf8')) as { groups: unknown[] };
        const name = file.replace(/^.*\//, '').replace(/\.ya?ml$/, '').replace(/\./g, '-');
        const rule = only<IPrometheusRule>(objects, 'PrometheusRule', name);
        assert.deepEqual(rule.spec.groups, source.groups, `${file} → PrometheusRule ${name}`);
        // What the operator hands Prometheus: the groups as a rules file.
        const asFile = join(dir, `${name}.yml`);
        writeFileSync(asFile, JSON.stringify({ groups: rule.spec.groups }));
        const r = spawnSync('promtool', ['check', 'rules', asFile], { encoding: 'utf8' });
        assert.equal(r.error, undefined, 'promtool runs (Debian package prometheus)');
        assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the dashboard ConfigMap holds the dashboard JSON byte for byte, labelled for the Grafana sidecar', () => {
    const cm = only<IConfigMap>(objectsOf(MONITORING), 'ConfigMap', 'camprobe-dashboard');
    assert.deepEqual(Object.keys(cm.data ?? {}), ['camprobe.json']);
    assert.equal(cm.data?.['camprobe.json'], readFileSync(join(ROOT, DASHBOARD_FILE), 'utf8'));
    for (const [k, v] of Object.entries(GRAFANA_DASHBOARD_LABEL)) assert.equal(cm.metadata?.labels?.[k], v);
    // `kubectl apply` keeps a copy in an annotation, which must stay under 256 KiB.
    assert.ok(readFileSync(join(ROOT, DASHBOARD_CONFIGMAP_FILE)).length < 200 * 1024);
    assert.ok(readFileSync(join(ROOT, PROMETHEUS_RULE_FILE)).length < 200 * 1024);
  });
});

describe("each overlay's pods, run as the rendered StatefulSet runs them, against the simulator", () => {
  const dockerfile = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  const runtime = dockerfile.stages.at(-1)!;
  const FLEET = Array.from({ length: 50 }, (_, i) => `k8s-${String(i).padStart(2, '0')}`);
  const children: Array<ChildProcessByStdio<null, Readable, Readable>> = [];
  const dirs: string[] = [];
  after(() => {
    for (const c of children) c.kill('SIGKILL');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  for (const overlay of OVERLAYS) {
    it(`${overlay}: pods 0 … N-1 probe every target, each target by exactly one pod`, { timeout: 60_000 }, async () => {
      const { sts, spec, pod, container } = statefulSet(overlay);
      const replicas = need(spec.replicas, 'replicas');
      const sim = await startSimulator({ jwtSecret: SECRET });
      try {
        // The pod's file system: each volume mount under a temporary root. The ConfigMap's
        // files as rendered, but its targets pointed at the simulator, plus a fleet so that
        // every shard owns some; the Secret's key as `kubectl create secret` makes it.
        const fsRoot = mkdtempSync(join(tmpdir(), `camprobe-k8s-${overlay}-`));
        dirs.push(fsRoot);
        const mounts = need(container.volumeMounts, 'volume mounts');
        const inPod = (path: string): string => (mounts.some((m) => path.startsWith(`${m.mountPath}/`)) ? join(fsRoot, path) : path);
        const targets: Array<{ name: string; probes: string[] }> = [];
        for (const m of mounts) {
          const volume = need(pod.volumes?.find((v) => v.name === m.name), `volume ${m.name}`);
          const dir = join(fsRoot, m.mountPath);
          mkdirSync(dir, { recursive: true });
          if (volume.configMap) {
            const cm = only<IConfigMap>(objectsOf(`${K8S}/overlays/${overlay}`), 'ConfigMap', volume.configMap.name);
            for (const [file, text] of Object.entries(cm.data ?? {})) writeFileSync(join(dir, file), podConfigFile(text, sim.url, inPod, targets));
          } else if (volume.secret) {
            assert.equal(volume.secret.secretName, 'camprobe', 'the Secret the README creates');
            writeFileSync(join(dir, 'jwt_secret'), `${SECRET}\n`);
          } else {
            assert.fail(`volume ${m.name}: neither a ConfigMap nor a Secret`);
          }
        }
        assert.ok(targets.length > FLEET.length, 'the shipped targets and the fleet');

        // The command line the kubelet runs: `command` replaces the image's ENTRYPOINT,
        // `args` its CMD. The image's WORKDIR holds what `npm pack` ships: dist/ here.
        const entrypoint = container.command ?? execForm(one(runtime, 'ENTRYPOINT'));
        const args = container.args ?? execForm(one(runtime, 'CMD'));
        assert.equal(entrypoint[0], 'node');
        const imageEnv = envOf(one(runtime, 'ENV'));

        const pods: Array<{ ordinal: number; log: ChildLog; address: string; child: ChildProcessByStdio<null, Readable, Readable> }> = [];
        for (let ordinal = 0; ordinal < replicas; ordinal++) {
          const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, ...imageEnv, HOSTNAME: `${sts.metadata!.name}-${ordinal}` };
          for (const e of container.env ?? []) {
            if (e.value !== undefined) env[e.name] = e.value;
            else if (e.valueFrom?.fieldRef?.fieldPath === `metadata.labels['${POD_INDEX_LABEL}']`) {
              // Both ways a pod learns its ordinal: even pods as on Kubernetes >= 1.28, which
              // labels them; odd pods as before, where the label, so the variable, is empty.
              env[e.name] = ordinal % 2 === 0 ? String(ordinal) : '';
            } else assert.fail(`env ${e.name}: the test does not know what the kubelet puts there`);
          }
          // The only changes to what a pod gets: loopback, a free port, and a debug log to
          // see each run end.
          Object.assign(env, { CAMPROBE_HOST: '127.0.0.1', CAMPROBE_PORT: '0', CAMPROBE_LOG_LEVEL: 'debug' });
          const child = spawn(process.execPath, [...entrypoint.slice(1), ...args.map(inPod)], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
          children.push(child);
          const log = logLines(child);
          const started = await log.waitFor((l) => l.msg === 'camprobe started');
          assert.equal(started.shard, replicas > 1 ? `${ordinal}/${replicas}` : undefined, `pod ${ordinal}'s shard`);
          pods.push({ ordinal, log, child, address: String(started.address) });
        }

        // Every (target, probe) ends a successful run in some pod; any failure fails at once.
        const ran = (l: LogLine, t: string, p: string) => l.target === t && l.probe === p && l.msg === 'probe run succeeded';
        const failed = pods.map(({ log, ordinal }) =>
          log.waitFor((l) => l.msg === 'probe run failed').then((l) => assert.fail(`pod ${ordinal}: ${JSON.stringify(l)}`)),
        );
        const everyRun = Promise.all(targets.flatMap(({ name, probes }) => probes.map((p) => Promise.any(pods.map(({ log }) => log.waitFor((l) => ran(l, name, p)))))));
        await Promise.race([everyRun, ...failed]);

        const owners = new Map<string, number[]>();
        for (const { ordinal, address, log } of pods) {
          const samples = parseProm(await (await fetch(`${address}/metrics`)).text());
          const mine = [...new Set(select(samples, 'camprobe_probe_success').map((s) => s.labels['target']!))];
          for (const s of select(samples, 'camprobe_probe_success')) assert.equal(s.value, 1, `pod ${ordinal}: ${JSON.stringify(s.labels)}`);
          for (const t of mine) owners.set(t, [...(owners.get(t) ?? []), ordinal]);
          assert.equal(select(samples, 'camprobe_shard_info', { index: String(ordinal), total: String(replicas) }).length, 1, `pod ${ordinal} shard_info`);
          // The split is the documented one, and no pod ran a target it does not own.
          const expected = selectShard(targets, { index: ordinal, total: replicas }).map((t) => t.name);
          assert.deepEqual(mine, expected, `pod ${ordinal}'s targets`);
          for (const l of log.lines) if (typeof l.target === 'string') assert.ok(expected.includes(l.target), `pod ${ordinal} ran ${l.target}`);
          assert.ok(samples.every((s) => s.labels['location'] === undefined), 'the location is the PodMonitor\'s to add');
        }
        assert.deepEqual([...owners.keys()].sort(), targets.map((t) => t.name).sort());
        for (const [t, by] of owners) assert.equal(by.length, 1, `${t} is probed by pods ${by.join(', ')}`);

        for (const { child } of pods) child.kill('SIGTERM');
        for (const { child, ordinal } of pods) {
          const [code] = child.exitCode !== null ? [child.exitCode] : ((await once(child, 'exit')) as [number | null]);
          assert.equal(code, 0, `pod ${ordinal} stops cleanly on SIGTERM`);
        }
      } finally {
        await sim.close();
      }
    });
  }

  /**
   * The pod's camprobe.yaml: as rendered, with each target's URL pointed at the simulator
   * and the fleet added, and paths inside the pod's mounts moved under the temporary root.
   * Collects the targets and their probes in `targets`.
   */
  function podConfigFile(text: string, url: string, inPod: (path: string) => string, targets: Array<{ name: string; probes: string[] }>): string {
    const doc = parseDocument(text);
    visit(doc, {
      Scalar(_key, node) {
        if (typeof node.value === 'string') node.value = inPod(node.value);
      },
    });
    const shipped = (doc.toJS() as { targets: Array<{ name: string; probes?: Array<{ type: string; name?: string }> }> }).targets;
    const all: Array<{ name: string; url: string; probes?: Array<{ type: string; name?: string; interval?: string }> }> = [
      ...shipped.map((t) => ({ ...t, url })),
      ...FLEET.map((name) => ({ name, url, probes: [{ type: 'auth_flow', interval: '1h' }] })),
    ];
    for (const t of all) {
      // Without `probes`, a target runs the three default probes.
      targets.push({ name: t.name, probes: t.probes ? t.probes.map((p) => p.name ?? p.type) : ['auth_flow', 'camera_list', 'protected_rejection'] });
    }
    doc.set('targets', doc.createNode(all));
    return doc.toString();
  }
});
