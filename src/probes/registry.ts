/**
 * The built-in probe types by name. A new probe type is one file in this folder and one
 * entry here.
 */
import { authFlow } from './auth-flow.js';
import { cameraList } from './camera-list.js';
import { httpProbe } from './http.js';
import { liveSession } from './live-session.js';
import { protectedRejection } from './protected-rejection.js';
import { rpc } from './rpc.js';
import type { AnyProbeDefinition } from './types.js';

export const BUILTIN_PROBES: ReadonlyMap<string, AnyProbeDefinition> = new Map<string, AnyProbeDefinition>([
  [authFlow.type, authFlow],
  [cameraList.type, cameraList],
  [httpProbe.type, httpProbe],
  [protectedRejection.type, protectedRejection],
  [rpc.type, rpc],
  [liveSession.type, liveSession],
]);
