import { ROLES, type Role } from './schema.js';

/**
 * The role each method needs, as the service documents it. Deployments drift (the API
 * page names `get_recording_info`: viewer in the docs, admin in a real deployment), so a
 * target's `methods` map overrides entries here.
 */
export const DOCUMENTED_METHOD_ROLES: Readonly<Record<string, Role>> = Object.freeze({
  ping: 'viewer',
  get_camera_list: 'viewer',
  get_camera_status: 'viewer',
  list_recordings: 'viewer',
  list_snapshots: 'viewer',
  get_streams: 'viewer',
  get_recording_info: 'viewer',
  take_snapshot: 'operator',
  start_recording: 'operator',
  stop_recording: 'operator',
  delete_recording: 'operator',
  delete_snapshot: 'operator',
  get_metrics: 'admin',
  get_status: 'admin',
  get_server_info: 'admin',
  get_storage_info: 'admin',
  set_retention_policy: 'admin',
  cleanup_old_files: 'admin',
});

/** Methods that change state on the service: never called with credentials that could succeed. */
export const DOCUMENTED_SIDE_EFFECT_METHODS: readonly string[] = Object.freeze([
  'take_snapshot',
  'start_recording',
  'stop_recording',
  'delete_recording',
  'delete_snapshot',
  'set_retention_policy',
  'cleanup_old_files',
]);

const ROLE_RANK: Readonly<Record<Role, number>> = { viewer: 0, operator: 1, admin: 2 };

/** Roles are ordered viewer < operator < admin. */
export function roleRank(role: Role): number {
  return ROLE_RANK[role];
}

/** The role just below `role`, or undefined for the lowest. */
export function roleBelow(role: Role): Role | undefined {
  const rank = ROLE_RANK[role];
  return ROLES.find((r) => ROLE_RANK[r] === rank - 1);
}
