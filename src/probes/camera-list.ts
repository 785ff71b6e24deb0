/**
 * camera_list: `get_camera_list` answers, fast, with a result that keeps its own
 * promises (`total` and `connected` agree with the list). An empty list is healthy.
 */
import { Type, int, type Static } from '../config/schema-parts.js';
import { openSession, describe } from './session.js';
import { defineProbe } from './types.js';
import { ProbeError } from '../core/outcome.js';

const optionsSchema = Type.Object(
  {
    /** Fewer cameras than this fails the run (default 0: an empty service is healthy). */
    min_cameras: int(0, 100000, { default: 0 }),
    /** Fewer connected cameras than this fails the run (default 0). */
    min_connected: int(0, 100000, { default: 0 }),
  },
  { additionalProperties: false },
);

export type CameraListOptions = Static<typeof optionsSchema>;

export const cameraList = defineProbe(optionsSchema, {
  type: 'camera_list',
  description: 'get_camera_list answers with a consistent list of cameras',
  values: {
    cameras: 'Cameras reported by the last successful get_camera_list.',
    cameras_connected: 'Cameras with status CONNECTED in the last successful get_camera_list.',
  },
  async run(ctx) {
    const conn = await openSession(ctx);
    const result = await ctx.step('call', () => conn.call('get_camera_list'));
    const { total, connected } = validateCameraList(result);
    ctx.setValue('cameras', total);
    ctx.setValue('cameras_connected', connected);
    const { min_cameras, min_connected } = ctx.options;
    if (total < min_cameras) {
      throw new ProbeError('invalid_result', `get_camera_list: ${total} cameras, expected at least ${min_cameras}`, { step: 'call' });
    }
    if (connected < min_connected) {
      throw new ProbeError('invalid_result', `get_camera_list: ${connected} connected, expected at least ${min_connected}`, { step: 'call' });
    }
  },
});

/** Checks the documented shape and its internal consistency; returns the counts. */
export function validateCameraList(result: unknown): { total: number; connected: number } {
  const fail = (what: string) => new ProbeError('invalid_result', `get_camera_list: ${what}`, { step: 'call' });
  if (result === null || typeof result !== 'object' || Array.isArray(result)) {
    throw fail(`result is not an object (${describe(result)})`);
  }
  const r = result as Record<string, unknown>;
  if (!Array.isArray(r.cameras)) throw fail(`"cameras" is ${describe(r.cameras)}, expected an array`);
  let connected = 0;
  r.cameras.forEach((camera: unknown, i: number) => {
    if (camera === null || typeof camera !== 'object' || Array.isArray(camera)) {
      throw fail(`cameras[${i}] is not an object`);
    }
    const c = camera as Record<string, unknown>;
    if (typeof c.device !== 'string' || c.device === '') throw fail(`cameras[${i}].device is ${describe(c.device)}, expected a string`);
    if (typeof c.status !== 'string') throw fail(`cameras[${i}].status is ${describe(c.status)}, expected a string`);
    if (c.status === 'CONNECTED') connected++;
  });
  const count = r.cameras.length;
  if (r.total !== count) throw fail(`"total" is ${describe(r.total)} but the list has ${count} cameras`);
  if (r.connected !== connected) throw fail(`"connected" is ${describe(r.connected)} but ${connected} cameras are CONNECTED`);
  return { total: count, connected };
}
