/**
 * Contract validation against an OpenRPC document: every answer a probe receives is
 * checked against what the document declares for the method, its result schema for a
 * result and its declared error codes for an error. Loaded and compiled once per file
 * version; problems with the document itself are reported at config load.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import type { ValidateFunction } from 'ajv';
import type { RpcConnection, RpcResponse } from '../rpc/client.js';
import { schemaMismatch, userSchemaAjv } from './user-schema.js';

/** The standard JSON-RPC errors a method may always answer with. */
const STANDARD_ERRORS = [-32700, -32600, -32601, -32602, -32603];
const MAX_DOCUMENT_BYTES = 4 * 1024 * 1024;
const MAX_METHODS = 1000;

interface MethodContract {
  result?: ValidateFunction;
  /** Declared error codes; undefined when the method declares none (any code accepted). */
  errors?: number[];
}

export interface Contract {
  /** The document's file name, for details. */
  readonly name: string;
  /** How `response` to `method` breaks the contract, or undefined when it keeps it (or the method is not in it). */
  check(method: string, response: RpcResponse): string | undefined;
}

/** The document cannot be used; the message says why (without the path: the caller names the field). */
export class ContractError extends Error {
  readonly code = 'CAMPROBE_ERR_CONTRACT';
}

const cache = new Map<string, { stamp: string; contract: Contract }>();

/** Loads (or reuses, while the file is unchanged) the contract in an OpenRPC JSON file. */
export function loadContract(path: string): Contract {
  let stamp: string;
  let text: string;
  try {
    const st = statSync(path);
    if (st.size > MAX_DOCUMENT_BYTES) throw new ContractError('the document is larger than 4 MiB');
    stamp = `${st.mtimeMs}:${st.size}`;
    const cached = cache.get(path);
    if (cached?.stamp === stamp) return cached.contract;
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof ContractError) throw err;
    throw new ContractError(`cannot read it: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const contract = parseContract(text, basename(path));
  cache.set(path, { stamp, contract });
  return contract;
}

/** Builds a contract from OpenRPC JSON text; throws a ContractError naming the part that is wrong. */
export function parseContract(text: string, name: string): Contract {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ContractError(`is not JSON: ${(err as Error).message.slice(0, 120)}`);
  }
  if (!isObject(doc) || typeof doc.openrpc !== 'string' || !Array.isArray(doc.methods)) {
    throw new ContractError('is not an OpenRPC document (needs "openrpc" and a "methods" list)');
  }
  if (doc.methods.length > MAX_METHODS) throw new ContractError(`has more than ${MAX_METHODS} methods`);
  const components = isObject(doc.components) ? doc.components : {};
  const methods = new Map<string, MethodContract>();
  // One Ajv per document: its compiled schemas go with it when the file is reloaded.
  const ajv = userSchemaAjv();
  doc.methods.forEach((raw: unknown, i: number) => {
    const method = deref(doc, raw, `/methods/${i}`);
    if (!isObject(method) || typeof method.name !== 'string') throw new ContractError(`/methods/${i}: needs a "name"`);
    const entry: MethodContract = {};
    if (method.result !== undefined) {
      const result = deref(doc, method.result, `/methods/${i}/result`);
      if (!isObject(result) || !('schema' in result)) throw new ContractError(`/methods/${i}/result: needs a "schema"`);
      // The schema is compiled inside a root carrying the components, so "#/components/schemas/X" resolves.
      const root = { $id: `openrpc:${name}:${method.name}`, components, allOf: [result.schema] };
      try {
        entry.result = ajv.compile(root);
      } catch (err) {
        throw new ContractError(`/methods/${i}/result/schema (${method.name}): ${(err as Error).message.slice(0, 200)}`);
      }
    }
    if (method.errors !== undefined) {
      if (!Array.isArray(method.errors)) throw new ContractError(`/methods/${i}/errors: must be a list`);
      entry.errors = method.errors.map((e: unknown, j: number) => {
        const error = deref(doc, e, `/methods/${i}/errors/${j}`);
        if (!isObject(error) || !Number.isInteger(error.code)) throw new ContractError(`/methods/${i}/errors/${j}: needs an integer "code"`);
        return error.code as number;
      });
    }
    methods.set(method.name, entry);
  });

  return {
    name,
    check(method, response) {
      const entry = methods.get(method);
      if (!entry) return undefined;
      if (response.ok) {
        if (!entry.result) return undefined;
        const mismatch = schemaMismatch(entry.result, response.result, '/result');
        return mismatch && `${method} answered ${mismatch} (contract ${name})`;
      }
      const { code } = response.error;
      if (!entry.errors || entry.errors.includes(code) || STANDARD_ERRORS.includes(code)) return undefined;
      return `${method} answered /error/code ${code}: must be one of the declared errors ${entry.errors.join(', ')} or a standard JSON-RPC error (contract ${name})`;
    },
  };
}

/**
 * Checks every answer `conn` receives from here on against `contract`, reporting the
 * violations to `onViolation`; the answers themselves reach the probe unchanged.
 */
export function checkAnswers(conn: RpcConnection, contract: Contract, onViolation: (detail: string) => void): void {
  const request = conn.request.bind(conn);
  conn.request = async (method, params) => {
    const response = await request(method, params);
    const violation = contract.check(method, response);
    if (violation) onViolation(violation);
    return response;
  };
}

/** Follows a `{"$ref": "#/..."}` inside the document (one level, as OpenRPC uses them). */
function deref(doc: unknown, value: unknown, at: string): unknown {
  if (!isObject(value) || typeof value.$ref !== 'string') return value;
  const ref = value.$ref;
  if (!ref.startsWith('#/')) throw new ContractError(`${at}: only local references (#/...) are supported, got ${JSON.stringify(ref.slice(0, 80))}`);
  let node: unknown = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    node = isObject(node) && Object.hasOwn(node, key) ? node[key] : Array.isArray(node) ? node[Number(key)] : undefined;
    if (node === undefined) throw new ContractError(`${at}: reference ${ref} points at nothing`);
  }
  return node;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
