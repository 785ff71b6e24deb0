// A probe script: the same interface as camprobe's built-in probes (src/probes/types.ts).
// Loaded at start from probe_scripts_dir (see config/examples/probe-scripts.yaml).
//
// camera_status: every camera get_camera_list reports answers get_camera_status with the
// same status. Catches a service whose list and per-camera views disagree.

/** @type {import('../../../dist/src/probes/types.js').ProbeDefinition<{ max_cameras: number }>} */
export default {
  type: 'camera_status',
  description: 'get_camera_status agrees with get_camera_list for every camera',
  // Validated at config load like the built-ins: defaults applied, unknown keys refused.
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      max_cameras: { type: 'integer', minimum: 1, maximum: 32, default: 8 },
    },
  },
  // Exported as the gauge camprobe_cameras_checked{target}.
  values: { cameras_checked: 'Cameras whose status camera_status compared in its last run.' },

  async run(ctx) {
    // The runner owns this connection: it is closed when the run ends, whatever happens,
    // and its connect/upgrade steps are timed.
    const conn = await ctx.connect();
    const token = await ctx.credentials.valid();
    await ctx.step('authenticate', async () => {
      const auth = await conn.call('authenticate', { auth_token: token });
      if (auth?.authenticated !== true) throw ctx.error('auth_rejected', 'authenticate did not answer authenticated: true');
    });
    const list = await ctx.step('call', () => conn.call('get_camera_list'));
    if (!Array.isArray(list?.cameras)) throw ctx.error('invalid_result', 'get_camera_list: "cameras" is not a list');

    const cameras = list.cameras.slice(0, ctx.options.max_cameras);
    for (const camera of cameras) {
      // conn.call turns an error answer into a classified failure (rpc_error, auth_rejected...).
      const status = await ctx.step('call', () => conn.call('get_camera_status', { device: camera.device }));
      if (status?.status !== camera.status) {
        // Expected failures are thrown as ctx.error(reason, detail); anything else thrown
        // is recorded as a bug in the script (reason "internal") and fails only this run.
        throw ctx.error(
          'invalid_result',
          `${camera.device}: get_camera_status says ${JSON.stringify(status?.status)}, get_camera_list says ${JSON.stringify(camera.status)}`,
        );
      }
    }
    ctx.setValue('cameras_checked', cameras.length);
  },
};
