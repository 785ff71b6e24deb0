/**
 * A target's OpenRPC contract checked against every answer its run receives. The first
 * answer that breaks it fails a run that otherwise passed.
 */
import type { TargetConfig } from '../config/types.js';
import { checkAnswers, loadContract, type Contract } from '../contract/openrpc.js';
import type { RpcConnection } from '../rpc/client.js';
import type { Failure } from './classify.js';
import type { StepTimer } from './step-timer.js';

/** One run's check of its target's contract. */
export interface ContractWatch {
  /** The first breach, or the contract being unusable; undefined while all is well. */
  readonly violation: Failure | undefined;
  /** Checks every answer `conn` receives from now on. */
  watch(conn: RpcConnection): void;
}

/** The watch for one run of `target`; undefined when the target has no contract (most runs). */
export function watchContract(target: TargetConfig, steps: StepTimer): ContractWatch | undefined {
  if (!target.contract) return undefined;
  const path = target.contract.openrpc;
  let violation: Failure | undefined;
  let contract: Contract | undefined;
  try {
    contract = loadContract(path);
  } catch (err) {
    // Valid at load; changed since. Every run says so rather than silently not checking.
    violation = { reason: 'internal', detail: `contract ${path} can no longer be used: ${(err as Error).message}` };
  }
  return {
    get violation() {
      return violation;
    },
    watch(conn) {
      if (!contract) return;
      checkAnswers(conn, contract, (detail) => {
        const step = steps.current();
        violation ??= { reason: 'contract_violation', detail, ...(step ? { step } : {}) };
      });
    },
  };
}
