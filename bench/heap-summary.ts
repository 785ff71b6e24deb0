/**
 * Where the memory goes, from two V8 heap snapshots (`npm run bench -- --only fleet
 * --heap-snapshot DIR` writes one of a thousand-target camprobe and one of a one-target
 * camprobe): the self size by node type and constructor in each, and what the larger one
 * adds per target.
 *
 *   node dist/bench/heap-summary.js DIR/fleet-1000.heapsnapshot DIR/one-1.heapsnapshot [targets]
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** Self size (bytes) and count per "type:name" (name only for objects, closures and code). */
function bySelf(path: string): Map<string, { bytes: number; count: number }> {
  const s = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  const fields = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const [iType, iName, iSize] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const out = new Map<string, { bytes: number; count: number }>();
  for (let i = 0; i < s.nodes.length; i += fields.length) {
    const type = types[s.nodes[i + iType!]!] ?? '?';
    const named = type === 'object' || type === 'closure' || type === 'native';
    const key = named ? `${type}:${s.strings[s.nodes[i + iName!]!]}` : type;
    const e = out.get(key) ?? { bytes: 0, count: 0 };
    e.bytes += s.nodes[i + iSize!]!;
    e.count++;
    out.set(key, e);
  }
  return out;
}

const [big = '', small = '', n = '1000'] = process.argv.slice(2);
if (!big || !small) {
  console.error('usage: heap-summary.js BIG.heapsnapshot SMALL.heapsnapshot [targets]');
  process.exit(2);
}
const targets = Number(n) - 1;
const a = bySelf(big);
const b = bySelf(small);
const rows = [...a].map(([k, v]) => {
  const base = b.get(k) ?? { bytes: 0, count: 0 };
  return { k, perTargetB: (v.bytes - base.bytes) / targets, perTargetN: (v.count - base.count) / targets };
});
rows.sort((x, y) => y.perTargetB - x.perTargetB);
const total = rows.reduce((t, r) => t + r.perTargetB, 0);
console.log(`added self size per target: ${(total / 1024).toFixed(1)} KB`);
console.log('bytes/target  objects/target  type:constructor');
for (const r of rows.slice(0, 40)) console.log(`${r.perTargetB.toFixed(0).padStart(12)}  ${r.perTargetN.toFixed(1).padStart(14)}  ${r.k}`);
